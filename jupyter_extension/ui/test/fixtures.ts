import { GraphNode, Info, NotebookForm } from '../src/api';

export const INFO: Info = {
  version: '0.1.0',
  project: '.',
  problem: null,
  settings_keys: ['alerts', 'depends_on', 'owner', 'parameters', 'retries', 'schedule', 'sla', 'timeout', 'timezone'],
  injected_parameters: ['logical_date', 'run_id'],
  alert_routes: [],
  timezones: ['Europe/Berlin', 'UTC', 'America/New_York']
};

export const REPORT_FORM: NotebookForm = {
  notebook: 'notebooks/daily_report.ipynb',
  node_id: 'notebook.notebooks/daily_report',
  in_pipeline: true,
  metadata: { depends_on: ['daily_revenue'], owner: 'analytics@example.com', parameters: { top_n: 5 }, resources: ['warehouse'] },
  parameters_cell: [
    { name: 'logical_date', source: '"2024-01-31"', value: '2024-01-31', plain: true, help: '', injected: true },
    { name: 'run_id', source: '"manual"', value: 'manual', plain: true, help: '', injected: true },
    { name: 'warehouse', source: '"../shop.duckdb"', value: '../shop.duckdb', plain: true, help: '', injected: false },
    { name: 'top_n', source: '10', value: 10, plain: true, help: '', injected: false },
    { name: 'today', source: 'dt.date.today()', value: null, plain: false, help: '', injected: false }
  ],
  injected_parameters: ['logical_date', 'run_id']
};

function node(id: string, name: string, resourceType: string, kind = 'dbt'): GraphNode {
  return { id, kind, resource_type: resourceType, name, path: '', owner: null, tags: [], depends_on: [], waits_for: [] };
}

export const GRAPH: GraphNode[] = [
  node('model.shop.daily_revenue', 'daily_revenue', 'model'),
  node('model.shop.orders', 'orders', 'model'),
  node('seed.shop.orders', 'orders', 'seed'),
  node('source.shop.raw.orders', 'raw.orders', 'source', 'source'),
  node('test.shop.not_null_orders_id.abc', 'not_null_orders_id', 'test'),
  node('notebook.notebooks/daily_report', 'notebooks/daily_report', 'notebook', 'notebook'),
  node('notebook.notebooks/ingest_orders', 'notebooks/ingest_orders', 'notebook', 'notebook')
];
