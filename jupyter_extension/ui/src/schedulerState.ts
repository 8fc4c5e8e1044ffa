/**
 * What the scheduler banner shows, from `GET /scheduler` and the button the
 * user just pressed: running, starting, stopping, stopped or failed. Pure, so
 * it is tested on its own.
 */
import { SchedulerStatus } from './api';

export type SchedulerState = 'running' | 'starting' | 'stopping' | 'stopped' | 'failed';

/** A request just sent from the banner, not answered yet. */
export type Pending = 'starting' | 'stopping' | null;

/** The state to show: the server's, unless a Start or Stop was just sent and the server has not caught up. */
export function schedulerState(status: SchedulerStatus, pending: Pending = null): SchedulerState {
  const server: SchedulerState =
    status.state ?? (status.running ? 'running' : status.starting ? 'starting' : 'stopped');
  if (pending === 'starting' && (server === 'stopped' || server === 'failed')) {
    return 'starting';
  }
  if (pending === 'stopping' && server === 'running') {
    return 'stopping';
  }
  return server;
}

/** How often to ask again: every second while it changes, every 10 s otherwise. */
export function pollInterval(state: SchedulerState): number {
  return state === 'starting' || state === 'stopping' ? 1000 : 10000;
}

/** Whether the pending request is answered (the server's state moved on from where it was). */
export function settled(status: SchedulerStatus, pending: Pending): boolean {
  const server = status.state ?? (status.running ? 'running' : status.starting ? 'starting' : 'stopped');
  if (pending === 'starting') {
    return server !== 'stopped' && server !== 'failed';
  }
  if (pending === 'stopping') {
    return server !== 'running';
  }
  return true;
}
