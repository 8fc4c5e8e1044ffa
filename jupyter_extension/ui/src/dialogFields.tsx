/**
 * The fields of the Schedule dialog: cron presets and a custom expression with
 * its preview, time zone, parameters, depends-on picker, alerts and the plain
 * text fields, each with its error right under it.
 */
import { addIcon, Button, closeIcon } from '@jupyterlab/ui-components';
import * as React from 'react';

import { CUSTOM, describeCron, formatFireTime, NOT_SCHEDULED, presetFor, PRESETS } from './cron';
import { ALERT_EVENTS, ParameterRow } from './form';
import { filterChoices, ScheduleModel } from './scheduleModel';
import { localZone } from './time';

export function FieldError(props: { message?: string | null; id?: string }): JSX.Element | null {
  return props.message ? (
    <div className="jp-Orchestrate-fieldError" id={props.id}>
      {props.message}
    </div>
  ) : null;
}

export function Row(props: { label: string; htmlFor?: string; children: React.ReactNode; hint?: string }): JSX.Element {
  return (
    <div className="jp-Orchestrate-row">
      <label className="jp-Orchestrate-label" htmlFor={props.htmlFor}>
        {props.label}
      </label>
      <div className="jp-Orchestrate-control">
        {props.children}
        {props.hint ? <div className="jp-Orchestrate-hint">{props.hint}</div> : null}
      </div>
    </div>
  );
}

export function CronSection(props: { model: ScheduleModel }): JSX.Element {
  const { model } = props;
  const { form } = model;
  const preset = presetFor(form.cron);
  const description = describeCron(form.cron);
  return (
    <>
      <Row
        label="Repeat"
        htmlFor="jp-Orchestrate-preset"
        hint={
          model.willSchedule
            ? undefined
            : model.isScheduled
              ? 'Saving removes the schedule: the notebook then runs only when asked (Run now) or with the pipeline.'
              : 'The notebook runs only when asked (Run now) or with the pipeline. Choose a Repeat to schedule it.'
        }
      >
        <select
          id="jp-Orchestrate-preset"
          className="jp-mod-styled"
          value={preset}
          onChange={event => {
            if (event.target.value !== CUSTOM) {
              model.update({ cron: event.target.value });
            }
          }}
        >
          <option value={NOT_SCHEDULED}>Not scheduled</option>
          {PRESETS.map(item => (
            <option key={item.cron} value={item.cron}>
              {item.label}
            </option>
          ))}
          <option value={CUSTOM}>Custom cron expression…</option>
        </select>
      </Row>
      <Row label="Cron" htmlFor="jp-Orchestrate-cron">
        <input
          id="jp-Orchestrate-cron"
          className="jp-mod-styled jp-Orchestrate-mono"
          value={form.cron}
          spellCheck={false}
          aria-label="cron expression"
          onChange={event => model.update({ cron: event.target.value })}
        />
        <FieldError id="jp-Orchestrate-cron-error" message={model.errors.cron ?? model.previewError} />
        <div className="jp-Orchestrate-preview" aria-live="polite">
          {description ? <div className="jp-Orchestrate-description">{description}</div> : null}
          {model.preview ? (
            <ul className="jp-Orchestrate-nextTimes" aria-label="next fire times">
              {model.preview.next.map(item => (
                <li key={item}>{formatFireTime(item, model.preview!.timezone)}</li>
              ))}
            </ul>
          ) : null}
        </div>
      </Row>
      <Row label="Time zone" htmlFor="jp-Orchestrate-timezone">
        <input
          id="jp-Orchestrate-timezone"
          className="jp-mod-styled"
          list="jp-Orchestrate-timezones"
          value={form.timezone}
          aria-invalid={model.errors.timezone ? true : undefined}
          aria-describedby={model.errors.timezone ? 'jp-Orchestrate-timezone-error' : 'jp-Orchestrate-timezone-hint'}
          onChange={event => model.update({ timezone: event.target.value })}
        />
        <datalist id="jp-Orchestrate-timezones">
          {model.info.timezones.map(zone => (
            <option key={zone} value={zone} />
          ))}
        </datalist>
        <FieldError id="jp-Orchestrate-timezone-error" message={model.errors.timezone} />
        <div className="jp-Orchestrate-hint" id="jp-Orchestrate-timezone-hint">
          The cron expression is read in this zone (daylight saving time included); your browser is in {localZone()}.
        </div>
      </Row>
    </>
  );
}

export function ParametersSection(props: { model: ScheduleModel }): JSX.Element {
  const { model } = props;
  const rows = model.form.parameters;
  const change = (index: number, patch: Partial<ParameterRow>) =>
    model.update({ parameters: rows.map((row, at) => (at === index ? { ...row, ...patch } : row)) });
  return (
    <Row
      label="Parameters"
      hint={`Values are JSON (5, "text", [1, 2]); leave one empty to keep the notebook's default. ${model.info.injected_parameters.join(' and ')} are set on every run.`}
    >
      <div className="jp-Orchestrate-parameters">
        {rows.map((row, index) => (
          <div className="jp-Orchestrate-parameter" key={index}>
            <input
              className="jp-mod-styled jp-Orchestrate-mono"
              aria-label={`parameter ${index + 1} name`}
              value={row.name}
              placeholder="name"
              onChange={event => change(index, { name: event.target.value })}
            />
            <input
              className="jp-mod-styled jp-Orchestrate-mono"
              aria-label={`parameter ${row.name || index + 1} value`}
              value={row.value}
              placeholder="JSON (empty: the notebook's default)"
              onChange={event => change(index, { value: event.target.value })}
            />
            <Button
              minimal
              small
              title="Remove this parameter"
              aria-label={`Remove parameter ${row.name || index + 1}`}
              onClick={() => model.update({ parameters: rows.filter((_, at) => at !== index) })}
            >
              <closeIcon.react tag="span" />
            </Button>
            <FieldError message={model.errors[`parameters.${index}.name`] ?? model.errors[`parameters.${index}.value`]} />
          </div>
        ))}
        <Button small minimal onClick={() => model.update({ parameters: [...rows, { name: '', value: '' }] })}>
          <addIcon.react tag="span" /> Add parameter
        </Button>
        <FieldError message={model.errors.parameters} />
      </div>
    </Row>
  );
}

export function DependsOnSection(props: { model: ScheduleModel }): JSX.Element {
  const { model } = props;
  const [query, setQuery] = React.useState('');
  const shown = filterChoices(model.choices, query).slice(0, 200);
  const selected = model.form.dependsOn;
  return (
    <Row label="Depends on" htmlFor="jp-Orchestrate-dependsSearch" hint="Runs after these dbt models, sources or notebooks.">
      <div className="jp-Orchestrate-chips">
        {selected.length === 0 ? <span className="jp-Orchestrate-muted">nothing</span> : null}
        {selected.map(reference => (
          <span className="jp-Orchestrate-chip" key={reference}>
            {reference}
            <button
              className="jp-Orchestrate-chipRemove"
              title={`Remove ${reference}`}
              aria-label={`remove dependency ${reference}`}
              onClick={() => model.toggleDependency(reference)}
            >
              ×
            </button>
          </span>
        ))}
      </div>
      <input
        id="jp-Orchestrate-dependsSearch"
        className="jp-mod-styled"
        type="search"
        placeholder="Search dbt models and notebooks…"
        aria-label="search dbt models and notebooks"
        data-enter="local"
        value={query}
        onChange={event => setQuery(event.target.value)}
        onKeyDown={event => {
          // Enter picks the only match; it never saves the dialog from here.
          if (event.key === 'Enter') {
            event.preventDefault();
            if (shown.length === 1) {
              model.toggleDependency(selected.includes(shown[0].id) ? shown[0].id : shown[0].reference);
            }
          }
        }}
      />
      <FieldError message={model.errors.dependsOn} />
      <ul className="jp-Orchestrate-pickList" aria-label="depends-on choices">
        {shown.map(choice => (
          <li key={choice.id}>
            <label title={choice.id}>
              <input
                type="checkbox"
                checked={selected.includes(choice.reference) || selected.includes(choice.id)}
                onChange={() =>
                  model.toggleDependency(selected.includes(choice.id) ? choice.id : choice.reference)
                }
              />
              <span className="jp-Orchestrate-pickName">{choice.name}</span>
              <span className="jp-Orchestrate-muted"> {choice.resourceType}</span>
            </label>
          </li>
        ))}
      </ul>
    </Row>
  );
}

export function AlertSection(props: { model: ScheduleModel }): JSX.Element {
  const { model } = props;
  const alert = model.form.alert;
  const routes = model.info.alert_routes;
  const set = (patch: Partial<typeof alert>) => model.update({ alert: { ...alert, ...patch } });
  return (
    <Row label="Alerts" hint={routes.length ? undefined : 'No routes are configured under alerts: in orchestrate.yaml.'}>
      {routes.length ? (
        <div className="jp-Orchestrate-routes">
          <div className="jp-Orchestrate-muted">Routes in orchestrate.yaml:</div>
          <ul>
            {routes.map(route => (
              <li key={route.name}>
                <b>{route.name}</b> → {[route.slack, ...route.email].filter(Boolean).join(', ')} on{' '}
                {route.on.join(', ')}
                {Object.keys(route.match).length
                  ? ` (for ${Object.entries(route.match)
                      .map(([key, values]) => `${key} ${values.join('/')}`)
                      .join(', ')})`
                  : ' (all nodes)'}
              </li>
            ))}
          </ul>
        </div>
      ) : null}
      <label className="jp-Orchestrate-inline">
        <input type="checkbox" checked={alert.enabled} onChange={event => set({ enabled: event.target.checked })} /> Also
        alert for this notebook:
      </label>
      {alert.enabled ? (
        <div className="jp-Orchestrate-alertRoute">
          {routes.length ? (
            <select
              className="jp-mod-styled"
              aria-label="copy the destination of a configured route"
              value=""
              onChange={event => {
                const route = routes.find(item => item.name === event.target.value);
                if (route) {
                  set({ slack: route.slack ?? '', email: route.email.join(', '), on: [...route.on] });
                }
              }}
            >
              <option value="">Send where a configured route sends…</option>
              {routes.map(route => (
                <option key={route.name} value={route.name}>
                  {route.name}
                </option>
              ))}
            </select>
          ) : null}
          <input
            className="jp-mod-styled"
            aria-label="Slack channel"
            placeholder="Slack channel, e.g. #data-alerts"
            value={alert.slack}
            onChange={event => set({ slack: event.target.value })}
          />
          <FieldError message={model.errors['alert.slack']} />
          <input
            className="jp-mod-styled"
            aria-label="e-mail addresses"
            placeholder="e-mail addresses, comma-separated"
            value={alert.email}
            onChange={event => set({ email: event.target.value })}
          />
          <FieldError message={model.errors['alert.email']} />
          <div className="jp-Orchestrate-events">
            {ALERT_EVENTS.map(event => (
              <label key={event} className="jp-Orchestrate-inline">
                <input
                  type="checkbox"
                  checked={alert.on.includes(event)}
                  onChange={change =>
                    set({ on: change.target.checked ? [...alert.on, event] : alert.on.filter(item => item !== event) })
                  }
                />{' '}
                {event.replace('_', ' ')}
              </label>
            ))}
          </div>
          <FieldError message={model.errors['alert.on']} />
        </div>
      ) : null}
    </Row>
  );
}

export function TextRow(props: {
  model: ScheduleModel;
  field: 'owner' | 'retries' | 'timeout' | 'slaFinishBy' | 'slaMaxDuration';
  label: string;
  placeholder: string;
}): JSX.Element {
  const { model, field } = props;
  const id = `jp-Orchestrate-${field}`;
  return (
    <Row label={props.label} htmlFor={id}>
      <input
        id={id}
        className="jp-mod-styled"
        placeholder={props.placeholder}
        value={model.form[field]}
        onChange={event => model.update({ [field]: event.target.value })}
      />
      <FieldError id={`${id}-error`} message={model.errors[field]} />
    </Row>
  );
}
