import { describe, expect, it } from 'vitest';

import { ApiError, errorMessage, OrchestrateClient, queryString, Transport } from '../src/api';

interface Sent {
  path: string;
  init: RequestInit;
}

function fakeServer(status: number, body: string | null, statusText = ''): { transport: Transport; sent: Sent[] } {
  const sent: Sent[] = [];
  const transport: Transport = async (path, init) => {
    sent.push({ path, init });
    return new Response(body, { status, statusText });
  };
  return { transport, sent };
}

async function failure(promise: Promise<unknown>): Promise<ApiError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(ApiError);
    return error as ApiError;
  }
  throw new Error('the request did not fail');
}

describe('OrchestrateClient', () => {
  it('sends JSON and decodes the answer', async () => {
    const { transport, sent } = fakeServer(201, JSON.stringify({ run_id: 'r1', status: 'running' }));
    const run = await new OrchestrateClient(transport).trigger('+daily_report', '2024-01-31');
    expect(run.run_id).toBe('r1');
    expect(sent[0].path).toBe('runs');
    expect(sent[0].init.method).toBe('POST');
    expect(JSON.parse(sent[0].init.body as string)).toEqual({ select: '+daily_report', logical_date: '2024-01-31' });
    expect((sent[0].init.headers as Record<string, string>)['Content-Type']).toBe('application/json');
  });

  it('sends only_changed only when the caller chose it', async () => {
    const { transport, sent } = fakeServer(201, JSON.stringify({ run_id: 'r1', status: 'running' }));
    const client = new OrchestrateClient(transport);
    await client.trigger('ingest_orders', null, null, true);
    await client.trigger('ingest_orders', null, null, false);
    await client.trigger('ingest_orders');
    expect(sent.map(request => JSON.parse(request.init.body as string).only_changed)).toEqual([true, false, undefined]);
  });

  it('encodes path segments and query values, node ids with slashes included', async () => {
    const { transport, sent } = fakeServer(200, '{"attempts": []}');
    const client = new OrchestrateClient(transport);
    await client.logs('run/1', 'notebook.notebooks/daily report', 2);
    expect(sent[0].path).toBe('runs/run%2F1/logs?node=notebook.notebooks%2Fdaily%20report&try=2');
    await client.runs({ status: ['failed', 'cancelled'], limit: 20, offset: 40 });
    expect(sent[1].path).toBe('runs?status=failed&status=cancelled&limit=20&offset=40');
  });

  it("turns the server's error into an ApiError with its message and kind", async () => {
    const message = "selector 'daily_revenu': no node is called 'daily_revenu'; did you mean 'daily_revenue'?";
    const { transport } = fakeServer(400, JSON.stringify({ message, reason: null, error: 'SelectorError' }));
    const error = await failure(new OrchestrateClient(transport).graph('daily_revenu'));
    expect(error.status).toBe(400);
    expect(error.message).toBe(message);
    expect(error.kind).toBe('SelectorError');
  });

  it('says plainly when the user is not allowed', async () => {
    const body = JSON.stringify({ message: 'User is not authorized to execute on resource: orchestrate.' });
    const error = await failure(new OrchestrateClient(fakeServer(403, body).transport).trigger(null));
    expect(error.isForbidden).toBe(true);
    expect(error.message).toBe('not allowed: User is not authorized to execute on resource: orchestrate.');
    const bare = await failure(new OrchestrateClient(fakeServer(403, '{"message": "Forbidden"}').transport).info());
    expect(bare.message).toBe('not allowed: the Jupyter server refused the request (403 Forbidden)');
  });

  it('explains answers that are not JSON', async () => {
    const missing = await failure(new OrchestrateClient(fakeServer(404, '<html>no</html>', 'Not Found').transport).info());
    expect(missing.message).toMatch(/^not found \(404\); is orchestrate-ext installed/);
    const broken = await failure(new OrchestrateClient(fakeServer(502, null, 'Bad Gateway').transport).info());
    expect(broken.message).toBe('the server answered 502 Bad Gateway');
    const odd = await failure(new OrchestrateClient(fakeServer(200, 'plain text').transport).info());
    expect(odd.message).toBe("the server's answer to GET info is not JSON");
  });

  it('reports a server it cannot reach with status 0', async () => {
    const transport: Transport = async () => {
      throw new TypeError('Failed to fetch');
    };
    const error = await failure(new OrchestrateClient(transport).runs());
    expect(error.status).toBe(0);
    expect(error.message).toBe('cannot reach the Jupyter server: Failed to fetch');
  });

  it('tells conflicts apart', async () => {
    const body = JSON.stringify({ message: 'run r1 already ended: success', error: 'Conflict' });
    const error = await failure(new OrchestrateClient(fakeServer(409, body).transport).cancel('r1'));
    expect(error.isConflict).toBe(true);
    expect(error.message).toBe('run r1 already ended: success');
  });
});

describe('helpers', () => {
  it('builds query strings from the defined values only', () => {
    expect(queryString({ a: 1, b: undefined, c: null, d: '', e: ['x', 'y z'] })).toBe('?a=1&e=x&e=y%20z');
    expect(queryString({})).toBe('');
  });

  it('falls back to the status when there is no message', () => {
    expect(errorMessage(500, 'Internal Server Error', { message: 'Unhandled error' })).toBe('Unhandled error');
    expect(errorMessage(500, '', null)).toBe('the server answered 500');
  });
});
