/**
 * The scheduler's banner at the top of the panel: running (since when, which
 * process) with Stop, which asks first; starting and stopping while they
 * happen; stopped with Start; failed with the reason, the last lines of its
 * log and Start again. A Start that fails never just reverts: the reason shows.
 */
import { Button } from '@jupyterlab/ui-components';
import * as React from 'react';

import { OrchestrateClient } from './api';
import { confirm } from './confirm';
import { useAction, usePoll } from './hooks';
import { Pending, pollInterval, schedulerState, settled } from './schedulerState';
import { formatTime } from './time';

export function SchedulerBanner(props: { client: OrchestrateClient; active: boolean }): JSX.Element | null {
  const action = useAction();
  const [pending, setPending] = React.useState<Pending>(null);
  const [interval, setInterval] = React.useState(10000);
  const status = usePoll(() => props.client.scheduler(), props.active ? interval : null, [interval]);
  const data = status.data;
  const state = data ? schedulerState(data, pending) : null;
  React.useEffect(() => {
    if (data && pending && settled(data, pending)) {
      setPending(null);
    }
    if (state) {
      setInterval(pollInterval(state));
    }
  }, [data, pending, state]);
  const start = async () => {
    setPending('starting');
    await action.run(() => props.client.startScheduler());
    setPending(null);
    status.refresh();
  };
  const stop = async () => {
    const ok = await confirm({
      title: 'Stop the scheduler?',
      body:
        'Schedules will not fire until a scheduler runs again. Nodes that are running now finish first ' +
        '(within its grace time); no new run starts.',
      accept: 'Stop scheduler',
      danger: true
    });
    if (!ok) {
      return;
    }
    setPending('stopping');
    if (!(await action.run(() => props.client.stopScheduler()))) {
      setPending(null);
    }
    status.refresh();
  };
  if (status.error) {
    return (
      <div className="jp-Orchestrate-nodeError" role="status" aria-label="scheduler status" data-state="unknown">
        The scheduler's state cannot be read: {status.error}
      </div>
    );
  }
  if (!data || !state) {
    return null;
  }
  const error = action.error ? (
    <div className="jp-Orchestrate-serverError" role="alert">
      {action.error}
    </div>
  ) : null;
  if (state === 'running') {
    const since = data.since ?? data.acquired_at;
    return (
      <div className="jp-Orchestrate-schedulerOk" role="status" aria-label="scheduler status" data-state={state}>
        <div className="jp-Orchestrate-nodeLine">
          <span>
            <span className="jp-Orchestrate-dot" data-status="success" /> <b>Scheduler running</b>
            {since ? ` since ${formatTime(since)}` : ''} ({data.detail}): schedules fire even when Lab is closed.
          </span>
          <Button small disabled={action.busy} onClick={stop}>
            Stop scheduler
          </Button>
        </div>
        {error}
      </div>
    );
  }
  if (state === 'starting' || state === 'stopping') {
    return (
      <div className="jp-Orchestrate-warning" role="status" aria-label="scheduler status" data-state={state}>
        <span className="jp-Orchestrate-spinner" aria-hidden="true" />{' '}
        {state === 'starting'
          ? `Starting the scheduler… ${data.detail ?? ''}`
          : 'Stopping the scheduler… nodes that are running finish first.'}
        {error}
      </div>
    );
  }
  const failed = state === 'failed';
  return (
    <div
      className={failed ? 'jp-Orchestrate-nodeError' : 'jp-Orchestrate-warning'}
      role="status"
      aria-label="scheduler status"
      data-state={state}
    >
      <div className="jp-Orchestrate-nodeLine">
        <span>
          {failed ? (
            <>
              <b>The scheduler failed</b>: {(data.reason ?? data.detail ?? '').replace(/\.$/, '')}. Schedules will not fire.
            </>
          ) : (
            <>
              <b>No scheduler is running for this project</b>: schedules will not fire.
            </>
          )}
        </span>
        <Button small disabled={action.busy} onClick={start}>
          {failed ? 'Start again' : 'Start scheduler'}
        </Button>
      </div>
      {failed && data.log_tail && data.log_tail.length ? (
        <>
          <div className="jp-Orchestrate-muted">The last lines of its log ({data.log}):</div>
          <pre className="jp-Orchestrate-log" tabIndex={0} aria-label="the scheduler's log">
            {data.log_tail.join('\n')}
          </pre>
        </>
      ) : null}
      <div className="jp-Orchestrate-muted" title={data.command}>
        {!failed && data.reason && data.last_exit ? `It stopped at ${formatTime(data.last_exit.at)}: ${data.reason.replace(/\.$/, '')}. ` : ''}
        It runs on its own and keeps running when Lab stops; or run <code>orchestrate scheduler</code> in the project
        folder under systemd or cron.
      </div>
      {error}
    </div>
  );
}
