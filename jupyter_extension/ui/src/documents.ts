/**
 * The JSON documents of orchestrate-ext's REST API (`/orchestrate/api/`), as
 * the server writes them; see the README's REST API table.
 */

export type RunStatus = 'queued' | 'running' | 'success' | 'failed' | 'cancelled';

/** A run that has not ended: queued (waiting for max_runs or its schedule's max_active_runs) or running. */
export function unfinished(status: string): boolean {
  return status === 'running' || status === 'queued';
}

export interface AlertRoute {
  name: string;
  on: string[];
  slack?: string | null;
  email: string[];
  match: Record<string, string[]>;
}

export interface Info {
  version: string;
  project: string | null;
  problem: string | null;
  settings_keys: string[];
  injected_parameters: string[];
  alert_routes: AlertRoute[];
  /** The project's `defaults.only_changed`: what a run does when the request does not say. */
  only_changed_default?: boolean;
  timezones: string[];
}

export interface GraphNode {
  id: string;
  kind: string;
  resource_type: string;
  name: string;
  path: string;
  owner: string | null;
  tags: string[];
  depends_on: string[];
  waits_for: string[];
  /** What a plugin says about the node beyond the graph, e.g. a dbt saved query's exports. */
  details?: { exports?: SavedQueryExport[] };
}

/** One export of a dbt saved query: the relation dbt writes it to. */
export interface SavedQueryExport {
  name: string;
  export_as: string | null;
  schema: string | null;
  alias: string | null;
}

export interface SlaMarker {
  kind: 'stale' | 'overdue';
  message: string;
}

export interface NodeState {
  id: string;
  kind: string;
  resource_type: string;
  name: string;
  lab_path: string | null;
  runnable: boolean;
  last_status: string | null;
  last_run_id: string | null;
  last_finished_at: string | null;
  last_success_at: string | null;
  last_success_run_id: string | null;
  /** What is wrong with the node (a reference that does not resolve, invalid metadata); null when healthy. */
  problem?: string | null;
  /** The broken node it waits for, when it is healthy itself but downstream of a broken one. */
  blocked_by?: string | null;
  sla?: Record<string, unknown> | null;
  markers?: SlaMarker[];
}

export interface NodeRecent {
  node_id: string;
  recent: {
    run_id: string;
    status: string;
    created_at: string;
    started_at: string | null;
    finished_at: string | null;
    /** The first lines of the node's error in that run (dbt's node message, the notebook's cell and exception). */
    error_lines?: string[];
  }[];
}

export interface ParameterCellEntry {
  name: string;
  source: string;
  value: unknown;
  plain: boolean;
  help: string;
  injected: boolean;
}

export interface NotebookForm {
  notebook: string;
  node_id: string;
  in_pipeline: boolean;
  /** What is wrong with this notebook in the pipeline now (e.g. a dependency that does not resolve). */
  problem?: string | null;
  /** The notebook whose schedule this one carries (it is a copy): the schedule does not fire until saved. */
  copy_of?: string | null;
  metadata: Record<string, unknown>;
  parameters_cell: ParameterCellEntry[];
  injected_parameters: string[];
}

export interface ScheduleRequest {
  notebook: string;
  cron?: string | null;
  timezone?: string | null;
  parameters?: Record<string, unknown> | null;
  depends_on?: string[] | null;
  owner?: string | null;
  retries?: number | null;
  timeout?: string | null;
  alerts?: Record<string, unknown>[] | null;
  sla?: Record<string, unknown> | null;
}

export interface SavedSchedule {
  notebook: string;
  node_id: string;
  metadata: Record<string, unknown>;
}

export interface Schedule {
  name: string;
  origin: string;
  notebook: string | null;
  target: string | null;
  cron: string | null;
  timezone: string;
  paused: boolean;
  triggers: string[];
  next_fire_times: string[];
  next_fire_at: string | null;
  last_run_id: string | null;
  last_status: string | null;
  last_run_at: string | null;
  /** Why the schedule's target cannot run now (broken, or waiting for a broken node). */
  problem?: string | null;
  /** The notebook whose schedule a copied notebook carries: held, it does not fire. */
  copy_of?: string | null;
  last_tick?: Tick | null;
}

export interface SchedulesList {
  schedules: Schedule[];
}

export interface CronPreview {
  cron: string;
  timezone: string;
  next: string[];
}

export interface RunSummary {
  run_id: string;
  status: RunStatus;
  trigger: string;
  schedule: string | null;
  selection: string | null;
  logical_date: string;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  parameters?: Record<string, unknown>;
  resumed_at?: string | null;
  resumptions?: number;
  /** Tries that failed in this run (also those a retry made good), in the runs list. */
  failed_tries?: number;
  tries?: number;
  /** Whether the run ran only what changed (`--only-changed`) and reused the rest. */
  only_changed?: boolean;
  /** Nodes of the run that reused an earlier result, in the runs list. */
  reused?: number;
  /** First start to end (null until the run ends); the same rule in every view (`runDuration`). */
  duration_seconds?: number | null;
  /** Selected nodes that were not started, and why (broken, or downstream of a broken node). */
  left_out?: { id: string; reason: string }[];
  /** The node whose try failed first and the first lines of its error, in the runs list. */
  failure?: { node_id: string; try_number: number; error_lines: string[] } | null;
}

export interface TriggerResult extends RunSummary {
  /** Selected nodes that were not started, and why (broken, or downstream of a broken node). */
  left_out: { id: string; reason: string }[];
}

export interface Tick {
  tick_id: number;
  schedule: string;
  scheduled_at: string;
  trigger: string;
  status: 'pending' | 'ran' | 'skipped' | 'deduplicated' | string;
  reason: string | null;
  run_id: string | null;
  duplicate_of: string | null;
  created_at: string;
  updated_at: string;
}

export interface BackfillRequest {
  schedule: string;
  start: string;
  end: string;
  parallel: number;
  force?: boolean;
}

export interface BackfillStarted {
  schedule: string;
  dates: number;
  first: string;
  last: string;
  parallel: number;
  pid: number;
  log: string;
}

export interface RunsPage {
  runs: RunSummary[];
  total: number;
  limit: number;
  offset: number;
}

export interface RunNode {
  id: string;
  kind: string;
  status: string;
  attempts: number;
  started_at: string | null;
  finished_at: string | null;
  error: string | null;
  /** The first lines of `error`: the cause, as `orchestrate show` prints it. */
  error_lines?: string[];
  duration_seconds: number | null;
  waiting_for?: string | null;
  /** Why the node ran or was reused, in a run that ran only what changed. */
  reason?: string | null;
  /** The run whose result a `reused` node reuses. */
  reused_from?: string | null;
  fingerprint?: string | null;
}

export interface Attempt {
  node_id: string;
  try_number: number;
  status: string;
  started_at: string;
  finished_at: string | null;
  error: string | null;
  error_lines?: string[];
  duration_seconds: number | null;
  has_log: boolean;
  has_output: boolean;
}

export interface RunDetail extends RunSummary {
  duration_seconds: number | null;
  nodes: RunNode[];
  attempts: Attempt[];
}

export interface AttemptLog {
  try_number: number;
  status: string;
  started_at: string;
  finished_at: string | null;
  error: string | null;
  log: string | null;
  truncated: boolean;
}

export interface NodeLogs {
  run_id: string;
  node_id: string;
  attempts: AttemptLog[];
}

export interface OutputModel {
  name: string;
  path: string;
  type: 'notebook';
  format: 'json';
  mimetype: null;
  content: unknown;
  writable: false;
  created: string;
  last_modified: string;
  size: number;
  run_id: string;
  node_id: string;
  try_number: number;
}

export interface SchedulerStatus {
  running: boolean;
  /** A scheduler started from here has not taken the project's lease yet. */
  starting?: boolean;
  holder: string | null;
  host: string | null;
  pid: number | null;
  detail: string | null;
  command: string;
  started_pid?: number;
  /** running, starting, stopping (it gave up the lease, running nodes finish), stopped or failed. */
  state?: 'running' | 'starting' | 'stopping' | 'stopped' | 'failed';
  /** When the running scheduler took the project's lease. */
  since?: string | null;
  acquired_at?: string | null;
  /** Why it stopped or failed (its last exit). */
  reason?: string | null;
  /** The scheduler's log file, relative to the project folder. */
  log?: string | null;
  /** The last lines of that log, when it failed. */
  log_tail?: string[];
  /** The last exit of a scheduler of this project. */
  last_exit?: { at: string; reason: string; error: boolean; pid: number } | null;
  /** The answer to a stop request. */
  stopping?: boolean;
}

export interface RunFilter {
  status?: RunStatus[];
  trigger?: string;
  schedule?: string;
  limit?: number;
  offset?: number;
}

/** One thing wrong with the project (`GET problems`): what, and the action that fixes it. */
export interface Problem {
  key: string;
  kind: 'broken' | 'left_out' | 'schedule' | 'plugin' | 'warning' | 'project' | string;
  severity: 'error' | 'warning';
  message: string;
  node_id: string | null;
  node_kind?: string | null;
  node_name?: string | null;
  /** The file to open to fix it (Lab path), if any. */
  lab_path: string | null;
  /** A one-click fix (`POST problems/fix`) and its button's label, if a plugin offers one. */
  fix: string | null;
  fix_label: string | null;
}

export interface ProblemsList {
  problems: Problem[];
  count: number;
  /** The folder has no orchestrate.yaml yet: offer "Set up this folder". */
  setup: boolean;
}

/** What `POST setup` (what `orchestrate init` does) wrote and found. */
export interface SetupResult {
  path: string;
  notes: string[];
  nodes: Record<string, number>;
  problem: string | null;
}

/** `GET loading`: whether the graph is being built (and `dbt parse` with it), for how many seconds. */
export interface LoadingState {
  loading: boolean;
  seconds: number;
  dbt: boolean;
}

/** `GET /plan`: what a run would do with each node, without doing it (`orchestrate plan`). */
export interface RunPlan {
  logical_date: string;
  only_changed: boolean;
  nodes: { id: string; action: 'run' | 'reused' | 'left_out' | string; reason: string; reuses_run: string | null }[];
}
