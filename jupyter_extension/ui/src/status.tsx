/**
 * How statuses and runs read: one label per status ("up for retry", not
 * "up_for_retry"), one badge whose color says the status (a failure upstream
 * is not the same red as a failure), and a run's title in words
 * ("daily_report and upstream", not "+notebook.notebooks/daily_report").
 */
import * as React from 'react';

const LABELS: Record<string, string> = {
  up_for_retry: 'up for retry',
  upstream_failed: 'upstream failed',
  timed_out: 'timed out',
  broken: 'broken',
  blocked: 'blocked',
  none: 'never ran'
};

/** The words for a node, run, try or tick status. */
export function statusLabel(status: string | null | undefined): string {
  const value = status ?? 'none';
  return LABELS[value] ?? value.split('_').join(' ');
}

export function StatusBadge(props: { status: string | null | undefined; title?: string }): JSX.Element {
  const status = props.status ?? 'none';
  return (
    <span className="jp-Orchestrate-badge" data-status={status} title={props.title}>
      {statusLabel(status)}
    </span>
  );
}

/** The short name of a node id: `model.shop.orders` → `orders`, `notebook.reports/daily` → `daily`. */
export function shortName(nodeId: string): string {
  const rest = nodeId.startsWith('notebook.') ? nodeId.slice('notebook.'.length) : nodeId.split('.').slice(2).join('.');
  return (rest || nodeId).split('/').pop() || nodeId;
}

/** One selector term in words: `+x` → "x and upstream", `x+` → "x and downstream", `tag:f` → "tag f". */
function termTitle(term: string): string {
  const up = term.startsWith('+');
  const down = term.endsWith('+');
  const core = term.replace(/^\+/, '').replace(/\+$/, '');
  let name = core;
  const colon = core.indexOf(':');
  if (colon > 0 && !/^(model|seed|snapshot|test|source|notebook)\./.test(core)) {
    name = `${core.slice(0, colon)} ${core.slice(colon + 1)}`;
  } else if (/^(model|seed|snapshot|test|source|notebook)\./.test(core)) {
    name = shortName(core);
  } else {
    name = core.split('/').pop() || core;
  }
  if (up && down) {
    return `${name} with up- and downstream`;
  }
  return up ? `${name} and upstream` : down ? `${name} and downstream` : name;
}

/** What a run is about, in words: its schedule, its selection, or the whole pipeline. */
export function runTitle(run: { schedule: string | null; selection: string | null }): string {
  if (run.schedule) {
    return run.schedule.split('/').pop() || run.schedule;
  }
  if (!run.selection) {
    return 'whole pipeline';
  }
  const terms = run.selection.split(/\s+/).filter(Boolean);
  const titles = terms.slice(0, 3).map(termTitle);
  return terms.length > 3 ? `${titles.join(', ')} and ${terms.length - 3} more` : titles.join(', ');
}
