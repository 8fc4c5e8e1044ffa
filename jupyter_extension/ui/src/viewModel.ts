/**
 * The views' small pieces of logic, without React or Lab widgets, so they are
 * tested on their own: log text, the backfill and Run now forms, how a next
 * fire time reads, and what the notebook toolbar says.
 */
import { BackfillRequest, NotebookForm } from './api';
import { describeCron } from './cron';
import { localZone, wallClock } from './time';

// CSI sequences (colours, cursor moves) and OSC sequences (titles, links) of terminals.
const CSI = /\u001b\[[0-?]*[ -/]*[@-~]/g;
const OSC = /\u001b\][^\u0007\u001b]*(?:\u0007|\u001b\\)/g;
const OTHER = /\u001b[@-Z\\-_]/g;

/** `text` without terminal escape sequences (dbt colours its log lines). */
export function stripAnsi(text: string): string {
  return text.replace(OSC, '').replace(CSI, '').replace(OTHER, '');
}

/** A file name for a log: `daily_revenue.try2.log`. */
export function logFileName(nodeId: string, tryNumber: number): string {
  const base = nodeId.replace(/^notebook\./, '').replace(/[^A-Za-z0-9_.-]+/g, '_');
  return `${base}.try${tryNumber}.log`;
}

export interface BackfillForm {
  schedule: string;
  start: string;
  end: string;
  parallel: string;
  force: boolean;
}

const DATE = /^\d{4}-\d\d-\d\d$/;

/** Problems with the form by field (empty when it can be sent), and the request. */
export function checkBackfill(form: BackfillForm): { errors: Record<string, string>; request?: BackfillRequest } {
  const errors: Record<string, string> = {};
  if (!form.schedule) {
    errors.schedule = 'choose a schedule';
  }
  if (!DATE.test(form.start)) {
    errors.start = 'a date, e.g. 2024-01-01';
  }
  if (!DATE.test(form.end)) {
    errors.end = 'a date, e.g. 2024-01-31';
  } else if (DATE.test(form.start) && form.end < form.start) {
    errors.end = 'the last date is before the first; swap them';
  }
  const parallel = Number(form.parallel);
  if (!Number.isInteger(parallel) || parallel < 1 || parallel > 32) {
    errors.parallel = 'a whole number from 1 to 32';
  }
  if (Object.keys(errors).length) {
    return { errors };
  }
  return { errors, request: { schedule: form.schedule, start: form.start, end: form.end, parallel, force: form.force } };
}

export interface RunForm {
  selection: string;
  /** `YYYY-MM-DDTHH:MM` in the browser's zone; empty for now. */
  logicalDate: string;
  parameters: { name: string; value: string; initial: string }[];
  /** Run only the nodes whose code or inputs changed, reuse the rest (`only_changed`). */
  onlyChanged: boolean;
}

/** The logical date as an ISO instant (the browser's zone), or null for "now". */
export function logicalInstant(local: string): string | null {
  if (!local.trim()) {
    return null;
  }
  const date = new Date(local);
  return Number.isNaN(date.getTime()) ? 'invalid' : date.toISOString();
}

/** Check the form: errors by field, and what to send (parameters only where the value changed). */
export function checkRun(form: RunForm): {
  errors: Record<string, string>;
  logicalDate?: string | null;
  parameters?: Record<string, unknown>;
  onlyChanged?: boolean;
} {
  const errors: Record<string, string> = {};
  const logical = logicalInstant(form.logicalDate);
  if (logical === 'invalid') {
    errors.logicalDate = 'a date and time, e.g. 2024-01-31 06:00';
  }
  const parameters: Record<string, unknown> = {};
  for (const row of form.parameters) {
    if (!row.value.trim() || row.value === row.initial) {
      continue;
    }
    try {
      parameters[row.name] = JSON.parse(row.value);
    } catch {
      errors[`parameter.${row.name}`] = 'not JSON: numbers as 5, text in quotes as "text", lists as [1, 2]';
    }
  }
  return Object.keys(errors).length ? { errors } : { errors, logicalDate: logical, parameters, onlyChanged: form.onlyChanged };
}

/** "Mon 23 Nov 2026, 01:00 GMT-5 (07:00 CET)": the browser's zone, then the schedule's when it differs. */
export function nextFire(iso: string, scheduleZone: string, browserZone: string = localZone()): string {
  const date = new Date(iso);
  const local = wallClock(date, browserZone, true);
  if (scheduleZone === browserZone) {
    return local;
  }
  const own = wallClock(date, scheduleZone, false).split(', ').pop();
  return `${local} (${own} ${scheduleZone})`;
}

/** What the Schedule button says about a notebook: its label and its tooltip. */
export function scheduleLabel(form: NotebookForm | null): { label: string; tooltip: string; state: string } {
  if (!form) {
    return { label: 'Schedule', tooltip: 'Schedule this notebook with orchestrate-ext', state: 'unknown' };
  }
  if (form.copy_of) {
    return {
      label: 'Schedule (copy)',
      tooltip: `A copy of ${form.copy_of}: its schedule does not fire for this notebook until you confirm it`,
      state: 'copy'
    };
  }
  const schedule = form.metadata.schedule;
  if (schedule) {
    const cron = typeof schedule === 'string' ? schedule : String((schedule as { cron?: unknown }).cron ?? '');
    const zone = String(form.metadata.timezone ?? (schedule as { timezone?: unknown }).timezone ?? 'UTC');
    return { label: 'Scheduled', tooltip: `Scheduled: ${describeCron(cron) || cron} (${zone}). Click to change.`, state: 'scheduled' };
  }
  return { label: 'Schedule', tooltip: 'Schedule this notebook with orchestrate-ext', state: 'unscheduled' };
}

