/**
 * The backfill form: a schedule, a date range (in the schedule's time zone)
 * and how many runs at once; it starts `orchestrate backfill` on the server,
 * which creates one run per fire time in the range, oldest first.
 */
import { Dialog, ReactWidget, showDialog } from '@jupyterlab/apputils';
import * as React from 'react';

import { BackfillForm, checkBackfill } from './viewModel';
import { BackfillStarted, OrchestrateClient, Schedule } from './api';

function BackfillFields(props: { schedules: Schedule[]; form: BackfillForm; errors: Record<string, string>; onChange: (form: BackfillForm) => void }): JSX.Element {
  const { form } = props;
  const set = (patch: Partial<BackfillForm>) => props.onChange({ ...form, ...patch });
  const zone = props.schedules.find(item => item.name === form.schedule)?.timezone ?? 'UTC';
  const error = (field: string) =>
    props.errors[field] ? (
      <div className="jp-Orchestrate-fieldError" id={`jp-Orchestrate-backfill-${field}-error`} role="alert">
        {props.errors[field]}
      </div>
    ) : null;
  return (
    <div className="jp-Orchestrate-form jp-Orchestrate-backfillForm">
      <div className="jp-Orchestrate-row">
        <label className="jp-Orchestrate-label" htmlFor="jp-Orchestrate-backfill-schedule">
          Schedule
        </label>
        <div className="jp-Orchestrate-control">
          <select id="jp-Orchestrate-backfill-schedule" className="jp-mod-styled" value={form.schedule} onChange={event => set({ schedule: event.target.value })}>
            {props.schedules.map(item => (
              <option key={item.name} value={item.name}>
                {item.name} ({item.cron}, {item.timezone})
              </option>
            ))}
          </select>
          {error('schedule')}
        </div>
      </div>
      <div className="jp-Orchestrate-row">
        <label className="jp-Orchestrate-label" htmlFor="jp-Orchestrate-backfill-start">
          From
        </label>
        <div className="jp-Orchestrate-control">
          <input id="jp-Orchestrate-backfill-start" className="jp-mod-styled" type="date" value={form.start} onChange={event => set({ start: event.target.value })} />
          {error('start')}
        </div>
      </div>
      <div className="jp-Orchestrate-row">
        <label className="jp-Orchestrate-label" htmlFor="jp-Orchestrate-backfill-end">
          To (inclusive)
        </label>
        <div className="jp-Orchestrate-control">
          <input id="jp-Orchestrate-backfill-end" className="jp-mod-styled" type="date" value={form.end} onChange={event => set({ end: event.target.value })} />
          {error('end')}
          <div className="jp-Orchestrate-hint">Dates are days in the schedule's time zone, {zone}.</div>
        </div>
      </div>
      <div className="jp-Orchestrate-row">
        <label className="jp-Orchestrate-label" htmlFor="jp-Orchestrate-backfill-parallel">
          Runs at once
        </label>
        <div className="jp-Orchestrate-control">
          <input id="jp-Orchestrate-backfill-parallel" className="jp-mod-styled" type="number" min={1} max={32} value={form.parallel} onChange={event => set({ parallel: event.target.value })} />
          {error('parallel')}
        </div>
      </div>
      <div className="jp-Orchestrate-row">
        <span className="jp-Orchestrate-label" />
        <label className="jp-Orchestrate-inline">
          <input type="checkbox" checked={form.force} onChange={event => set({ force: event.target.checked })} /> Run dates again that
          already succeeded
        </label>
      </div>
    </div>
  );
}

class BackfillBody extends ReactWidget {
  errors: Record<string, string> = {};
  serverError: string | null = null;

  constructor(
    private readonly schedules: Schedule[],
    public form: BackfillForm
  ) {
    super();
  }

  render(): JSX.Element {
    return (
      <>
        <BackfillFields
          schedules={this.schedules}
          form={this.form}
          errors={this.errors}
          onChange={form => {
            this.form = form;
            this.errors = Object.keys(this.errors).length ? checkBackfill(form).errors : {};
            this.update();
          }}
        />
        {this.serverError ? (
          <div className="jp-Orchestrate-serverError" role="alert">
            {this.serverError}
          </div>
        ) : null}
      </>
    );
  }
}

function isoDay(date: Date): string {
  return date.toISOString().slice(0, 10);
}

/** Ask for a backfill and start it; resolves with what the server started, or null when cancelled. */
export async function backfillDialog(client: OrchestrateClient, schedules: Schedule[], chosen: string | null): Promise<BackfillStarted | null> {
  const cron = schedules.filter(item => item.cron && !item.copy_of);
  if (!cron.length) {
    throw new Error('no schedule with a cron expression to backfill; schedule a notebook first');
  }
  const today = new Date();
  let form: BackfillForm = {
    schedule: chosen && cron.some(item => item.name === chosen) ? chosen : cron[0].name,
    start: isoDay(new Date(today.getTime() - 7 * 86400000)),
    end: isoDay(new Date(today.getTime() - 86400000)),
    parallel: '1',
    force: false
  };
  let errors: Record<string, string> = {};
  let serverError: string | null = null;
  for (;;) {
    // A dialog disposes its body when it closes: each round gets a new one, with the form so far.
    const body = new BackfillBody(cron, form);
    body.errors = errors;
    body.serverError = serverError;
    const result = await showDialog({
      title: 'Backfill',
      body,
      buttons: [Dialog.cancelButton(), Dialog.okButton({ label: 'Start backfill' })],
      focusNodeSelector: '#jp-Orchestrate-backfill-start'
    });
    form = body.form;
    if (!result.button.accept) {
      return null;
    }
    const checked = checkBackfill(form);
    errors = checked.errors;
    serverError = null;
    if (checked.request) {
      try {
        return await client.backfill(checked.request);
      } catch (error) {
        serverError = error instanceof Error ? error.message : String(error);
      }
    }
  }
}
