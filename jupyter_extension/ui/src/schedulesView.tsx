/** The schedules tab: every schedule with its next fire time, last status and a pause switch. */
import { Button, refreshIcon } from '@jupyterlab/ui-components';
import * as React from 'react';

import { OrchestrateClient, Schedule } from './api';
import { describeCron, formatFireTime } from './cron';
import { useAction, usePoll } from './hooks';
import { StatusBadge } from './runs';
import { relativeTime } from './time';

export interface ScheduleActions {
  client: OrchestrateClient;
  scheduleNotebook: (labPath: string) => void;
  openRun: (runId: string) => void;
}

function ScheduleItem(props: { actions: ScheduleActions; schedule: Schedule; onChange: () => void }): JSX.Element {
  const { schedule, actions } = props;
  const action = useAction();
  const now = new Date();
  const description = schedule.cron ? describeCron(schedule.cron) : '';
  const change = async (work: () => Promise<unknown>) => {
    if (await action.run(work)) {
      props.onChange();
    }
  };
  return (
    <li className="jp-Orchestrate-schedule" data-schedule={schedule.name} data-paused={schedule.paused}>
      <div className="jp-Orchestrate-nodeLine">
        <b className="jp-Orchestrate-runTitle">{schedule.name}</b>
        {schedule.paused ? <span className="jp-Orchestrate-badge" data-status="paused">paused</span> : null}
        <StatusBadge status={schedule.last_status} />
      </div>
      <div className="jp-Orchestrate-muted">
        {schedule.cron
          ? `${description || schedule.cron} (${schedule.timezone})`
          : `triggered by ${schedule.triggers.join(', ') || 'nothing yet'}`}
      </div>
      <div className="jp-Orchestrate-muted">
        next:{' '}
        {schedule.paused
          ? 'paused'
          : schedule.next_fire_at
            ? `${formatFireTime(schedule.next_fire_at, schedule.timezone)} (${relativeTime(schedule.next_fire_at, now)})`
            : '—'}
        {schedule.last_run_at ? ` · last run ${relativeTime(schedule.last_run_at, now)}` : ''}
      </div>
      <div className="jp-Orchestrate-toolbar">
        <Button
          small
          minimal
          disabled={action.busy}
          onClick={() => change(() => actions.client.setPaused(schedule.name, !schedule.paused))}
        >
          {schedule.paused ? 'Resume' : 'Pause'}
        </Button>
        {schedule.notebook ? (
          <>
            <Button small minimal onClick={() => actions.scheduleNotebook(schedule.notebook as string)}>
              Edit
            </Button>
            <Button
              small
              minimal
              disabled={action.busy}
              onClick={() => change(() => actions.client.removeSchedule(schedule.notebook as string))}
            >
              Unschedule
            </Button>
          </>
        ) : null}
        {schedule.last_run_id ? (
          <Button small minimal onClick={() => actions.openRun(schedule.last_run_id as string)}>
            Last run
          </Button>
        ) : null}
      </div>
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
  return (
    <div className="jp-Orchestrate-schedules">
      <div className="jp-Orchestrate-toolbar">
        <span className="jp-Orchestrate-muted">{list.length} schedule(s)</span>
        <Button minimal small title="Refresh" onClick={schedules.refresh}>
          <refreshIcon.react tag="span" />
        </Button>
      </div>
      {schedules.error ? <div className="jp-Orchestrate-serverError">{schedules.error}</div> : null}
      {schedules.data && list.length === 0 ? (
        <div className="jp-Orchestrate-muted jp-Orchestrate-empty">
          No schedules yet. Open a notebook and click Schedule in its toolbar.
        </div>
      ) : null}
      <ul className="jp-Orchestrate-list" aria-label="schedules">
        {list.map(schedule => (
          <ScheduleItem key={schedule.name} actions={props.actions} schedule={schedule} onChange={schedules.refresh} />
        ))}
      </ul>
    </div>
  );
}
