/**
 * The schedules tab: every schedule with its next fire time (in the browser's
 * zone and the schedule's own, both labelled), last status, what keeps it from
 * running (a broken notebook, a copy that does not fire), pause, unschedule
 * (asks first), backfill, and its ticks: ran, skipped with the reason, or
 * deduplicated.
 */
import { Notification } from '@jupyterlab/apputils';
import { Button, refreshIcon } from '@jupyterlab/ui-components';
import * as React from 'react';

import { OrchestrateClient, Schedule, Tick } from './api';
import { backfillDialog } from './backfill';
import { confirm } from './confirm';
import { describeCron } from './cron';
import { useAction, usePoll } from './hooks';
import { StatusBadge, statusLabel } from './status';
import { formatTime, localZone, relativeTime } from './time';
import { nextFire } from './viewModel';

export interface ScheduleActions {
  client: OrchestrateClient;
  scheduleNotebook: (labPath: string) => void;
  openRun: (runId: string) => void;
  /** Show the runs a backfill creates. */
  showBackfillRuns: () => void;
}

function TickLine(props: { tick: Tick; openRun: (runId: string) => void }): JSX.Element {
  const { tick } = props;
  const why = tick.status === 'deduplicated' && tick.duplicate_of ? `same as ${tick.duplicate_of}` : tick.reason;
  return (
    <li className="jp-Orchestrate-tick" data-status={tick.status}>
      <StatusBadge status={tick.status} />
      <span>{formatTime(tick.scheduled_at)}</span>
      <span className="jp-Orchestrate-muted">{tick.trigger}</span>
      {tick.run_id ? (
        <button className="jp-Orchestrate-linkButton" onClick={() => props.openRun(tick.run_id as string)}>
          run {tick.run_id}
        </button>
      ) : null}
      {why ? <span className="jp-Orchestrate-muted">{why}</span> : null}
    </li>
  );
}

/** The ticks of one schedule: one per fire time (or event) and what became of it. */
export function TicksView(props: { client: OrchestrateClient; schedule: string; openRun: (runId: string) => void; active: boolean }): JSX.Element {
  const ticks = usePoll(() => props.client.ticks(props.schedule, 20), props.active ? 10000 : null, [props.schedule]);
  const list = ticks.data?.ticks ?? [];
  return (
    <div className="jp-Orchestrate-ticks">
      {ticks.error ? <div className="jp-Orchestrate-serverError">{ticks.error}</div> : null}
      {ticks.data && !list.length ? (
        <div className="jp-Orchestrate-muted">No ticks yet: the scheduler records one at each fire time.</div>
      ) : null}
      <ol className="jp-Orchestrate-list" aria-label={`ticks of ${props.schedule}`}>
        {list.map(tick => (
          <TickLine key={tick.tick_id} tick={tick} openRun={props.openRun} />
        ))}
      </ol>
    </div>
  );
}

function ScheduleItem(props: { actions: ScheduleActions; schedule: Schedule; all: Schedule[]; onChange: () => void; active: boolean }): JSX.Element {
  const { schedule, actions } = props;
  const action = useAction();
  const [showTicks, setShowTicks] = React.useState(false);
  const now = new Date();
  const description = schedule.cron ? describeCron(schedule.cron) : '';
  const change = async (work: () => Promise<unknown>) => {
    if (await action.run(work)) {
      props.onChange();
    }
  };
  const copy = schedule.copy_of;
  return (
    <li className="jp-Orchestrate-schedule" data-schedule={schedule.name} data-paused={schedule.paused} data-copy={copy ? 'true' : undefined}>
      <div className="jp-Orchestrate-nodeLine">
        <b className="jp-Orchestrate-runTitle">{schedule.name}</b>
        {copy ? (
          <span className="jp-Orchestrate-badge" data-status="held">
            not firing
          </span>
        ) : schedule.paused ? (
          <span className="jp-Orchestrate-badge" data-status="paused">
            paused
          </span>
        ) : null}
        {schedule.problem ? <StatusBadge status="broken" /> : null}
        {schedule.last_status ? <StatusBadge status={schedule.last_status} title="status of its last run" /> : null}
      </div>
      <div className="jp-Orchestrate-muted">
        {schedule.cron
          ? `${description || schedule.cron} (${schedule.timezone})`
          : `triggered by ${schedule.triggers.join(', ') || 'nothing yet'}`}
      </div>
      {copy ? (
        <div className="jp-Orchestrate-warning">
          A copy of {copy}: its schedule does not fire until you confirm it in the Schedule dialog.
        </div>
      ) : (
        <div className="jp-Orchestrate-next">
          next:{' '}
          {schedule.paused
            ? 'paused'
            : schedule.next_fire_at
              ? `${nextFire(schedule.next_fire_at, schedule.timezone)}, ${relativeTime(schedule.next_fire_at, now)}`
              : '—'}
          {schedule.last_run_at ? ` · last run ${relativeTime(schedule.last_run_at, now)}` : ''}
        </div>
      )}
      {schedule.problem ? <div className="jp-Orchestrate-nodeError">{schedule.problem}</div> : null}
      <div className="jp-Orchestrate-toolbar">
        {copy ? null : (
          <Button small minimal disabled={action.busy} onClick={() => change(() => actions.client.setPaused(schedule.name, !schedule.paused))}>
            {schedule.paused ? 'Resume' : 'Pause'}
          </Button>
        )}
        {schedule.notebook ? (
          <>
            <Button small minimal onClick={() => actions.scheduleNotebook(schedule.notebook as string)}>
              {copy ? 'Confirm…' : schedule.problem ? 'Fix…' : 'Edit'}
            </Button>
            <Button
              small
              minimal
              disabled={action.busy}
              onClick={async () => {
                const ok = await confirm({
                  title: `Unschedule ${schedule.name}?`,
                  body: `The schedule is removed from ${schedule.notebook}'s metadata; it stops firing. Its runs stay in the history.`,
                  accept: 'Unschedule',
                  danger: true
                });
                if (ok) {
                  await change(() => actions.client.removeSchedule(schedule.notebook as string));
                }
              }}
            >
              Unschedule
            </Button>
          </>
        ) : null}
        {schedule.cron && !copy ? (
          <Button
            small
            minimal
            onClick={async () => {
              const started = await backfillDialog(actions.client, props.all, schedule.name).catch(error => {
                void Notification.error(error instanceof Error ? error.message : String(error));
                return null;
              });
              if (started) {
                Notification.success(`Backfill of ${started.schedule}: ${started.dates} run(s), ${started.parallel} at a time`, { autoClose: 5000 });
                actions.showBackfillRuns();
              }
            }}
          >
            Backfill…
          </Button>
        ) : null}
        {copy ? null : (
          <Button small minimal aria-expanded={showTicks} onClick={() => setShowTicks(!showTicks)}>
            Ticks
          </Button>
        )}
        {schedule.last_run_id ? (
          <Button small minimal onClick={() => actions.openRun(schedule.last_run_id as string)}>
            Last run
          </Button>
        ) : null}
      </div>
      {schedule.last_tick && !showTicks ? (
        <div className="jp-Orchestrate-muted">
          last tick: {formatTime(schedule.last_tick.scheduled_at)} {statusLabel(schedule.last_tick.status)}
          {schedule.last_tick.reason ? ` (${schedule.last_tick.reason})` : ''}
        </div>
      ) : null}
      {showTicks ? <TicksView client={actions.client} schedule={schedule.name} openRun={actions.openRun} active={props.active} /> : null}
      {action.error ? (
        <div className="jp-Orchestrate-serverError" role="alert">
          {action.error}
        </div>
      ) : null}
    </li>
  );
}

export function SchedulesView(props: { actions: ScheduleActions; active: boolean; version: number }): JSX.Element {
  const schedules = usePoll(() => props.actions.client.schedules(), props.active ? 5000 : null, [props.version]);
  const list = schedules.data?.schedules ?? [];
  const firing = list.filter(item => !item.copy_of);
  return (
    <div className="jp-Orchestrate-schedules">
      <div className="jp-Orchestrate-toolbar">
        <span className="jp-Orchestrate-muted">
          {firing.length} schedule{firing.length === 1 ? '' : 's'}
          {list.length > firing.length ? `, ${list.length - firing.length} held` : ''} · times in {localZone()}
        </span>
        <Button minimal small title="Refresh" aria-label="Refresh the schedules" onClick={schedules.refresh}>
          <refreshIcon.react tag="span" />
        </Button>
      </div>
      {schedules.error ? <div className="jp-Orchestrate-serverError">{schedules.error}</div> : null}
      {schedules.data && list.length === 0 ? (
        <div className="jp-Orchestrate-muted jp-Orchestrate-empty">No schedules yet. Open a notebook and click Schedule in its toolbar.</div>
      ) : null}
      <ul className="jp-Orchestrate-list" aria-label="schedules">
        {list.map(schedule => (
          <ScheduleItem key={schedule.name} actions={props.actions} schedule={schedule} all={list} onChange={schedules.refresh} active={props.active} />
        ))}
      </ul>
    </div>
  );
}
