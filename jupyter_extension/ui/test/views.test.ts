import { describe, expect, it } from 'vitest';

import { RunDetail } from '../src/api';
import { drawnStatus, exportLines, lineage, nodeBox, searchNodes, testsByModel, visibleNodes } from '../src/graphModel';
import { runTitle, statusLabel } from '../src/status';
import { timelineRows } from '../src/timeline';
import { checkBackfill, checkRun, logFileName, logicalInstant, nextFire, scheduleLabel, stripAnsi } from '../src/viewModel';
import { GRAPH, REPORT_FORM } from './fixtures';

describe('statuses and titles in words', () => {
  it('labels every status without underscores', () => {
    expect(statusLabel('up_for_retry')).toBe('up for retry');
    expect(statusLabel('upstream_failed')).toBe('upstream failed');
    expect(statusLabel('timed_out')).toBe('timed out');
    expect(statusLabel(null)).toBe('never ran');
  });

  it('names a run by its schedule or selection, not by selector syntax', () => {
    expect(runTitle({ schedule: null, selection: '+notebook.notebooks/daily_report' })).toBe('daily_report and upstream');
    expect(runTitle({ schedule: null, selection: 'model.shop.orders+' })).toBe('orders and downstream');
    expect(runTitle({ schedule: null, selection: 'tag:finance' })).toBe('tag finance');
    expect(runTitle({ schedule: null, selection: 'notebooks/ingest_orders' })).toBe('ingest_orders');
    expect(runTitle({ schedule: null, selection: null })).toBe('whole pipeline');
    expect(runTitle({ schedule: 'notebooks/daily_report', selection: 'x' })).toBe('daily_report');
    expect(runTitle({ schedule: null, selection: 'a b c d e' })).toBe('a, b, c and 2 more');
  });
});

describe('logs', () => {
  it('drops terminal colour codes and titles', () => {
    const raw = '\u001b[0m12:00:03  1 of 3 \u001b[31mERROR\u001b[0m creating \u001b]0;dbt\u0007model\u001b[2K';
    expect(stripAnsi(raw)).toBe('12:00:03  1 of 3 ERROR creating model');
  });

  it('names a downloaded log after its node and try', () => {
    expect(logFileName('notebook.notebooks/daily_report', 2)).toBe('notebooks_daily_report.try2.log');
    expect(logFileName('model.shop.orders', 1)).toBe('model.shop.orders.try1.log');
  });
});

describe('the graph', () => {
  const withEdges = GRAPH.map(node =>
    node.id === 'notebook.notebooks/daily_report'
      ? { ...node, depends_on: ['model.shop.daily_revenue'] }
      : node.id === 'model.shop.daily_revenue'
        ? { ...node, depends_on: ['model.shop.orders'] }
        : node.id.startsWith('test.')
          ? { ...node, depends_on: ['model.shop.orders'] }
          : node
  );

  it('sizes a box for its whole name, on up to three lines', () => {
    const short = nodeBox(withEdges[1]);
    expect([short.width, short.lines]).toEqual([160, 1]);
    const long = nodeBox({ ...withEdges[0], name: 'accepted_values_stg_orders_status__placed__shipped__returned__completed' });
    expect([long.width, long.lines, long.height]).toEqual([260, 3, 79]);
  });

  it('collapses tests into the model they test, with their worst status', () => {
    const states = new Map([['test.shop.not_null_orders_id.abc', { last_status: 'failed' } as never]]);
    expect(visibleNodes(withEdges, false).some(node => node.resource_type === 'test')).toBe(false);
    expect(testsByModel(withEdges, states).get('model.shop.orders')).toEqual({ count: 1, worst: 'failed', failing: ['not_null_orders_id'] });
  });

  it('finds upstream and downstream of a node', () => {
    const family = lineage(withEdges, 'model.shop.daily_revenue');
    expect([...family.upstream]).toEqual(['model.shop.orders']);
    expect([...family.downstream]).toEqual(['notebook.notebooks/daily_report']);
  });

  it('searches names and ids by every word', () => {
    expect(searchNodes(withEdges, 'orders model')).toEqual(['model.shop.orders']);
    expect(searchNodes(withEdges, '  ')).toEqual([]);
  });

  it('draws a broken node as broken whatever its last status', () => {
    expect(drawnStatus(withEdges[0], { problem: 'x', last_status: 'success' } as never)).toBe('broken');
    expect(drawnStatus(withEdges[3], null)).toBe('source');
  });
});

describe('schedules', () => {
  it('shows the next fire time in the browser zone and the schedule zone, both labelled', () => {
    expect(nextFire('2026-11-23T06:00:00Z', 'Europe/Berlin', 'America/New_York')).toBe(
      'Mon 23 Nov 2026, 01:00 GMT-5 (07:00 CET Europe/Berlin)'
    );
    expect(nextFire('2026-11-23T06:00:00Z', 'UTC', 'UTC')).toBe('Mon 23 Nov 2026, 06:00 UTC');
  });

  it('says on the toolbar whether a notebook is scheduled, or a copy', () => {
    expect(scheduleLabel(REPORT_FORM).label).toBe('Schedule');
    expect(scheduleLabel({ ...REPORT_FORM, metadata: { schedule: '0 7 * * *', timezone: 'Europe/Berlin' } })).toMatchObject({
      label: 'Scheduled',
      tooltip: 'Scheduled: At 07:00 (Europe/Berlin). Click to change.'
    });
    expect(scheduleLabel({ ...REPORT_FORM, copy_of: 'notebooks/a.ipynb', metadata: { schedule: '0 7 * * *' } }).label).toBe(
      'Schedule (copy)'
    );
  });
});

describe('run now and backfill forms', () => {
  it('reads the logical date in the browser zone; empty is now', () => {
    expect(logicalInstant('')).toBeNull();
    expect(logicalInstant('2024-01-31T06:00')).toBe('2024-01-31T06:00:00.000Z');
    expect(logicalInstant('yesterday')).toBe('invalid');
  });

  it('sends only the parameters that were changed', () => {
    const form = {
      selection: 'notebook.notebooks/daily_report',
      logicalDate: '',
      parameters: [
        { name: 'top_n', value: '3', initial: '5' },
        { name: 'warehouse', value: '"../shop.duckdb"', initial: '"../shop.duckdb"' }
      ],
      onlyChanged: false
    };
    expect(checkRun(form)).toEqual({ errors: {}, logicalDate: null, parameters: { top_n: 3 }, onlyChanged: false });
    expect(checkRun({ ...form, onlyChanged: true }).onlyChanged).toBe(true);
    expect(checkRun({ ...form, parameters: [{ name: 'top_n', value: 'three', initial: '5' }] }).errors).toEqual({
      'parameter.top_n': 'not JSON: numbers as 5, text in quotes as "text", lists as [1, 2]'
    });
  });

  it('checks a backfill before it is sent', () => {
    const good = { schedule: 'nightly', start: '2024-01-01', end: '2024-01-31', parallel: '2', force: false };
    expect(checkBackfill(good)).toEqual({ errors: {}, request: { schedule: 'nightly', start: '2024-01-01', end: '2024-01-31', parallel: 2, force: false } });
    expect(checkBackfill({ ...good, end: '2023-12-31', parallel: '0' }).errors).toEqual({
      end: 'the last date is before the first; swap them',
      parallel: 'a whole number from 1 to 32'
    });
  });
});

describe('the timeline', () => {
  it('places each try on the run time axis', () => {
    const run = {
      nodes: [{ id: 'model.shop.orders' }, { id: 'notebook.notebooks/daily_report' }],
      attempts: [
        { node_id: 'model.shop.orders', try_number: 1, status: 'success', started_at: '2026-01-01T00:00:00Z', finished_at: '2026-01-01T00:00:10Z' },
        { node_id: 'notebook.notebooks/daily_report', try_number: 1, status: 'failed', started_at: '2026-01-01T00:00:10Z', finished_at: '2026-01-01T00:00:15Z' },
        { node_id: 'notebook.notebooks/daily_report', try_number: 2, status: 'success', started_at: '2026-01-01T00:00:15Z', finished_at: '2026-01-01T00:00:20Z' }
      ]
    } as unknown as RunDetail;
    const { rows, start, end } = timelineRows(run);
    expect((end - start) / 1000).toBe(20);
    expect(rows.map(row => row.nodeId)).toEqual(['model.shop.orders', 'notebook.notebooks/daily_report']);
    expect(rows[1].bars.map(bar => [bar.status, bar.left, bar.width])).toEqual([
      ['failed', 50, 25],
      ['success', 75, 25]
    ]);
  });
});

describe('a saved query card', () => {
  it('lists its exports with the relation dbt writes', () => {
    const saved = {
      ...GRAPH[0],
      id: 'saved_query.shop.revenue_by_day',
      resource_type: 'saved_query',
      details: { exports: [{ name: 'revenue_export', export_as: 'table', schema: 'main', alias: 'revenue_export' }] }
    };
    expect(exportLines(saved)).toEqual(['revenue_export: table main.revenue_export']);
    expect(exportLines({ ...saved, details: { exports: [{ name: 'x', export_as: null, schema: null, alias: null }] } })).toEqual([
      'x: export x'
    ]);
    expect(exportLines(GRAPH[0])).toEqual([]);
  });
});
