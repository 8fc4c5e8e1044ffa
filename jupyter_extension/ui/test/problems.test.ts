import { describe, expect, it } from 'vitest';

import { OrchestrateClient, Transport } from '../src/api';

describe('the Problems API', () => {
  it('asks for the problems, a fix, the setup and the loading state on their routes', async () => {
    const sent: { path: string; init: RequestInit }[] = [];
    const transport: Transport = async (path, init) => {
      sent.push({ path, init });
      return new Response('{}', { status: 200 });
    };
    const client = new OrchestrateClient(transport);
    await client.problems();
    await client.fixProblem('ignore_checkpoints');
    await client.setUp();
    await client.loading();
    expect(sent.map(request => `${request.init.method} ${request.path}`)).toEqual([
      'GET problems',
      'POST problems/fix',
      'POST setup',
      'GET loading'
    ]);
    expect(JSON.parse(sent[1].init.body as string)).toEqual({ fix: 'ignore_checkpoints' });
  });
});
