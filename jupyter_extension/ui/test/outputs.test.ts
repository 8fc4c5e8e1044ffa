import { describe, expect, it } from 'vitest';

import { outputPath, parseOutputPath } from '../src/outputs';

describe('output notebook paths', () => {
  it('round-trip a run, a node id with slashes and a try', () => {
    const ref = { runId: '20261121T201435-8aa6ad', nodeId: 'notebook.notebooks/reports/daily', tryNumber: 2 };
    const path = outputPath(ref, 'notebooks/reports/daily');
    expect(path).toBe('20261121T201435-8aa6ad/notebook.notebooks%2Freports%2Fdaily/2/daily.try2.ipynb');
    expect(parseOutputPath(path)).toEqual(ref);
    expect(parseOutputPath('/' + path)).toEqual(ref);
  });

  it('reject anything else', () => {
    expect(parseOutputPath('')).toBeNull();
    expect(parseOutputPath('run/node/notanumber/x.ipynb')).toBeNull();
    expect(parseOutputPath('run/node/1/x/y.ipynb')).toBeNull();
    expect(parseOutputPath('run/%E0%A4%A/1/x.ipynb')).toBeNull();
  });
});
