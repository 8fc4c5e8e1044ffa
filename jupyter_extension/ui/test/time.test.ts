import { describe, expect, it } from 'vitest';

import { formatDuration, formatTime, relativeTime, secondsBetween, timeOfDay } from '../src/time';

const NOW = new Date('2026-11-21T12:00:00Z');

describe('relativeTime', () => {
  it('says how long ago or how soon', () => {
    expect(relativeTime('2026-11-21T10:00:00Z', NOW)).toBe('2 h ago');
    expect(relativeTime('2026-11-21T11:59:55Z', NOW)).toBe('just now');
    expect(relativeTime('2026-11-21T11:55:00Z', NOW)).toBe('5 min ago');
    expect(relativeTime('2026-11-18T12:00:00Z', NOW)).toBe('3 d ago');
    expect(relativeTime('2026-11-21T12:00:45Z', NOW)).toBe('in 45 s');
    expect(relativeTime('2026-11-23T06:00:00+01:00', NOW)).toBe('in 1 d');
    expect(relativeTime(null, NOW)).toBe('');
  });
});

describe('formatDuration', () => {
  it('is short and precise where it matters', () => {
    expect(formatDuration(0.42)).toBe('0.4 s');
    expect(formatDuration(12.4)).toBe('12 s');
    expect(formatDuration(65)).toBe('1 m 05 s');
    expect(formatDuration(7380)).toBe('2 h 03 m');
    expect(formatDuration(null)).toBe('');
  });
});

describe('formatTime', () => {
  it('shows the local time (UTC in these tests) with its zone', () => {
    expect(formatTime('2026-11-21T20:04:00Z')).toBe('21 Nov 2026, 20:04 UTC');
    expect(formatTime('2026-11-21T20:04:00Z', 'Europe/Berlin')).toBe('21 Nov 2026, 21:04 CET');
    expect(formatTime(null)).toBe('');
  });
});

describe('secondsBetween', () => {
  it('is never negative: a retry that started after the earlier end has no duration yet', () => {
    expect(secondsBetween('2026-11-21T20:00:00Z', '2026-11-21T20:00:30Z')).toBe(30);
    expect(secondsBetween('2026-11-21T20:00:30Z', '2026-11-21T20:00:00Z')).toBeNull();
    expect(secondsBetween(null, '2026-11-21T20:00:00Z')).toBeNull();
  });
});

describe('timeOfDay', () => {
  it('labels the zone', () => {
    expect(timeOfDay('2026-07-01T05:30:00Z', 'Europe/Berlin')).toBe('07:30 CEST');
    expect(timeOfDay('2026-07-01T05:30:00Z')).toBe('05:30 UTC');
  });
});
