/**
 * A run's page: what it ran with (parameters, trigger, logical date, Only what
 * changed), its timeline, and each node with every try (times, error, log,
 * output notebook and its HTML download) and, in a run that ran only what
 * changed, why it ran or was reused (with a link to the run whose result a
 * reused node stands for). Failed tries stay listed after a retry succeeds.
 */
import { Button, downloadIcon } from '@jupyterlab/ui-components';
import * as React from 'react';

import { Attempt, OrchestrateClient, RunDetail, RunNode } from './api';
import { ErrorCause } from './cause';
import { unfinished } from './documents';
import { causeLines } from './runRecords';
import { confirm } from './confirm';
import { useAction, usePoll } from './hooks';
import { LogActions, LogView } from './logs';
import { OutputRef } from './outputs';
import { nodeReason, onlyChangedSummary, reasonNamesSource, reasonParts, reusedFrom } from './reuse';
import { runTitle, shortName, StatusBadge } from './status';
import { Timeline } from './timeline';
import { formatDuration, formatTime, runDuration, secondsBetween } from './time';

export interface RunActions extends LogActions {
  client: OrchestrateClient;
  openOutput: (ref: OutputRef, nodeName: string) => void;
  /** The URL that downloads a try's output notebook as HTML. */
  outputHtmlUrl: (ref: OutputRef) => string;
}

function TryLog(props: { actions: RunActions; runId: string; node: RunNode; attempt: Attempt; live: boolean }): JSX.Element {
  const logs = usePoll(
    () => props.actions.client.logs(props.runId, props.node.id, props.attempt.try_number),
    props.live && props.attempt.status === 'running' ? 2000 : null,
    [props.runId, props.node.id, props.attempt.try_number, props.attempt.status]
  );
  if (logs.error) {
    return <div className="jp-Orchestrate-muted">{logs.error}</div>;
  }
  const entry = logs.data?.attempts[0];
  if (!entry) {
    return <div className="jp-Orchestrate-muted">Loading the log…</div>;
  }
  return <LogView actions={props.actions} nodeId={props.node.id} tryNumber={entry.try_number} log={entry.log} truncated={entry.truncated} />;
}

/** Open a try's output notebook in Lab (read-only), or download it as HTML. */
function OutputButtons(props: { actions: RunActions; run: RunDetail; node: RunNode; attempt: Attempt }): JSX.Element {
  const { actions, run, node, attempt } = props;
  const ref = { runId: run.run_id, nodeId: node.id, tryNumber: attempt.try_number };
  return (
    <>
      <Button
        small
        minimal
        className="jp-Orchestrate-openOutput"
        title={`Open the output notebook of try ${attempt.try_number} in Lab (read-only)`}
        onClick={() => actions.openOutput(ref, shortName(node.id))}
      >
        Output
      </Button>
      <a
        className="jp-Orchestrate-linkButton jp-Orchestrate-htmlLink"
        href={actions.outputHtmlUrl(ref)}
        download
        title="Download the output notebook as HTML"
        aria-label={`Download the output of try ${attempt.try_number} as HTML`}
      >
        <downloadIcon.react tag="span" /> HTML
      </a>
    </>
  );
}

function TryItem(props: { actions: RunActions; run: RunDetail; node: RunNode; attempt: Attempt; open: boolean }): JSX.Element {
  const { attempt, node, run, actions } = props;
  const [open, setOpen] = React.useState(props.open);
  React.useEffect(() => {
    if (props.open) {
      setOpen(true);
    }
  }, [props.open]);
  const took = attempt.finished_at ? formatDuration(secondsBetween(attempt.started_at, attempt.finished_at)) : 'running';
  return (
    <li className="jp-Orchestrate-try" data-try={attempt.try_number} data-status={attempt.status}>
      <div className="jp-Orchestrate-nodeLine">
        <span>try {attempt.try_number}</span>
        <StatusBadge status={attempt.status} />
        <span className="jp-Orchestrate-muted">
          {formatTime(attempt.started_at)} · {took}
        </span>
        {attempt.has_log ? (
          <Button small minimal aria-expanded={open} onClick={() => setOpen(!open)}>
            {open ? 'Hide log' : 'Log'}
          </Button>
        ) : null}
        {attempt.has_output ? <OutputButtons actions={actions} run={run} node={node} attempt={attempt} /> : null}
      </div>
      {attempt.error ? (
        <ErrorCause
          client={actions.client}
          openLog={attempt.has_log ? actions.openLog : undefined}
          lines={causeLines(attempt.error_lines, attempt.error)}
          runId={run.run_id}
          nodeId={node.id}
          tryNumber={attempt.try_number}
          tone={attempt.status === 'success' ? 'warned' : 'failed'}
        />
      ) : null}
      {open ? <TryLog actions={actions} runId={run.run_id} node={node} attempt={attempt} live={unfinished(run.status)} /> : null}
    </li>
  );
}

function NodeRow(props: { actions: RunActions; run: RunDetail; node: RunNode; attempts: Attempt[]; openRun: (runId: string) => void }): JSX.Element {
  const { node, attempts, run } = props;
  const [open, setOpen] = React.useState(false);
  const failedTry = attempts.some(attempt => attempt.status !== 'success' && attempt.status !== 'running');
  const showTries = open || attempts.length > 1 || failedTry;
  const output = [...attempts].reverse().find(attempt => attempt.has_output) ?? null;
  const name = shortName(node.id);
  return (
    <li className="jp-Orchestrate-nodeRow" data-node-id={node.id} data-status={node.status}>
      <div className="jp-Orchestrate-nodeLine">
        <StatusBadge status={node.status} />
        <button className="jp-Orchestrate-linkButton" title={`${node.id}: show its tries and log`} aria-expanded={open} onClick={() => setOpen(!open)}>
          {name}
        </button>
        <span className="jp-Orchestrate-muted">
          {formatDuration(node.duration_seconds)}
          {attempts.length > 1 ? ` · ${attempts.length} tries` : ''}
        </span>
        {output ? <OutputButtons actions={props.actions} run={run} node={node} attempt={output} /> : null}
      </div>
      <NodeReason node={node} openRun={props.openRun} />
      {node.waiting_for ? <div className="jp-Orchestrate-muted">{node.waiting_for}</div> : null}
      {node.error && !attempts.some(attempt => attempt.error === node.error) ? (
        <ErrorCause
          client={props.actions.client}
          openLog={attempts.some(attempt => attempt.has_log) ? props.actions.openLog : undefined}
          lines={causeLines(node.error_lines, node.error)}
          runId={run.run_id}
          nodeId={node.id}
          tone={node.status === 'warned' ? 'warned' : 'failed'}
        />
      ) : null}
      {showTries && attempts.length ? (
        <ol className="jp-Orchestrate-tries" aria-label="tries">
          {attempts.map(attempt => (
            <TryItem
              key={attempt.try_number}
              actions={props.actions}
              run={run}
              node={node}
              attempt={attempt}
              open={open && attempt.try_number === attempts[attempts.length - 1].try_number}
            />
          ))}
        </ol>
      ) : null}
    </li>
  );
}

function isTest(node: RunNode): boolean {
  return node.id.startsWith('test.');
}

/** dbt tests are many and small: one line with their counts, expandable. */
function TestsSummary(props: { actions: RunActions; run: RunDetail; openRun: (runId: string) => void }): JSX.Element | null {
  const tests = props.run.nodes.filter(isTest);
  if (!tests.length) {
    return null;
  }
  const counts = new Map<string, number>();
  for (const test of tests) {
    counts.set(test.status, (counts.get(test.status) ?? 0) + 1);
  }
  return (
    <details className="jp-Orchestrate-tests" open={tests.some(test => test.status === 'failed')}>
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
            openRun={props.openRun}
          />
        ))}
      </ul>
    </details>
  );
}

function ReusedFromLink(props: { runId: string; openRun: (runId: string) => void }): JSX.Element {
  return (
    <button
      className="jp-Orchestrate-linkButton jp-Orchestrate-mono jp-Orchestrate-reusedFrom"
      title={`Open run ${props.runId}, whose result this node reuses`}
      onClick={() => props.openRun(props.runId)}
    >
      {props.runId}
    </button>
  );
}

/** A reason with each run id in it a link to that run (`from`: the run a reused node reuses). */
function Reason(props: { text: string; from: string | null; openRun: (runId: string) => void }): JSX.Element {
  return (
    <>
      {reasonParts(props.text).map((part, index) =>
        part.runId === props.from && props.from ? (
          <ReusedFromLink key={index} runId={props.from} openRun={props.openRun} />
        ) : part.runId ? (
          <button key={index} className="jp-Orchestrate-linkButton jp-Orchestrate-mono" title={`Open run ${part.runId}`} onClick={() => props.openRun(part.runId as string)}>
            {part.text}
          </button>
        ) : (
          <React.Fragment key={index}>{part.text}</React.Fragment>
        )
      )}
    </>
  );
}

/** Why the node ran or was reused and, for a reused node, the run whose result it stands for. */
function NodeReason(props: { node: RunNode; openRun: (runId: string) => void }): JSX.Element | null {
  const said = nodeReason(props.node);
  const from = reusedFrom(props.node);
  if (!said && !from) {
    return null;
  }
  return (
    <div className="jp-Orchestrate-nodeReason jp-Orchestrate-muted">
      {said ? (
        <span>
          {said.label}: <Reason text={said.reason} from={from} openRun={props.openRun} />
        </span>
      ) : null}
      {from && !reasonNamesSource(props.node) ? (
        <span>
          {said ? ' · ' : ''}result of run <ReusedFromLink runId={from} openRun={props.openRun} />
        </span>
      ) : null}
    </div>
  );
}

function RunHeader(props: { run: RunDetail }): JSX.Element {
  const { run } = props;
  const onlyChanged = onlyChangedSummary(run);
  const took = run.status === 'running' ? '' : runDuration(run);
  const parameters = Object.entries(run.parameters ?? {});
  return (
    <div className="jp-Orchestrate-runHeader">
      <div className="jp-Orchestrate-nodeLine">
        <StatusBadge status={run.status} />
        <b>{runTitle(run)}</b>
      </div>
      <span>
        {run.trigger}
        {run.schedule ? ` by ${run.schedule}` : ''} · logical date {formatTime(run.logical_date)}
      </span>
      <span className="jp-Orchestrate-muted">
        started {formatTime(run.started_at) || '—'}
        {run.resumptions ? ` · last resumed ${formatTime(run.resumed_at)}` : ''}
        {took ? ` · took ${took}` : ''}
      </span>
      {onlyChanged ? (
        <span className="jp-Orchestrate-onlyChanged" title="This run ran only the nodes whose code or inputs changed since their last success, and reused the others">
          {onlyChanged}
        </span>
      ) : null}
      {run.selection ? <span className="jp-Orchestrate-muted">selection: <code>{run.selection}</code></span> : null}
      {parameters.length ? (
        <table className="jp-Orchestrate-parametersTable" aria-label="parameters">
          <tbody>
            {parameters.map(([name, value]) => (
              <tr key={name}>
                <th scope="row">{name}</th>
                <td>
                  <code>{JSON.stringify(value)}</code>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
    </div>
  );
}

export function RunView(props: {
  actions: RunActions;
  runId: string;
  active: boolean;
  onBack: () => void;
  /** Open another run's page (the run a reused node's result comes from). */
  openRun: (runId: string) => void;
  leftOut?: { id: string; reason: string }[];
}): JSX.Element {
  const { client } = props.actions;
  const [live, setLive] = React.useState(true);
  const [showTests, setShowTests] = React.useState(false);
  const run = usePoll(() => client.run(props.runId), props.active && live ? 1500 : null, [props.runId]);
  const action = useAction();
  const detail = run.data;
  // What the run itself recorded (so a run reopened from the list reads as it did live); until it loads, what the trigger said.
  const leftOut = detail?.left_out ?? props.leftOut ?? [];
  React.useEffect(() => {
    if (detail) {
      setLive(unfinished(detail.status));
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
      {leftOut.length ? (
        <div className="jp-Orchestrate-warning jp-Orchestrate-leftOut" role="status">
          <b>Left out</b> (broken, or waiting for a broken node):
          <ul>
            {leftOut.map(item => (
              <li key={item.id} title={item.reason}>
                {shortName(item.id)}: {item.reason}
              </li>
            ))}
          </ul>
        </div>
      ) : null}
      {detail ? (
        <>
          <RunHeader run={detail} />
          <div className="jp-Orchestrate-toolbar">
            {unfinished(detail.status) ? (
              <Button
                small
                disabled={action.busy}
                onClick={async () => {
                  const ok = await confirm({
                    title: 'Cancel run?',
                    body: `Cancel run ${detail.run_id}: running nodes are stopped and the rest do not start.`,
                    accept: 'Cancel run',
                    reject: 'Keep running',
                    danger: true
                  });
                  if (ok) {
                    await act(() => client.cancel(detail.run_id));
                  }
                }}
              >
                Cancel run
              </Button>
            ) : null}
            {detail.status === 'failed' || detail.status === 'cancelled' ? (
              <Button small disabled={action.busy} onClick={() => act(() => client.retry(detail.run_id))}>
                Retry failed
              </Button>
            ) : null}
            <label className="jp-Orchestrate-inline">
              <input type="checkbox" checked={showTests} onChange={event => setShowTests(event.target.checked)} /> tests in the timeline
            </label>
          </div>
          <Timeline run={detail} showTests={showTests} />
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
                  openRun={props.openRun}
                />
              ))}
          </ul>
          <TestsSummary actions={props.actions} run={detail} openRun={props.openRun} />
        </>
      ) : null}
    </div>
  );
}
