/**
 * The runs list: live status, filters, paging, a title in words, failed tries
 * that a retry made good, how many nodes were reused (Only what changed), and deleting old runs (with their outputs and logs)
 * after confirmation.
 */
import { Button, deleteIcon, refreshIcon } from '@jupyterlab/ui-components';
import * as React from 'react';

import { OrchestrateClient, RunStatus, RunSummary } from './api';
import { unfinished } from './documents';
import { confirm } from './confirm';
import { useAction, usePoll } from './hooks';
import { reusedBadge } from './reuse';
import { runTitle, StatusBadge } from './status';
import { formatTime, relativeTime, runDuration } from './time';

const PAGE = 20;
const STATUSES: RunStatus[] = ['running', 'success', 'failed', 'cancelled'];
const TRIGGERS = ['manual', 'cron', 'catch-up', 'backfill', 'after', 'file'];

/** The line's tooltip: the run, when it was created and, for a failure, the first lines of its cause. */
export function runLineTitle(run: RunSummary): string {
  const title = `${run.run_id}, created ${formatTime(run.created_at)}, logical date ${formatTime(run.logical_date)}`;
  const failure = run.failure;
  if (!failure || !failure.error_lines.length) {
    return title;
  }
  return `${title}\n${failure.node_id} failed (try ${failure.try_number}):\n${failure.error_lines.join('\n')}`;
}

function RunLine(props: { run: RunSummary; now: Date; selected: boolean; onSelect: (on: boolean) => void; onOpen: () => void }): JSX.Element {
  const { run, now } = props;
  const took = runDuration(run, now);
  const failed = run.failed_tries ?? 0;
  const reused = reusedBadge(run);
  return (
    <li className="jp-Orchestrate-runLine">
      {!unfinished(run.status) ? (
        <input
          type="checkbox"
          aria-label={`select run ${run.run_id}`}
          checked={props.selected}
          onChange={event => props.onSelect(event.target.checked)}
        />
      ) : (
        <span className="jp-Orchestrate-checkboxSpace" />
      )}
      <button className="jp-Orchestrate-listItem" data-run-id={run.run_id} onClick={props.onOpen} title={runLineTitle(run)}>
        <StatusBadge status={run.status} />
        <span className="jp-Orchestrate-runTitle">{runTitle(run)}</span>
        {failed ? (
          <span className="jp-Orchestrate-badge" data-status="retried" title="tries that failed in this run, also those a retry made good">
            {failed} failed {failed === 1 ? 'try' : 'tries'}
          </span>
        ) : null}
        {reused ? (
          <span className="jp-Orchestrate-badge" data-status="reused" title={reused.title}>
            {reused.text}
          </span>
        ) : null}
        <span className="jp-Orchestrate-muted">
          {run.trigger} · {relativeTime(run.created_at, now)}
          {took ? ` · ${took}` : ''}
        </span>
        <span className="jp-Orchestrate-muted jp-Orchestrate-logicalDate" title="the run's logical date: the date its data is for">
          for {formatTime(run.logical_date)}
        </span>
        {run.failure && run.failure.error_lines.length ? (
          <span className="jp-Orchestrate-runCause" title={run.failure.error_lines.join('\n')}>
            {run.failure.error_lines[run.failure.error_lines.length > 1 ? 1 : 0]}
          </span>
        ) : null}
      </button>
    </li>
  );
}

export function RunsList(props: { client: OrchestrateClient; active: boolean; onOpen: (runId: string) => void; version: number }): JSX.Element {
  const { client } = props;
  const [status, setStatus] = React.useState<string>('');
  const [trigger, setTrigger] = React.useState<string>('');
  const [offset, setOffset] = React.useState(0);
  const [selected, setSelected] = React.useState<Set<string>>(new Set());
  const action = useAction();
  const runs = usePoll(
    () => client.runs({ status: status ? [status as RunStatus] : undefined, trigger: trigger || undefined, limit: PAGE, offset }),
    props.active ? 2000 : null,
    [status, trigger, offset, props.version]
  );
  const now = new Date();
  const page = runs.data;
  const finished = (page?.runs ?? []).filter(run => !unfinished(run.status));
  const remove = async () => {
    const ids = [...selected];
    const ok = await confirm({
      title: `Delete ${ids.length} run${ids.length === 1 ? '' : 's'}?`,
      body: `The run${ids.length === 1 ? '' : 's'}, ${ids.length === 1 ? 'its' : 'their'} history, logs and output notebooks are deleted for good. Running runs are kept.`,
      accept: 'Delete',
      danger: true
    });
    if (ok && (await action.run(() => client.deleteRuns(ids)))) {
      setSelected(new Set());
      runs.refresh();
    }
  };
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
          <option value="">Any status</option>
          {STATUSES.map(item => (
            <option key={item} value={item}>
              {item}
            </option>
          ))}
        </select>
        <select
          className="jp-mod-styled"
          aria-label="filter runs by trigger"
          value={trigger}
          onChange={event => {
            setTrigger(event.target.value);
            setOffset(0);
          }}
        >
          <option value="">Any trigger</option>
          {TRIGGERS.map(item => (
            <option key={item} value={item}>
              {item}
            </option>
          ))}
        </select>
        <Button minimal small title="Refresh" aria-label="Refresh the runs" onClick={runs.refresh}>
          <refreshIcon.react tag="span" />
        </Button>
      </div>
      {finished.length ? (
        <div className="jp-Orchestrate-toolbar">
          <label className="jp-Orchestrate-inline">
            <input
              type="checkbox"
              aria-label="select every finished run on this page"
              checked={finished.every(run => selected.has(run.run_id))}
              onChange={event => setSelected(event.target.checked ? new Set(finished.map(run => run.run_id)) : new Set())}
            />{' '}
            all on this page
          </label>
          <Button small minimal disabled={!selected.size || action.busy} onClick={remove} title="Delete the selected runs, with their outputs and logs">
            <deleteIcon.react tag="span" /> Delete{selected.size ? ` ${selected.size}` : ''}…
          </Button>
        </div>
      ) : null}
      {runs.error ? <div className="jp-Orchestrate-serverError">{runs.error}</div> : null}
      {action.error ? (
        <div className="jp-Orchestrate-serverError" role="alert">
          {action.error}
        </div>
      ) : null}
      {page && page.runs.length === 0 ? <div className="jp-Orchestrate-muted jp-Orchestrate-empty">No runs yet.</div> : null}
      <ul className="jp-Orchestrate-list" aria-label="runs">
        {(page?.runs ?? []).map(run => (
          <RunLine
            key={run.run_id}
            run={run}
            now={now}
            selected={selected.has(run.run_id)}
            onSelect={on => {
              const next = new Set(selected);
              if (on) {
                next.add(run.run_id);
              } else {
                next.delete(run.run_id);
              }
              setSelected(next);
            }}
            onOpen={() => props.onOpen(run.run_id)}
          />
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
