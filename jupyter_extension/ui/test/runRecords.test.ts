import { describe, expect, it } from 'vitest';

import { causeLines, planSummary } from '../src/runRecords';
import { runDuration } from '../src/time';

const NOW = new Date('2026-11-21T12:00:00Z');

describe('runDuration', () => {
  it('counts from the first start to the end, and notes a resumption', () => {
    const retried = { status: 'success', started_at: '2026-11-21T11:50:00Z', finished_at: '2026-11-21T11:51:59Z', resumed_at: '2026-11-21T11:51:40Z', resumptions: 1 };
    expect(runDuration(retried, NOW)).toBe('1 m 59 s · resumed 1×');
    expect(runDuration({ ...retried, resumptions: 0 }, NOW)).toBe('1 m 59 s');
  });

  it('counts to now while the run goes on, and says nothing before it starts', () => {
    expect(runDuration({ status: 'running', started_at: '2026-11-21T11:59:30Z', finished_at: null }, NOW)).toBe('30 s so far');
    expect(runDuration({ status: 'running', started_at: null, finished_at: null }, NOW)).toBe('');
  });
});

describe('causeLines', () => {
  it("takes the server's lines, else the first lines of the error", () => {
    expect(causeLines(['a', 'b'], 'x\ny')).toEqual(['a', 'b']);
    expect(causeLines(undefined, 'Runtime Error\n\n  Parser Error: at ","\n')).toEqual(['Runtime Error', '  Parser Error: at ","']);
    expect(causeLines([], null)).toEqual([]);
  });
});

describe('planSummary', () => {
  it('counts what will run, be reused and be left out', () => {
    const node = (action: string) => ({ id: `n.${action}`, action, reason: '', reuses_run: null });
    expect(planSummary({ logical_date: '', only_changed: true, nodes: [node('run'), node('run'), node('reused'), node('left_out')] })).toBe(
      '2 will run · 1 reused · 1 left out'
    );
    expect(planSummary({ logical_date: '', only_changed: false, nodes: [] })).toBe('nothing to run');
  });
});
