import { describe, expect, it } from 'vitest';

import { formatDuration, formatTime, relativeTime } from '../src/time';

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
  it('shows the local time (UTC in these tests)', () => {
    expect(formatTime('2026-11-21T20:04:00Z')).toBe('21 Nov 2026, 20:04');
    expect(formatTime(null)).toBe('');
  });
});
