import { describe, expect, it } from 'vitest';

import { GraphNode, NodeState, RunDetail, RunNode } from '../src/api';
import { testsByModel } from '../src/graphModel';
import { nodeReason, onlyChangedSummary, reasonNamesSource, reasonParts, reusedBadge, reusedFrom, reusedTitle } from '../src/reuse';
import { timelineRows } from '../src/timeline';

const FIRST = '20240131T060000-3f9a1c07be';

function node(id: string, status: string, extra: Partial<RunNode> = {}): RunNode {
  return { id, kind: 'notebook', status, attempts: 0, started_at: null, finished_at: null, error: null, duration_seconds: null, ...extra };
}

describe('why a node ran or was reused', () => {
  it('splits the run ids out of a reason, to link them', () => {
    expect(reasonParts(`code unchanged, inputs unchanged since ${FIRST}`)).toEqual([
      { text: 'code unchanged, inputs unchanged since ' },
      { text: FIRST, runId: FIRST }
    ]);
    expect(reasonParts(`it failed after its last success (${FIRST})`)).toEqual([
      { text: 'it failed after its last success (' },
      { text: FIRST, runId: FIRST },
      { text: ')' }
    ]);
    expect(reasonParts('upstream model.shop.orders ran')).toEqual([{ text: 'upstream model.shop.orders ran' }]);
    expect(reasonParts('')).toEqual([]);
  });

  it('labels the reason by what happened to the node', () => {
    const reason = `code unchanged, inputs unchanged since ${FIRST}`;
    expect(nodeReason(node('notebook.a', 'reused', { reason }))).toEqual({ label: 'Reused', reason });
    expect(nodeReason(node('notebook.a', 'success', { reason: 'upstream notebook.b ran' }))).toEqual({ label: 'Ran', reason: 'upstream notebook.b ran' });
    expect(nodeReason(node('notebook.a', 'pending', { reason: 'no earlier success' }))?.label).toBe('Will run');
    expect(nodeReason(node('notebook.a', 'success'))).toBeNull();
    expect(nodeReason(node('notebook.a', 'success', { reason: null }))).toBeNull();
  });

  it('links a reused node, and only a reused node, to the run it reuses', () => {
    expect(reusedFrom(node('notebook.a', 'reused', { reused_from: FIRST }))).toBe(FIRST);
    expect(reusedFrom(node('notebook.a', 'success', { reused_from: FIRST }))).toBeNull();
    expect(reusedFrom(node('notebook.a', 'reused'))).toBeNull();
    const reason = `code unchanged, inputs unchanged since ${FIRST}`;
    expect(reasonNamesSource(node('notebook.a', 'reused', { reused_from: FIRST, reason }))).toBe(true);
    expect(reasonNamesSource(node('notebook.a', 'reused', { reused_from: FIRST, reason: 'reuse: never' }))).toBe(false);
    expect(reasonNamesSource(node('notebook.a', 'reused', { reused_from: '20240101T000000-aa', reason }))).toBe(false);
    expect(reasonNamesSource(node('notebook.a', 'success', { reused_from: FIRST, reason }))).toBe(false);
    expect(reusedTitle(node('notebook.notebooks/ingest', 'reused', { reused_from: FIRST, reason: 'code unchanged' }))).toBe(
      `ingest: reused from run ${FIRST} (code unchanged)`
    );
  });
});

describe('runs that ran only what changed', () => {
  const run = (nodes: RunNode[], onlyChanged: boolean) => ({ only_changed: onlyChanged, nodes, attempts: [] }) as unknown as RunDetail;

  it('says so in the header, with how much it reused', () => {
    const nodes = [node('notebook.a', 'reused'), node('notebook.b', 'success'), node('test.shop.t1', 'reused'), node('test.shop.t2', 'success')];
    expect(onlyChangedSummary(run(nodes, true))).toBe('Only what changed: 1 of 2 nodes reused, 1 of 2 dbt tests reused');
    expect(onlyChangedSummary(run([node('notebook.a', 'reused')], true))).toBe('Only what changed: 1 of 1 node reused');
    expect(onlyChangedSummary(run(nodes, false))).toBeNull();
  });

  it('counts reused nodes in the runs list', () => {
    const summary = { only_changed: true, reused: 3 } as unknown as RunDetail;
    expect(reusedBadge(summary)?.text).toBe('3 reused');
    expect(reusedBadge({ ...summary, reused: 1 })?.title).toMatch(/^1 node not run: its earlier result/);
    expect(reusedBadge({ ...summary, reused: 0 })).toBeNull();
    expect(reusedBadge({ ...summary, reused: undefined })).toBeNull();
  });

  it('marks a reused node in the timeline where the run reused it, among the nodes that ran', () => {
    const detail = {
      only_changed: true,
      nodes: [
        node('notebook.extract', 'reused', { finished_at: '2026-01-01T00:00:00Z', reused_from: FIRST }),
        node('notebook.report', 'success', { started_at: '2026-01-01T00:00:02Z', finished_at: '2026-01-01T00:00:10Z' })
      ],
      attempts: [
        { node_id: 'notebook.report', try_number: 1, status: 'success', started_at: '2026-01-01T00:00:02Z', finished_at: '2026-01-01T00:00:10Z' }
      ]
    } as unknown as RunDetail;
    const { rows, start, end } = timelineRows(detail);
    expect((end - start) / 1000).toBe(10);
    expect(rows.map(row => row.nodeId)).toEqual(['notebook.extract', 'notebook.report']);
    expect(rows[0].bars.map(bar => [bar.status, bar.left, bar.width])).toEqual([['reused', 0, 0.6]]);
    expect(rows[0].bars[0].title).toContain(`reused from run ${FIRST}`);
    expect(rows[1].bars.map(bar => [bar.status, bar.left])).toEqual([['success', 20]]);
  });

  it('draws a run where every node was reused', () => {
    const detail = { nodes: [node('notebook.a', 'reused', { finished_at: '2026-01-01T00:00:00Z' })], attempts: [] } as unknown as RunDetail;
    const { rows } = timelineRows(detail);
    expect(rows.map(row => [row.nodeId, row.bars[0].status])).toEqual([['notebook.a', 'reused']]);
  });

  it('ranks reused tests as good, below success', () => {
    const graph = [
      { id: 'model.shop.orders', resource_type: 'model', depends_on: [] },
      { id: 'test.shop.t1', resource_type: 'test', name: 't1', depends_on: ['model.shop.orders'] },
      { id: 'test.shop.t2', resource_type: 'test', name: 't2', depends_on: ['model.shop.orders'] }
    ] as unknown as GraphNode[];
    const states = (t1: string, t2: string) =>
      new Map([
        ['test.shop.t1', { last_status: t1 } as NodeState],
        ['test.shop.t2', { last_status: t2 } as NodeState]
      ]);
    expect(testsByModel(graph, states('reused', 'reused')).get('model.shop.orders')?.worst).toBe('reused');
    expect(testsByModel(graph, states('reused', 'success')).get('model.shop.orders')?.worst).toBe('success');
    expect(testsByModel(graph, states('reused', 'failed')).get('model.shop.orders')?.worst).toBe('failed');
  });
});
