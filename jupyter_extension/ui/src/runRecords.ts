/**
 * Run records as the views read them, without React (unit-tested on their own):
 * the lines of a failure's cause and the one-line summary of a run's plan.
 */
import type { RunPlan } from './api';

/** What a plan's actions read as. */
export const PLAN_LABELS: Record<string, string> = { run: 'runs', reused: 'reused', left_out: 'left out' };

/** The lines to show: the server's `error_lines`, else the first lines of `error`. */
export function causeLines(lines: string[] | undefined, error?: string | null, limit = 6): string[] {
  if (lines && lines.length) {
    return lines;
  }
  return (error ?? '')
    .split('\n')
    .filter(line => line.trim())
    .slice(0, limit);
}

/** "3 will run · 2 reused · 1 left out" for a plan. */
export function planSummary(plan: RunPlan): string {
  const counts = new Map<string, number>();
  for (const node of plan.nodes) {
    counts.set(node.action, (counts.get(node.action) ?? 0) + 1);
  }
  const parts = ['run', 'reused', 'left_out']
    .filter(action => counts.get(action))
    .map(action => `${counts.get(action)} ${action === 'run' ? 'will run' : PLAN_LABELS[action]}`);
  return parts.length ? parts.join(' · ') : 'nothing to run';
}

