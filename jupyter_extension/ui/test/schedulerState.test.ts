import { describe, expect, it } from 'vitest';

import { SchedulerStatus } from '../src/api';
import { pollInterval, schedulerState, settled } from '../src/schedulerState';

function status(patch: Partial<SchedulerStatus>): SchedulerStatus {
  return { running: false, holder: null, host: null, pid: null, detail: null, command: 'orchestrate scheduler', ...patch };
}

describe('schedulerState', () => {
  it("shows the server's state", () => {
    for (const state of ['running', 'starting', 'stopping', 'stopped', 'failed'] as const) {
      expect(schedulerState(status({ state }))).toBe(state);
    }
  });

  it('reads an older server without a state', () => {
    expect(schedulerState(status({ running: true }))).toBe('running');
    expect(schedulerState(status({ starting: true }))).toBe('starting');
    expect(schedulerState(status({}))).toBe('stopped');
  });

  it('says starting at once after Start, and stopping at once after Stop', () => {
    expect(schedulerState(status({ state: 'failed' }), 'starting')).toBe('starting');
    expect(schedulerState(status({ state: 'stopped' }), 'starting')).toBe('starting');
    expect(schedulerState(status({ state: 'running' }), 'stopping')).toBe('stopping');
  });

  it('a Start that failed shows the failure, not "starting" for ever', () => {
    // Once the Start request is answered the banner shows the server's state again (pending cleared).
    expect(schedulerState(status({ state: 'failed', reason: 'the scheduler cannot start: x' }), null)).toBe('failed');
  });

  it('knows when a Stop is answered', () => {
    expect(settled(status({ state: 'running' }), 'stopping')).toBe(false);
    expect(settled(status({ state: 'stopping' }), 'stopping')).toBe(true);
    expect(settled(status({ state: 'stopped' }), 'stopping')).toBe(true);
    expect(settled(status({ state: 'starting' }), 'starting')).toBe(true);
    expect(settled(status({ state: 'stopped' }), null)).toBe(true);
  });

  it('asks every second while the state changes', () => {
    expect(pollInterval('starting')).toBe(1000);
    expect(pollInterval('stopping')).toBe(1000);
    expect(pollInterval('running')).toBe(10000);
    expect(pollInterval('failed')).toBe(10000);
  });
});
