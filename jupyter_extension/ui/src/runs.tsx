/** The runs list (live status, filter, paging) and one run's view (nodes, durations, logs, outputs). */
import { Button, refreshIcon } from '@jupyterlab/ui-components';
import * as React from 'react';

import { Attempt, OrchestrateClient, RunDetail, RunNode, RunStatus, RunSummary } from './api';
import { useAction, usePoll } from './hooks';
import { OutputRef } from './outputs';
import { formatDuration, formatTime, relativeTime } from './time';

export interface RunActions {
  client: OrchestrateClient;
  openOutput: (ref: OutputRef, nodeName: string) => void;
}

const PAGE = 20;
const STATUSES: RunStatus[] = ['running', 'success', 'failed', 'cancelled'];

export function StatusBadge(props: { status: string | null | undefined }): JSX.Element {
  const status = props.status ?? 'none';
  return (
    <span className="jp-Orchestrate-badge" data-status={status}>
      {status.replace('_', ' ')}
    </span>
  );
}

function duration(run: RunSummary, now: Date): string {
  if (!run.started_at) {
    return '';
  }
  const end = run.finished_at ? new Date(run.finished_at) : now;
  return formatDuration((end.getTime() - new Date(run.started_at).getTime()) / 1000);
}

export function RunsList(props: {
  actions: RunActions;
  active: boolean;
  onOpen: (runId: string) => void;
  version: number;
}): JSX.Element {
  const { client } = props.actions;
  const [status, setStatus] = React.useState<string>('');
  const [offset, setOffset] = React.useState(0);
  const runs = usePoll(
    () => client.runs({ status: status ? [status as RunStatus] : undefined, limit: PAGE, offset }),
    props.active ? 2000 : null,
    [status, offset, props.version]
  );
  const now = new Date();
  const page = runs.data;
  return (
    <div className="jp-Orchestrate-runs">
      <div className="jp-Orchestrate-toolbar">
        <select
          className="jp-mod-styled"
          aria-label="filter runs by status"
          value={status}
          onChange={event => {
            setStatus(event.target.value);
            setOffset(0);
          }}
        >
          <option value="">All runs</option>
          {STATUSES.map(item => (
            <option key={item} value={item}>
              {item}
            </option>
          ))}
        </select>
        <Button minimal small title="Refresh" onClick={runs.refresh}>
          <refreshIcon.react tag="span" />
        </Button>
      </div>
      {runs.error ? <div className="jp-Orchestrate-serverError">{runs.error}</div> : null}
      {page && page.runs.length === 0 ? <div className="jp-Orchestrate-muted jp-Orchestrate-empty">No runs yet.</div> : null}
      <ul className="jp-Orchestrate-list" aria-label="runs">
        {(page?.runs ?? []).map(run => (
          <li key={run.run_id}>
            <button className="jp-Orchestrate-listItem" data-run-id={run.run_id} onClick={() => props.onOpen(run.run_id)}>
              <StatusBadge status={run.status} />
              <span className="jp-Orchestrate-runTitle">{run.schedule ?? run.selection ?? 'all nodes'}</span>
              <span className="jp-Orchestrate-muted">
                {run.trigger} · {relativeTime(run.created_at, now)} {duration(run, now) ? `· ${duration(run, now)}` : ''}
              </span>
            </button>
          </li>
        ))}
      </ul>
      {page && page.total > PAGE ? (
        <div className="jp-Orchestrate-pager">
          <Button small minimal disabled={offset === 0} onClick={() => setOffset(Math.max(0, offset - PAGE))}>
            Newer
          </Button>
          <span className="jp-Orchestrate-muted">
            {offset + 1}–{Math.min(offset + PAGE, page.total)} of {page.total}
          </span>
          <Button small minimal disabled={offset + PAGE >= page.total} onClick={() => setOffset(offset + PAGE)}>
            Older
          </Button>
        </div>
      ) : null}
    </div>
  );
}

function NodeLog(props: { client: OrchestrateClient; runId: string; node: RunNode; live: boolean }): JSX.Element {
  const logs = usePoll(() => props.client.logs(props.runId, props.node.id), props.live ? 2000 : null, [
    props.runId,
    props.node.id,
    props.node.attempts
  ]);
  if (logs.error) {
    return <div className="jp-Orchestrate-muted">{logs.error}</div>;
  }
  return (
    <div className="jp-Orchestrate-logs">
      {(logs.data?.attempts ?? []).map(attempt => (
        <details key={attempt.try_number} open={attempt.try_number === props.node.attempts}>
          <summary>
            try {attempt.try_number}: {attempt.status}
            {attempt.truncated ? ' (last 512 KiB)' : ''}
          </summary>
          <pre className="jp-Orchestrate-log">{attempt.log ?? '(no log file)'}</pre>
        </details>
      ))}
    </div>
  );
}

function NodeRow(props: {
  actions: RunActions;
  run: RunDetail;
  node: RunNode;
  attempts: Attempt[];
  live: boolean;
}): JSX.Element {
  const { node, attempts } = props;
  const [open, setOpen] = React.useState(false);
  const outputs = attempts.filter(attempt => attempt.has_output);
  const name = node.id.split('.').slice(node.kind === 'notebook' ? 1 : 2).join('.') || node.id;
  return (
    <li className="jp-Orchestrate-nodeRow" data-node-id={node.id} data-status={node.status}>
      <div className="jp-Orchestrate-nodeLine">
        <StatusBadge status={node.status} />
        <button className="jp-Orchestrate-linkButton" title={`${node.id}: show the log`} onClick={() => setOpen(!open)}>
          {name}
        </button>
        <span className="jp-Orchestrate-muted">
          {formatDuration(node.duration_seconds)}
          {node.attempts > 1 ? ` · ${node.attempts} tries` : ''}
        </span>
        {outputs.map(attempt => (
          <Button
            key={attempt.try_number}
            small
            minimal
            className="jp-Orchestrate-openOutput"
            title="Open the output notebook of this try in Lab"
            onClick={() =>
              props.actions.openOutput({ runId: props.run.run_id, nodeId: node.id, tryNumber: attempt.try_number }, name)
            }
          >
            Output{outputs.length > 1 ? ` ${attempt.try_number}` : ''}
          </Button>
        ))}
      </div>
      {node.error ? <div className="jp-Orchestrate-nodeError">{node.error.split('\n')[0]}</div> : null}
      {open ? <NodeLog client={props.actions.client} runId={props.run.run_id} node={node} live={props.live} /> : null}
    </li>
  );
}

function isTest(node: RunNode): boolean {
  return node.id.startsWith('test.');
}

/** dbt tests are many and small: one line with their counts, expandable. */
function TestsSummary(props: { actions: RunActions; run: RunDetail }): JSX.Element | null {
  const tests = props.run.nodes.filter(isTest);
  if (!tests.length) {
    return null;
  }
  const counts = new Map<string, number>();
  for (const test of tests) {
    counts.set(test.status, (counts.get(test.status) ?? 0) + 1);
  }
  const failing = tests.some(test => test.status === 'failed');
  return (
    <details className="jp-Orchestrate-tests" open={failing}>
      <summary>
        {tests.length} dbt tests:{' '}
        {[...counts.entries()].map(([status, count]) => (
          <span key={status}>
            <StatusBadge status={status} /> {count}{' '}
          </span>
        ))}
      </summary>
      <ul className="jp-Orchestrate-list">
        {tests.map(node => (
          <NodeRow
            key={node.id}
            actions={props.actions}
            run={props.run}
            node={node}
            attempts={props.run.attempts.filter(attempt => attempt.node_id === node.id)}
            live={props.run.status === 'running'}
          />
        ))}
      </ul>
    </details>
  );
}

export function RunView(props: { actions: RunActions; runId: string; active: boolean; onBack: () => void }): JSX.Element {
  const { client } = props.actions;
  const [live, setLive] = React.useState(true);
  const run = usePoll(() => client.run(props.runId), props.active && live ? 1500 : null, [props.runId]);
  const action = useAction();
  const detail = run.data;
  React.useEffect(() => {
    if (detail) {
      setLive(detail.status === 'running');
    }
  }, [detail?.status]);
  const act = async (work: () => Promise<unknown>) => {
    if (await action.run(work)) {
      setLive(true);
      run.refresh();
    }
  };
  return (
    <div className="jp-Orchestrate-runView" data-run-id={props.runId}>
      <div className="jp-Orchestrate-toolbar">
        <Button small minimal onClick={props.onBack}>
          ← Runs
        </Button>
        <span className="jp-Orchestrate-runId">{props.runId}</span>
      </div>
      {run.error ? <div className="jp-Orchestrate-serverError">{run.error}</div> : null}
      {action.error ? (
        <div className="jp-Orchestrate-serverError" role="alert">
          {action.error}
        </div>
      ) : null}
      {detail ? (
        <>
          <div className="jp-Orchestrate-runHeader">
            <StatusBadge status={detail.status} />
            <span>
              {detail.trigger}
              {detail.schedule ? ` by ${detail.schedule}` : ''} · logical date {formatTime(detail.logical_date)}
            </span>
            <span className="jp-Orchestrate-muted">
              started {formatTime(detail.started_at) || '—'}
              {detail.duration_seconds !== null ? ` · took ${formatDuration(detail.duration_seconds)}` : ''}
            </span>
          </div>
          <div className="jp-Orchestrate-toolbar">
            {detail.status === 'running' ? (
              <Button small disabled={action.busy} onClick={() => act(() => client.cancel(detail.run_id))}>
                Cancel run
              </Button>
            ) : null}
            {detail.status === 'failed' || detail.status === 'cancelled' ? (
              <Button small disabled={action.busy} onClick={() => act(() => client.retry(detail.run_id))}>
                Retry failed
              </Button>
            ) : null}
          </div>
          <ul className="jp-Orchestrate-list" aria-label="nodes of the run">
            {detail.nodes
              .filter(node => !isTest(node))
              .map(node => (
                <NodeRow
                  key={node.id}
                  actions={props.actions}
                  run={detail}
                  node={node}
                  attempts={detail.attempts.filter(attempt => attempt.node_id === node.id)}
                  live={detail.status === 'running'}
                />
              ))}
          </ul>
          <TestsSummary actions={props.actions} run={detail} />
        </>
      ) : null}
    </div>
  );
}
