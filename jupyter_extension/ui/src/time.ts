/**
 * Short, human texts for times and durations: "2 h ago", "in 5 min", "1 m 05 s".
 *
 * Every instant the panel shows carries its zone ("07:00 CET"), and the panel
 * shows instants in one zone, the browser's; a schedule's own wall clock is
 * shown next to it when the schedule's zone differs.
 */

const UNITS: [number, string][] = [
  [86400, 'd'],
  [3600, 'h'],
  [60, 'min']
];

function amount(seconds: number): string {
  for (const [size, unit] of UNITS) {
    if (seconds >= size) {
      return `${Math.floor(seconds / size)} ${unit}`;
    }
  }
  return `${Math.floor(seconds)} s`;
}

/** "2 h ago", "just now", or "in 3 d" for an ISO time relative to `now`; '' for null. */
export function relativeTime(iso: string | null | undefined, now: Date = new Date()): string {
  if (!iso) {
    return '';
  }
  const then = new Date(iso);
  if (Number.isNaN(then.getTime())) {
    return iso;
  }
  const seconds = (now.getTime() - then.getTime()) / 1000;
  if (Math.abs(seconds) < 10) {
    return 'just now';
  }
  return seconds > 0 ? `${amount(seconds)} ago` : `in ${amount(-seconds)}`;
}

/** "0.4 s", "12 s", "1 m 05 s", "2 h 03 m"; '' for null. */
export function formatDuration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || Number.isNaN(seconds)) {
    return '';
  }
  if (seconds < 10) {
    return `${seconds.toFixed(1)} s`;
  }
  if (seconds < 60) {
    return `${Math.round(seconds)} s`;
  }
  const total = Math.round(seconds);
  if (total < 3600) {
    return `${Math.floor(total / 60)} m ${String(total % 60).padStart(2, '0')} s`;
  }
  return `${Math.floor(total / 3600)} h ${String(Math.floor((total % 3600) / 60)).padStart(2, '0')} m`;
}

/** A local date and time for an ISO instant, with its zone: "21 Nov 2026, 20:04 CET". */
export function formatTime(iso: string | null | undefined, timezone?: string): string {
  if (!iso) {
    return '';
  }
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) {
    return iso;
  }
  return wallClock(date, timezone, false);
}

/** Duration between two ISO instants in seconds; null when one is missing or the end is before the start. */
export function secondsBetween(start: string | null | undefined, end: string | null | undefined): number | null {
  if (!start || !end) {
    return null;
  }
  const seconds = (new Date(end).getTime() - new Date(start).getTime()) / 1000;
  return Number.isNaN(seconds) || seconds < 0 ? null : seconds;
}

/** The browser's IANA time zone (UTC when the browser does not say). */
export function localZone(): string {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
  } catch {
    return 'UTC';
  }
}

/**
 * "Mon 23 Nov 2026, 07:00 CET" (or without the weekday) in `timezone` (default: the browser's);
 * assembled from parts so it reads the same whatever the ICU version of the browser.
 */
export function wallClock(date: Date, timezone: string | undefined, weekday: boolean, withZone = true): string {
  const parts = new Intl.DateTimeFormat('en-GB', {
    timeZone: timezone,
    weekday: 'short',
    day: 'numeric',
    month: 'short',
    year: 'numeric',
    hour: '2-digit',
    minute: '2-digit',
    hourCycle: 'h23',
    timeZoneName: 'short'
  }).formatToParts(date);
  const part = (type: Intl.DateTimeFormatPartTypes) => parts.find(item => item.type === type)?.value ?? '';
  const zone = withZone && part('timeZoneName') ? ` ${part('timeZoneName')}` : '';
  const day = `${part('day')} ${part('month')} ${part('year')}, ${part('hour')}:${part('minute')}${zone}`;
  return weekday ? `${part('weekday')} ${day}` : day;
}

/** "07:00 CET" (or "07:00:05 CET" `withSeconds`): the time of day of an instant in `timezone` (default: the browser's), with the zone. */
export function timeOfDay(iso: string, timezone?: string, withSeconds = false): string {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) {
    return iso;
  }
  const parts = new Intl.DateTimeFormat('en-GB', {
    timeZone: timezone,
    hour: '2-digit',
    minute: '2-digit',
    second: withSeconds ? '2-digit' : undefined,
    hourCycle: 'h23',
    timeZoneName: 'short'
  }).formatToParts(date);
  const part = (type: Intl.DateTimeFormatPartTypes) => parts.find(item => item.type === type)?.value ?? '';
  const seconds = withSeconds ? `:${part('second')}` : '';
  return `${part('hour')}:${part('minute')}${seconds} ${part('timeZoneName')}`.trim();
}

/**
 * How long a run took, by the one rule of the CLI and the API: from its first start to its end (to
 * `now` while it runs), a resumption noted beside it: "1 m 59 s · resumed 1×". '' before it starts.
 */
export function runDuration(
  run: { status: string; started_at: string | null; finished_at: string | null; resumptions?: number },
  now: Date = new Date()
): string {
  const end = run.status === 'running' ? now.toISOString() : run.finished_at;
  const seconds = secondsBetween(run.started_at, end);
  if (seconds === null) {
    return '';
  }
  const resumed = run.resumptions ? ` · resumed ${run.resumptions}×` : '';
  return `${formatDuration(seconds)}${run.status === 'running' ? ' so far' : ''}${resumed}`;
}
