/**
 * The client of orchestrate-ext's REST API (`/orchestrate/api/`).
 *
 * It depends on a one-function transport only, so the same code runs against
 * Jupyter's `ServerConnection` in Lab and against a fake in unit tests. Every
 * failure is an `ApiError` carrying the HTTP status and the server's message
 * (the same text the `orchestrate` CLI prints).
 */

import type {
  BackfillRequest,
  BackfillStarted,
  CronPreview,
  GraphNode,
  Info,
  LoadingState,
  NodeLogs,
  NodeRecent,
  NodeState,
  NotebookForm,
  OutputModel,
  ProblemsList,
  RunDetail,
  RunFilter,
  RunPlan,
  RunSummary,
  RunsPage,
  SavedSchedule,
  Schedule,
  ScheduleRequest,
  SchedulerStatus,
  SchedulesList,
  SetupResult,
  Tick,
  TriggerResult
} from './documents';

/** Sends one request to a path under `/orchestrate/api/` and resolves with the response. */
export type Transport = (path: string, init: RequestInit) => Promise<Response>;

export class ApiError extends Error {
  /** HTTP status; 0 when the server could not be reached. */
  readonly status: number;
  /** The server's error class, e.g. `RunNotFound`, when it gave one. */
  readonly kind: string | null;
  /** The request key the error is about (e.g. `cron`), when the server names one. */
  readonly field: string | null;
  /** The message in the field's own words (no file, no key), when the server names a field. */
  readonly detail: string | null;

  constructor(status: number, message: string, kind: string | null = null, field: string | null = null, detail: string | null = null) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.kind = kind;
    this.field = field;
    this.detail = detail;
  }

  get isForbidden(): boolean {
    return this.status === 403;
  }

  get isConflict(): boolean {
    return this.status === 409;
  }
}

export * from './documents';

type Query = Record<string, string | number | string[] | undefined | null>;

/** `?a=1&b=x&b=y` for the defined values, each one encoded. */
export function queryString(query: Query): string {
  const parts: string[] = [];
  for (const [key, value] of Object.entries(query)) {
    if (value === undefined || value === null || value === '') {
      continue;
    }
    const values = Array.isArray(value) ? value : [value];
    for (const item of values) {
      parts.push(`${encodeURIComponent(key)}=${encodeURIComponent(String(item))}`);
    }
  }
  return parts.length ? `?${parts.join('&')}` : '';
}

/** The message to show for a failed request: the server's own when it gave one. */
export function errorMessage(status: number, statusText: string, body: unknown): string {
  const server =
    body && typeof body === 'object' && typeof (body as { message?: unknown }).message === 'string'
      ? ((body as { message: string }).message as string)
      : '';
  if (status === 403) {
    const detail = server && server !== 'Forbidden' ? server : 'the Jupyter server refused the request (403 Forbidden)';
    return `not allowed: ${detail}`;
  }
  if (server) {
    return server;
  }
  if (status === 404) {
    return 'not found (404); is orchestrate-ext installed in the Jupyter server\u2019s environment?';
  }
  return `the server answered ${status}${statusText ? ` ${statusText}` : ''}`;
}

export class OrchestrateClient {
  constructor(private readonly transport: Transport) {}

  /** Send a request; resolve with the decoded JSON answer or reject with an `ApiError`. */
  async request<T>(method: string, path: string, options: { query?: Query; body?: unknown } = {}): Promise<T> {
    const init: RequestInit = { method };
    if (options.body !== undefined) {
      init.body = JSON.stringify(options.body);
      init.headers = { 'Content-Type': 'application/json' };
    }
    let response: Response;
    try {
      response = await this.transport(path + queryString(options.query ?? {}), init);
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      throw new ApiError(0, `cannot reach the Jupyter server: ${reason}`);
    }
    const text = await response.text();
    let data: unknown = undefined;
    if (text) {
      try {
        data = JSON.parse(text);
      } catch {
        data = undefined;
      }
    }
    if (!response.ok) {
      const body = (data && typeof data === 'object' ? data : {}) as { error?: unknown; field?: unknown; detail?: unknown };
      const text = (value: unknown) => (typeof value === 'string' ? value : null);
      throw new ApiError(
        response.status,
        errorMessage(response.status, response.statusText, data),
        text(body.error),
        text(body.field),
        text(body.detail)
      );
    }
    if (data === undefined) {
      throw new ApiError(response.status, `the server's answer to ${method} ${path} is not JSON`);
    }
    return data as T;
  }

  info(): Promise<Info> {
    return this.request('GET', 'info');
  }

  graph(select?: string): Promise<{ nodes: GraphNode[] }> {
    return this.request('GET', 'graph', { query: { select } });
  }

  nodes(): Promise<{ nodes: NodeState[] }> {
    return this.request('GET', 'nodes');
  }

  notebook(path: string): Promise<NotebookForm> {
    return this.request('GET', 'notebook', { query: { path } });
  }

  cronPreview(cron: string, timezone: string, count = 3): Promise<CronPreview> {
    return this.request('GET', 'cron', { query: { cron, timezone, count } });
  }

  schedules(): Promise<SchedulesList> {
    return this.request('GET', 'schedules');
  }

  saveSchedule(request: ScheduleRequest): Promise<SavedSchedule> {
    return this.request('POST', 'schedules', { body: request });
  }

  removeSchedule(notebook: string): Promise<SavedSchedule> {
    return this.request('DELETE', 'schedules', { query: { notebook } });
  }

  setPaused(schedule: string, paused: boolean): Promise<Schedule> {
    return this.request('POST', `schedules/${paused ? 'pause' : 'resume'}`, { body: { schedule } });
  }

  runs(filter: RunFilter = {}): Promise<RunsPage> {
    return this.request('GET', 'runs', {
      query: {
        status: filter.status,
        trigger: filter.trigger,
        schedule: filter.schedule,
        limit: filter.limit,
        offset: filter.offset
      }
    });
  }

  run(runId: string): Promise<RunDetail> {
    return this.request('GET', `runs/${encodeURIComponent(runId)}`);
  }

  trigger(
    select: string | null,
    logicalDate: string | null = null,
    parameters: Record<string, unknown> | null = null,
    onlyChanged: boolean | null = null
  ): Promise<TriggerResult> {
    const body: Record<string, unknown> = { select, logical_date: logicalDate };
    if (parameters && Object.keys(parameters).length) {
      body.parameters = parameters;
    }
    if (onlyChanged !== null) {
      body.only_changed = onlyChanged;
    }
    return this.request('POST', 'runs', { body });
  }

  /** What a run of `select` would run, reuse and leave out (`orchestrate plan`); no side effect. */
  plan(select: string | null, onlyChanged: boolean | null = null, logicalDate: string | null = null): Promise<RunPlan> {
    return this.request('GET', 'plan', {
      query: { select, only_changed: onlyChanged === null ? null : String(onlyChanged), logical_date: logicalDate }
    });
  }

  deleteRuns(runIds: string[]): Promise<{ deleted: string[]; kept: { run_id: string; reason: string }[] }> {
    return this.request('POST', 'runs/delete', { body: { run_ids: runIds } });
  }

  nodeRecent(nodeId: string): Promise<NodeRecent> {
    return this.request('GET', 'nodes/history', { query: { node: nodeId } });
  }

  ticks(schedule: string | null, limit = 50): Promise<{ ticks: Tick[] }> {
    return this.request('GET', 'ticks', { query: { schedule, limit } });
  }

  backfill(request: BackfillRequest): Promise<BackfillStarted> {
    return this.request('POST', 'backfills', { body: request });
  }

  retry(runId: string): Promise<RunSummary> {
    return this.request('POST', `runs/${encodeURIComponent(runId)}/retry`);
  }

  cancel(runId: string): Promise<RunSummary> {
    return this.request('POST', `runs/${encodeURIComponent(runId)}/cancel`);
  }

  logs(runId: string, nodeId: string, tryNumber?: number): Promise<NodeLogs> {
    return this.request('GET', `runs/${encodeURIComponent(runId)}/logs`, { query: { node: nodeId, try: tryNumber } });
  }

  output(runId: string, nodeId: string, tryNumber?: number): Promise<OutputModel> {
    return this.request('GET', `runs/${encodeURIComponent(runId)}/output`, {
      query: { node: nodeId, try: tryNumber }
    });
  }

  scheduler(): Promise<SchedulerStatus> {
    return this.request('GET', 'scheduler');
  }

  startScheduler(): Promise<SchedulerStatus> {
    return this.request('POST', 'scheduler');
  }

  /** Ask the running scheduler to stop (it lets running nodes finish). */
  stopScheduler(): Promise<SchedulerStatus> {
    return this.request('DELETE', 'scheduler');
  }

  /** Everything wrong with the project, each with its fix (the checks of `orchestrate validate`). */
  problems(): Promise<ProblemsList> {
    return this.request('GET', 'problems');
  }

  /** Do a one-click fix a problem offers (e.g. `ignore_checkpoints`); says what was done. */
  fixProblem(fix: string): Promise<{ fix: string; done: string }> {
    return this.request('POST', 'problems/fix', { body: { fix } });
  }

  /** Write orchestrate.yaml for the folder, as `orchestrate init` does; what it found. */
  setUp(): Promise<SetupResult> {
    return this.request('POST', 'setup', { body: {} });
  }

  /** Whether the graph is being built now (dbt parsing), and for how many seconds. */
  loading(): Promise<LoadingState> {
    return this.request('GET', 'loading');
  }
}
