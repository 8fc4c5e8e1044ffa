/**
 * A run's timeline (Gantt): one row per node that started, one bar per try,
 * placed on the run's time axis and colored by how the try ended, so waits,
 * retries and the critical path show at a glance. A reused node (Only what
 * changed) gets a hollow mark: it did not run.
 */
import * as React from 'react';

import { Attempt, RunDetail } from './api';
import { reusedTitle } from './reuse';
import { shortName, statusLabel } from './status';
import { formatDuration, timeOfDay } from './time';

export interface TimelineRow {
  nodeId: string;
  bars: { tryNumber: number; status: string; left: number; width: number; title: string }[];
}

/**
 * Rows and the axis of a run's timeline; bar positions are percentages of the run's span.
 * A reused node never ran: its row has one thin `reused` mark where the run decided to reuse it.
 */
export function timelineRows(run: RunDetail, now: Date = new Date()): { rows: TimelineRow[]; start: number; end: number } {
  const attempts = run.attempts.filter(attempt => attempt.started_at);
  const tried = new Set(attempts.map(attempt => attempt.node_id));
  const reused = run.nodes.filter(node => node.status === 'reused' && node.finished_at && !tried.has(node.id));
  if (!attempts.length && !reused.length) {
    return { rows: [], start: 0, end: 0 };
  }
  const time = (iso: string | null) => (iso ? new Date(iso).getTime() : now.getTime());
  const start = Math.min(...attempts.map(attempt => time(attempt.started_at)), ...reused.map(node => time(node.finished_at)));
  const end = Math.max(start + 1000, ...attempts.map(attempt => time(attempt.finished_at)), ...reused.map(node => time(node.finished_at)));
  const span = end - start;
  const order = new Map(run.nodes.map((node, index) => [node.id, index]));
  const byNode = new Map<string, Attempt[]>();
  for (const attempt of attempts) {
    byNode.set(attempt.node_id, [...(byNode.get(attempt.node_id) ?? []), attempt]);
  }
  const rows = [...byNode.entries()]
    .sort(([a, first], [b, second]) => time(first[0].started_at) - time(second[0].started_at) || (order.get(a) ?? 0) - (order.get(b) ?? 0))
    .map(([nodeId, tries]) => ({
      nodeId,
      bars: tries.map(attempt => {
        const from = time(attempt.started_at);
        const to = time(attempt.finished_at);
        return {
          tryNumber: attempt.try_number,
          status: attempt.status,
          left: ((from - start) / span) * 100,
          width: Math.max(0.6, ((to - from) / span) * 100),
          title: `${shortName(nodeId)} try ${attempt.try_number}: ${statusLabel(attempt.status)}, ${timeOfDay(attempt.started_at)} for ${formatDuration((to - from) / 1000)}`
        };
      })
    }));
  const marks = reused.map(node => ({
    nodeId: node.id,
    at: time(node.finished_at),
    bars: [{ tryNumber: 0, status: 'reused', left: Math.min(99.4, ((time(node.finished_at) - start) / span) * 100), width: 0.6, title: reusedTitle(node) }]
  }));
  for (const mark of marks) {
    const before = rows.findIndex(row => time(byNode.get(row.nodeId)?.[0].started_at ?? null) > mark.at);
    rows.splice(before < 0 ? rows.length : before, 0, { nodeId: mark.nodeId, bars: mark.bars });
  }
  return { rows, start, end };
}

export function Timeline(props: { run: RunDetail; showTests: boolean }): JSX.Element | null {
  const { rows, start, end } = timelineRows(props.run);
  const shown = rows.filter(row => props.showTests || !row.nodeId.startsWith('test.'));
  if (!shown.length) {
    return null;
  }
  return (
    <figure className="jp-Orchestrate-timeline" aria-label={`timeline of the run, ${formatDuration((end - start) / 1000)} from its first try to its last`}>
      <div className="jp-Orchestrate-timelineAxis">
        <span>{timeOfDay(new Date(start).toISOString(), undefined, true)}</span>
        <span>{timeOfDay(new Date((start + end) / 2).toISOString(), undefined, true)}</span>
        <span>{timeOfDay(new Date(end).toISOString(), undefined, true)}</span>
      </div>
      {shown.map(row => (
        <div className="jp-Orchestrate-timelineRow" key={row.nodeId} data-timeline-node={row.nodeId}>
          <span className="jp-Orchestrate-timelineLabel" title={row.nodeId}>
            {shortName(row.nodeId)}
          </span>
          <span className="jp-Orchestrate-timelineTrack">
            {row.bars.map(bar => (
              <span
                key={bar.tryNumber}
                className="jp-Orchestrate-timelineBar"
                data-status={bar.status}
                style={{ left: `${bar.left}%`, width: `${bar.width}%` }}
                title={bar.title}
                aria-label={bar.status === 'reused' ? bar.title : undefined}
                role={bar.status === 'reused' ? 'img' : undefined}
              />
            ))}
          </span>
        </div>
      ))}
    </figure>
  );
}
