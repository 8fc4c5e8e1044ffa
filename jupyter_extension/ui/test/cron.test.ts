import { describe, expect, it } from 'vitest';

import { CUSTOM, describeCron, NOT_SCHEDULED, formatFireTime, normalizeCron, presetFor, PRESETS, validateCron } from '../src/cron';

describe('validateCron', () => {
  it('accepts the presets, lists, ranges, steps, names and aliases', () => {
    for (const preset of PRESETS) {
      expect(validateCron(preset.cron)).toBeNull();
    }
    for (const expression of ['*/15 * * * *', '0 6,18 1-15/2 JAN-MAR MON-FRI', '30 23 L * *'.replace('L', '31'), '@daily', ' 0  7 * * 7 ']) {
      expect(validateCron(expression), expression).toBeNull();
    }
  });

  it('says which field is wrong and why', () => {
    expect(validateCron('0 7 * *')).toBe(
      "a cron expression has 5 fields (minute hour day-of-month month day-of-week); '0 7 * *' has 4"
    );
    expect(validateCron('61 * * * *')).toBe("minute field '61': 61 is out of range 0-59");
    expect(validateCron('0 24 * * *')).toBe("hour field '24': 24 is out of range 0-23");
    expect(validateCron('0 7 0 * *')).toBe("day-of-month field '0': 0 is out of range 1-31");
    expect(validateCron('0 7 * 13 *')).toBe("month field '13': 13 is out of range 1-12");
    expect(validateCron('0 7 * * FUNDAY')).toBe("day-of-week field 'FUNDAY': 'FUNDAY' is not a number or a name such as MON");
    expect(validateCron('0 7 * * 5-1')).toBe("day-of-week field '5-1': the range 5-1 runs backwards; write the smaller value first");
    expect(validateCron('*/0 * * * *')).toBe("minute field '*/0': the step '0' must be a whole number of at least 1");
    expect(validateCron('1,,2 * * * *')).toBe("minute field '1,,2': an empty item in a list; remove the extra comma");
    expect(validateCron('   ')).toBe('enter a cron expression, e.g. 0 7 * * 1-5 for 07:00 on weekdays');
  });
});

describe('describeCron', () => {
  it('reads an expression as a sentence', () => {
    expect(describeCron('0 7 * * 1-5')).toBe('At 07:00, Monday through Friday');
    expect(describeCron('*/15 * * * *')).toBe('Every 15 minutes');
    expect(describeCron('@daily')).toBe('At 00:00');
  });

  it('is empty for an invalid expression', () => {
    expect(describeCron('0 7 * *')).toBe('');
    expect(describeCron('99 * * * *')).toBe('');
  });
});

describe('presets', () => {
  it('finds the preset of an expression, however it is spaced', () => {
    expect(presetFor('0   7 * * 1-5')).toBe('0 7 * * 1-5');
    expect(presetFor('  ')).toBe(NOT_SCHEDULED);
    expect(presetFor('@hourly')).toBe('0 * * * *');
    expect(presetFor('5 7 * * 1-5')).toBe(CUSTOM);
    expect(normalizeCron('@WEEKLY')).toBe('0 0 * * 0');
  });
});

describe('formatFireTime', () => {
  it("shows an instant on the schedule's own wall clock, across daylight saving time", () => {
    expect(formatFireTime('2026-03-27T06:00:00Z', 'Europe/Berlin')).toBe('Fri 27 Mar 2026, 07:00 CET');
    expect(formatFireTime('2026-03-30T05:00:00Z', 'Europe/Berlin')).toBe('Mon 30 Mar 2026, 07:00 CEST');
    expect(formatFireTime('2026-03-30T07:00:00+02:00', 'UTC')).toBe('Mon 30 Mar 2026, 05:00 UTC');
  });

  it('leaves what it cannot read as it is', () => {
    expect(formatFireTime('not a time', 'UTC')).toBe('not a time');
    expect(formatFireTime('2026-03-30T05:00:00Z', 'Mars/Olympus')).toBe('2026-03-30T05:00:00Z');
  });
});
