/**
 * The Schedule dialog's form: its values, how they start from a notebook,
 * and how they are checked and turned into a `POST /schedules` request.
 *
 * Checks mirror the server's (which checks again and has the last word):
 * parameter names are Python identifiers, values are JSON, durations read
 * like `30m` or `1h30m`, e-mail addresses and Slack channels look right.
 */
import { NotebookForm, ScheduleRequest } from './api';
import { validateCron } from './cron';

export interface ParameterRow {
  name: string;
  /** The value as JSON text: `5`, `"text"`, `[1, 2]`. */
  value: string;
}

export interface AlertChoice {
  /** Send alerts for this notebook itself (a route in its own metadata). */
  enabled: boolean;
  slack: string;
  /** Comma-separated e-mail addresses. */
  email: string;
  on: string[];
}

export interface ScheduleForm {
  cron: string;
  timezone: string;
  parameters: ParameterRow[];
  dependsOn: string[];
  owner: string;
  alert: AlertChoice;
  retries: string;
  timeout: string;
  slaFinishBy: string;
  slaMaxDuration: string;
  /** SLA keys the form does not edit (e.g. freshness), kept as they are. */
  slaOther: Record<string, unknown>;
  /** Alert routes after the first, kept as they are. */
  otherAlerts: Record<string, unknown>[];
}

export type FormErrors = Partial<Record<string, string>>;

export interface FormContext {
  notebook: string;
  /** Metadata keys this installation accepts (`GET /info` settings_keys). */
  settingsKeys: string[];
  timezones: string[];
  injected: string[];
  /** The variables of the notebook's parameters cell (empty when it has none: then any name goes). */
  cellParameters?: string[];
}

export const ALERT_EVENTS = ['failure', 'recovery', 'sla_miss', 'retry', 'run_finished'];
const DEFAULT_EVENTS = ['failure', 'recovery', 'sla_miss'];

const PYTHON_KEYWORDS = new Set(
  (
    'False None True and as assert async await break class continue def del elif else except finally for from ' +
    'global if import in is lambda nonlocal not or pass raise return try while with yield'
  ).split(' ')
);
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;
const DURATION = /^(\d+(\.\d+)?|(\d+(\.\d+)?(ms|s|m|h|d))+)$/;
const TIME_OF_DAY = /^([01]?\d|2[0-3]):[0-5]\d$/;
const EMAIL = /^[^@\s<>,]+@[^@\s<>,]+\.[^@\s<>,]+$/;
const SLACK_CHANNEL = /^[#@]?[\w.-]{1,80}$/;

export function emptyForm(timezone: string): ScheduleForm {
  return {
    cron: '0 7 * * 1-5',
    timezone,
    parameters: [],
    dependsOn: [],
    owner: '',
    alert: { enabled: false, slack: '', email: '', on: [...DEFAULT_EVENTS] },
    retries: '',
    timeout: '',
    slaFinishBy: '',
    slaMaxDuration: '',
    slaOther: {},
    otherAlerts: []
  };
}

function text(value: unknown): string {
  return value === undefined || value === null ? '' : String(value);
}

/** The form as a notebook's metadata and parameters cell fill it in. */
export function formFromNotebook(data: NotebookForm, defaultTimezone: string): ScheduleForm {
  const meta = data.metadata;
  const form = emptyForm(defaultTimezone);
  const schedule = meta.schedule;
  if (schedule === undefined || schedule === null) {
    form.cron = ''; // never scheduled: "Not scheduled" until the user picks a Repeat
  }
  if (typeof schedule === 'string') {
    form.cron = schedule;
  } else if (schedule && typeof schedule === 'object') {
    form.cron = text((schedule as Record<string, unknown>).cron) || form.cron;
    form.timezone = text((schedule as Record<string, unknown>).timezone) || form.timezone;
  }
  if (typeof meta.timezone === 'string' && meta.timezone) {
    form.timezone = meta.timezone;
  }
  const saved = (meta.parameters ?? {}) as Record<string, unknown>;
  const rows = new Map<string, string>();
  for (const entry of data.parameters_cell) {
    if (!entry.injected) {
      rows.set(entry.name, entry.plain ? JSON.stringify(entry.value) : '');
    }
  }
  for (const [name, value] of Object.entries(saved)) {
    rows.set(name, JSON.stringify(value));
  }
  form.parameters = [...rows.entries()].map(([name, value]) => ({ name, value }));
  form.dependsOn = Array.isArray(meta.depends_on) ? meta.depends_on.map(String) : [];
  form.owner = text(meta.owner);
  form.retries = text(meta.retries);
  form.timeout = text(meta.timeout);
  const sla = (meta.sla ?? {}) as Record<string, unknown>;
  form.slaFinishBy = text(sla.finish_by);
  form.slaMaxDuration = text(sla.max_duration);
  form.slaOther = Object.fromEntries(
    Object.entries(sla).filter(([key]) => key !== 'finish_by' && key !== 'max_duration')
  );
  const routes = Array.isArray(meta.alerts) ? meta.alerts : meta.alerts ? [meta.alerts] : [];
  const route = routes[0] as Record<string, unknown> | undefined;
  form.otherAlerts = routes.slice(1) as Record<string, unknown>[];
  if (route) {
    const email = Array.isArray(route.email) ? route.email.join(', ') : text(route.email);
    const on = Array.isArray(route.on) ? route.on.map(String) : route.on ? [String(route.on)] : [...DEFAULT_EVENTS];
    form.alert = { enabled: true, slack: text(route.slack), email, on };
  }
  return form;
}

function checkParameters(rows: ParameterRow[], injected: string[], errors: FormErrors, cell: string[]): Record<string, unknown> {
  const parameters: Record<string, unknown> = {};
  rows.forEach((row, index) => {
    const name = row.name.trim();
    const key = `parameters.${index}`;
    if (name && cell.length && !cell.includes(name) && IDENTIFIER.test(name)) {
      errors[`${key}.name`] = `the notebook has no parameter '${name}' (its parameters: ${cell.filter(item => !injected.includes(item)).join(', ')}); add it to the cell tagged parameters, or remove it`;
      return;
    }
    if (!row.value.trim()) {
      return; // no value: the notebook's own default applies
    }
    if (!IDENTIFIER.test(name) || PYTHON_KEYWORDS.has(name)) {
      errors[`${key}.name`] = `'${name}' is not a Python identifier; use letters, digits and _`;
      return;
    }
    if (injected.includes(name)) {
      errors[`${key}.name`] = `'${name}' is set by orchestrate-ext on every run; choose another name`;
      return;
    }
    if (name in parameters) {
      errors[`${key}.name`] = `'${name}' is given twice`;
      return;
    }
    try {
      parameters[name] = JSON.parse(row.value);
    } catch {
      errors[`${key}.value`] = 'not JSON: write numbers as 5, text in quotes as "text", lists as [1, 2]';
    }
  });
  return parameters;
}

function checkAlert(alert: AlertChoice, errors: FormErrors): Record<string, unknown>[] {
  if (!alert.enabled) {
    return [];
  }
  if (!alert.on.length) {
    errors['alert.on'] = 'choose at least one event to be alerted of';
  }
  const route: Record<string, unknown> = { on: alert.on };
  const slack = alert.slack.trim();
  const emails = alert.email
    .split(',')
    .map(item => item.trim())
    .filter(Boolean);
  if (slack) {
    if (!SLACK_CHANNEL.test(slack)) {
      errors['alert.slack'] = "a Slack channel is '#name' or a channel id such as C0123456789";
    }
    route.slack = slack;
  }
  const bad = emails.filter(email => !EMAIL.test(email));
  if (bad.length) {
    errors['alert.email'] = `not an e-mail address: ${bad.join(', ')}`;
  }
  if (emails.length) {
    route.email = emails;
  }
  if (!slack && !emails.length) {
    errors['alert.slack'] = 'give a Slack channel and/or e-mail addresses, or turn alerts off';
  }
  return [route];
}

function slaRequest(finishBy: string, maxDuration: string, other: Record<string, unknown>): Record<string, unknown> | null {
  const sla: Record<string, unknown> = { ...other };
  if (finishBy) {
    sla.finish_by = finishBy;
  }
  if (maxDuration) {
    sla.max_duration = maxDuration;
  }
  return Object.keys(sla).length ? sla : null;
}

/**
 * Check every field; when there is no error, also return the request to send.
 * Keys the server does not support (`settingsKeys`) are left out of the request.
 */
export function validateForm(form: ScheduleForm, context: FormContext): { errors: FormErrors; request?: ScheduleRequest } {
  const errors: FormErrors = {};
  const supports = (key: string) => context.settingsKeys.includes(key);
  const scheduled = form.cron.trim() !== '';
  const cronProblem = scheduled ? validateCron(form.cron) : null;
  if (cronProblem) {
    errors.cron = cronProblem;
  }
  if (!context.timezones.includes(form.timezone)) {
    const close = closestZone(form.timezone, context.timezones);
    errors.timezone = form.timezone.trim()
      ? `'${form.timezone}' is not a known time zone${close ? `; did you mean ${close}?` : '; pick one from the list'}`
      : 'choose a time zone, e.g. UTC';
  }
  const parameters = checkParameters(form.parameters, context.injected, errors, context.cellParameters ?? []);
  const retriesText = form.retries.trim();
  if (retriesText && !/^\d+$/.test(retriesText)) {
    errors.retries = 'retries is a whole number, 0 or more';
  }
  const timeout = form.timeout.trim().toLowerCase().replace(/\s+/g, '');
  if (timeout && !DURATION.test(timeout)) {
    errors.timeout = "a duration: seconds, or a text like '30m' or '1h30m'";
  }
  const finishBy = form.slaFinishBy.trim();
  if (finishBy && !TIME_OF_DAY.test(finishBy)) {
    errors.slaFinishBy = "a time of day as 'HH:MM', e.g. '07:30'";
  }
  const maxDuration = form.slaMaxDuration.trim().toLowerCase().replace(/\s+/g, '');
  if (maxDuration && !DURATION.test(maxDuration)) {
    errors.slaMaxDuration = "a duration: seconds, or a text like '30m' or '1h30m'";
  }
  const owner = form.owner.trim();
  const alerts = [...checkAlert(form.alert, errors), ...form.otherAlerts];
  if (Object.keys(errors).length) {
    return { errors };
  }
  const request: ScheduleRequest = {
    notebook: context.notebook,
    cron: scheduled ? form.cron.trim().split(/\s+/).join(' ') : null,
    timezone: scheduled ? form.timezone : null,
    parameters,
    depends_on: form.dependsOn
  };
  const optional: Partial<ScheduleRequest> = {
    owner: owner || null,
    retries: retriesText ? Number(retriesText) : null,
    timeout: timeout || null,
    alerts: alerts.length ? alerts : null,
    sla: slaRequest(finishBy, maxDuration, form.slaOther)
  };
  for (const [key, value] of Object.entries(optional)) {
    if (supports(key)) {
      (request as unknown as Record<string, unknown>)[key] = value;
    }
  }
  for (const key of ['parameters', 'depends_on', 'timezone'] as const) {
    if (!supports(key)) {
      delete request[key];
    }
  }
  if (!supports('schedule')) {
    delete request.cron;
  }
  return { errors, request };
}

/** Edit distance between two texts (insertions, deletions, substitutions). */
function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, index) => index);
  for (let i = 1; i <= a.length; i++) {
    let previous = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const current = row[j];
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, previous + (a[i - 1] === b[j - 1] ? 0 : 1));
      previous = current;
    }
  }
  return row[b.length];
}

/** The known zone closest to what was typed ("Europe/Berln" -> Europe/Berlin, "berlin" -> Europe/Berlin). */
export function closestZone(typed: string, zones: string[]): string | null {
  const text = typed.trim().toLowerCase().replace(/ /g, '_');
  if (!text) {
    return null;
  }
  let best: string | null = null;
  let bestScore = Infinity;
  for (const zone of zones) {
    const lower = zone.toLowerCase();
    const city = lower.split('/').pop() as string;
    const score = Math.min(distance(text, lower), distance(text, city) + 0.5);
    if (score < bestScore) {
      best = zone;
      bestScore = score;
    }
  }
  return bestScore <= Math.max(2, text.length / 4) ? best : null;
}

function same(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/**
 * Only what the user changed, so saving writes nothing else into the notebook
 * (no pinned defaults, no rewritten keys): keys equal to the form's starting
 * point are dropped, and parameters equal to the parameters cell's default are
 * not written unless they were saved before. A new schedule always sends its
 * cron expression and time zone; "Not scheduled" sends no schedule for a
 * notebook that has none (so Save never schedules it), and `cron: null` (the
 * schedule removed) for one that has one.
 */
export function changesOnly(
  request: ScheduleRequest,
  baseline: ScheduleRequest | undefined,
  saved: Record<string, unknown>,
  cellDefaults: Record<string, unknown>,
  scheduled: boolean
): ScheduleRequest {
  const changed: ScheduleRequest = { notebook: request.notebook };
  const wanted = request as unknown as Record<string, unknown>;
  const before = (baseline ?? {}) as unknown as Record<string, unknown>;
  for (const [key, value] of Object.entries(wanted)) {
    if (key === 'notebook') {
      continue;
    }
    if (key === 'parameters') {
      const kept = Object.fromEntries(
        Object.entries((value ?? {}) as Record<string, unknown>).filter(
          ([name, item]) => name in saved || !(name in cellDefaults) || !same(item, cellDefaults[name])
        )
      );
      if (!same(kept, saved)) {
        changed.parameters = Object.keys(kept).length ? kept : null;
      }
      continue;
    }
    if ((key === 'cron' || key === 'timezone') && !wanted.cron && (!scheduled || key === 'timezone')) {
      continue; // "Not scheduled": nothing to write for a notebook without a schedule; a schedule is removed by cron null
    }
    const fresh = !scheduled && (key === 'cron' || key === 'timezone');
    if (fresh || baseline === undefined || !same(value, before[key])) {
      (changed as unknown as Record<string, unknown>)[key] = value;
    }
  }
  return changed;
}
