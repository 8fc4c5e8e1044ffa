/**
 * How "Only what changed" runs read, without React: why a node ran or was
 * reused (the run ids in the engine's reason become links), what a reused
 * node stands for, and how a run sums up its reused nodes.
 *
 * The engine's reasons are text such as `code unchanged, inputs unchanged
 * since 20240131T060000-3f9a1c07be`, `code changed since …` or `upstream
 * model.shop.orders ran`; a run id inside one is found by its shape
 * (`YYYYMMDDTHHMMSS-<hex>`), never by the wording around it.
 */
import { RunDetail, RunNode, RunSummary } from './api';
import { shortName } from './status';

/** A piece of a reason: plain text, or a run id to link to. */
export type ReasonPart = { text: string; runId?: undefined } | { text: string; runId: string };

const RUN_ID = /\b\d{8}T\d{6}-[0-9a-f]+\b/g;

/** The reason split into text and run ids (each run id a part of its own, to link to that run). */
export function reasonParts(reason: string): ReasonPart[] {
  const parts: ReasonPart[] = [];
  let at = 0;
  for (const match of reason.matchAll(RUN_ID)) {
    const start = match.index ?? 0;
    if (start > at) {
      parts.push({ text: reason.slice(at, start) });
    }
    parts.push({ text: match[0], runId: match[0] });
    at = start + match[0].length;
  }
  if (at < reason.length) {
    parts.push({ text: reason.slice(at) });
  }
  return parts;
}

/** What a node row says about why the node ran or was reused; null when the run does not tell. */
export function nodeReason(node: RunNode): { label: string; reason: string } | null {
  if (!node.reason) {
    return null;
  }
  if (node.status === 'reused') {
    return { label: 'Reused', reason: node.reason };
  }
  if (node.status === 'pending' || node.status === 'queued' || node.status === 'waiting') {
    return { label: 'Will run', reason: node.reason };
  }
  return { label: 'Ran', reason: node.reason };
}

/** The run a reused node's result comes from, or null for any other node. */
export function reusedFrom(node: RunNode): string | null {
  return node.status === 'reused' && node.reused_from ? node.reused_from : null;
}

/** Whether the node's reason names the run it reuses (then that run id is the link, not repeated). */
export function reasonNamesSource(node: RunNode): boolean {
  const from = reusedFrom(node);
  return !!from && !!node.reason && reasonParts(node.reason).some(part => part.runId === from);
}

/** The header's line about a run that ran only what changed ("Only what changed: 3 of 5 nodes reused"). */
export function onlyChangedSummary(run: RunDetail): string | null {
  if (!run.only_changed) {
    return null;
  }
  const nodes = run.nodes.filter(node => !node.id.startsWith('test.'));
  const reused = nodes.filter(node => node.status === 'reused').length;
  const tests = run.nodes.length - nodes.length;
  const reusedTests = run.nodes.filter(node => node.id.startsWith('test.') && node.status === 'reused').length;
  const counted = `${reused} of ${nodes.length} node${nodes.length === 1 ? '' : 's'} reused`;
  return `Only what changed: ${counted}${tests ? `, ${reusedTests} of ${tests} dbt test${tests === 1 ? '' : 's'} reused` : ''}`;
}

/** The runs list's badge for a run's reused nodes ("3 reused"), or null when none was reused. */
export function reusedBadge(run: RunSummary): { text: string; title: string } | null {
  const count = run.reused ?? 0;
  if (!count) {
    return null;
  }
  return {
    text: `${count} reused`,
    title: `${count} node${count === 1 ? '' : 's'} not run: ${count === 1 ? 'its' : 'their'} earlier result was still current (Only what changed)`
  };
}

/** The tooltip of a reused node's timeline mark. */
export function reusedTitle(node: RunNode): string {
  const from = reusedFrom(node);
  return `${shortName(node.id)}: reused${from ? ` from run ${from}` : ''}${node.reason ? ` (${node.reason})` : ''}`;
}
