/**
 * Cron expressions in the Schedule dialog: presets, a field-by-field check
 * with messages that say what to fix, and a human-readable preview.
 *
 * The check mirrors the server's (five fields or an `@daily`-style alias);
 * the server checks again when saving, and computes the next fire times with
 * the scheduler's own code, so the preview shows what will really fire.
 */
import cronstrue from 'cronstrue';

import { wallClock } from './time';

export interface CronPreset {
  label: string;
  cron: string;
}

export const PRESETS: CronPreset[] = [
  { label: 'Every hour', cron: '0 * * * *' },
  { label: 'Every day at 07:00', cron: '0 7 * * *' },
  { label: 'Every weekday at 07:00', cron: '0 7 * * 1-5' },
  { label: 'Every Monday at 07:00', cron: '0 7 * * 1' },
  { label: 'On the 1st of every month at 07:00', cron: '0 7 1 * *' }
];

export const CUSTOM = 'custom';

/** The Repeat choice of a notebook that has no schedule (its cron expression is empty). */
export const NOT_SCHEDULED = '';

export const ALIASES: Record<string, string> = {
  '@yearly': '0 0 1 1 *',
  '@annually': '0 0 1 1 *',
  '@monthly': '0 0 1 * *',
  '@weekly': '0 0 * * 0',
  '@daily': '0 0 * * *',
  '@midnight': '0 0 * * *',
  '@hourly': '0 * * * *'
};

interface FieldSpec {
  name: string;
  min: number;
  max: number;
  names?: string[];
}

const MONTHS = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];
const DAYS = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];

const FIELDS: FieldSpec[] = [
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day-of-month', min: 1, max: 31 },
  { name: 'month', min: 1, max: 12, names: MONTHS },
  { name: 'day-of-week', min: 0, max: 7, names: DAYS }
];

/** Collapse whitespace and expand an alias: the five-field form, or the input when it is not one. */
export function normalizeCron(expression: string): string {
  const text = expression.trim().split(/\s+/).join(' ');
  return ALIASES[text.toLowerCase()] ?? text;
}

function parseValue(text: string, spec: FieldSpec): number | null {
  if (/^\d+$/.test(text)) {
    return Number(text);
  }
  if (spec.names) {
    const index = spec.names.indexOf(text.toUpperCase());
    if (index >= 0) {
      return spec.name === 'month' ? index + 1 : index;
    }
  }
  return null;
}

function checkField(text: string, spec: FieldSpec): string | null {
  const bad = (why: string) => `${spec.name} field '${text}': ${why}`;
  for (const part of text.split(',')) {
    if (part === '') {
      return bad('an empty item in a list; remove the extra comma');
    }
    const [range, step, ...rest] = part.split('/');
    if (rest.length) {
      return bad("more than one '/'");
    }
    if (step !== undefined && !/^[1-9]\d*$/.test(step)) {
      return bad(`the step '${step}' must be a whole number of at least 1`);
    }
    if (range === '*') {
      continue;
    }
    const bounds = range.split('-');
    if (bounds.length > 2 || bounds.some(bound => bound === '')) {
      return bad(`'${range}' is not a value or a range like 1-5`);
    }
    const values: number[] = [];
    for (const bound of bounds) {
      const value = parseValue(bound, spec);
      if (value === null) {
        const hint = spec.names ? ` or a name such as ${spec.names[1]}` : '';
        return bad(`'${bound}' is not a number${hint}`);
      }
      if (value < spec.min || value > spec.max) {
        return bad(`${value} is out of range ${spec.min}-${spec.max}`);
      }
      values.push(value);
    }
    if (values.length === 2 && values[0] > values[1]) {
      return bad(`the range ${range} runs backwards; write the smaller value first`);
    }
  }
  return null;
}

/** Why `expression` is not a valid cron expression, or null when it is. */
export function validateCron(expression: string): string | null {
  const text = normalizeCron(expression);
  if (!text) {
    return 'enter a cron expression, e.g. 0 7 * * 1-5 for 07:00 on weekdays';
  }
  const fields = text.split(' ');
  if (fields.length !== 5) {
    return (
      `a cron expression has 5 fields (minute hour day-of-month month day-of-week); ` +
      `'${expression.trim()}' has ${fields.length}`
    );
  }
  for (let index = 0; index < 5; index++) {
    const problem = checkField(fields[index], FIELDS[index]);
    if (problem) {
      return problem;
    }
  }
  return null;
}

/** "At 07:00, Monday through Friday" for a valid expression, '' otherwise. */
export function describeCron(expression: string): string {
  if (validateCron(expression) !== null) {
    return '';
  }
  try {
    return cronstrue.toString(normalizeCron(expression), {
      use24HourTimeFormat: true,
      throwExceptionOnParseError: true,
      verbose: false
    });
  } catch {
    return '';
  }
}

/** The preset an expression is, or `CUSTOM`. */
export function presetFor(expression: string): string {
  if (!expression.trim()) {
    return NOT_SCHEDULED;
  }
  const text = normalizeCron(expression);
  const preset = PRESETS.find(item => item.cron === text);
  return preset ? preset.cron : CUSTOM;
}

/** "Mon 23 Nov 2026, 07:00" as the wall clock of `timezone` shows an ISO instant. */
export function formatFireTime(iso: string, timezone: string): string {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) {
    return iso;
  }
  try {
    return wallClock(date, timezone, true);
  } catch {
    return iso;
  }
}
