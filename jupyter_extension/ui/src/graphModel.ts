/**
 * What the pipeline graph shows, without React: which nodes (a model's tests
 * collapsed into it unless asked for), how big each node is (so React Flow
 * never has to measure it), a node's lineage (upstream and downstream), and
 * search. Tested on its own.
 */
import { GraphNode, NodeState } from './api';

/** Width bounds of a node box, and the height of one line of its name. */
export const NODE_MIN_WIDTH = 160;
export const NODE_MAX_WIDTH = 260;
/** Room for the text inside a box: its padding and its status border. */
const INSET = 22;
/** A generous average width of a character of a 12 px bold name (underscores and lower case). */
const CHAR_WIDTH = 7.6;
const LINE_HEIGHT = 15;
const BASE_HEIGHT = 34;
const MAX_LINES = 3;

export interface NodeBox {
  width: number;
  height: number;
  /** Lines the name takes (1 to 3). */
  lines: number;
}

/** The label a node box shows: the last part of its name. */
export function nodeLabel(node: GraphNode): string {
  return node.name.split('/').pop() || node.name;
}

/** A box wide (and, for a long name, tall) enough for the whole label, so no name is cut. */
export function nodeBox(node: GraphNode): NodeBox {
  const text = nodeLabel(node).length * CHAR_WIDTH;
  const width = Math.min(NODE_MAX_WIDTH, Math.max(NODE_MIN_WIDTH, Math.ceil(text + INSET)));
  const lines = Math.min(MAX_LINES, Math.max(1, Math.ceil(text / (width - INSET))));
  return { width, height: BASE_HEIGHT + lines * LINE_HEIGHT, lines };
}

export interface TestSummary {
  count: number;
  /** The worst status among them: failed, warned, success, reused, or none when none ran. */
  worst: string;
  failing: string[];
}

const WORST_FIRST = ['failed', 'upstream_failed', 'cancelled', 'warned', 'running', 'success', 'reused'];

/** For each model, its tests (a test belongs to the first node it depends on) and their worst status. */
export function testsByModel(nodes: GraphNode[], states: Map<string, NodeState>): Map<string, TestSummary> {
  const found = new Map<string, TestSummary>();
  for (const node of nodes) {
    if (node.resource_type !== 'test' || !node.depends_on.length) {
      continue;
    }
    const owner = node.depends_on[0];
    const entry = found.get(owner) ?? { count: 0, worst: 'none', failing: [] };
    entry.count += 1;
    const status = states.get(node.id)?.last_status ?? 'none';
    if (status === 'failed') {
      entry.failing.push(node.name);
    }
    const rank = (value: string) => {
      const at = WORST_FIRST.indexOf(value);
      return at < 0 ? WORST_FIRST.length : at;
    };
    if (rank(status) < rank(entry.worst)) {
      entry.worst = status;
    }
    found.set(owner, entry);
  }
  return found;
}

/** Graph nodes to show: tests only when asked (a model's tests are many and small, and shown on it). */
export function visibleNodes(nodes: GraphNode[], showTests: boolean): GraphNode[] {
  return showTests ? nodes : nodes.filter(node => node.resource_type !== 'test');
}

/** Everything upstream and downstream of `nodeId` among `nodes` (not the node itself). */
export function lineage(nodes: GraphNode[], nodeId: string): { upstream: Set<string>; downstream: Set<string> } {
  const parents = new Map(nodes.map(node => [node.id, node.depends_on]));
  const children = new Map<string, string[]>();
  for (const node of nodes) {
    for (const parent of node.depends_on) {
      children.set(parent, [...(children.get(parent) ?? []), node.id]);
    }
  }
  const walk = (start: string, edges: (id: string) => string[]) => {
    const seen = new Set<string>();
    const stack = [...edges(start)];
    while (stack.length) {
      const current = stack.pop() as string;
      if (!seen.has(current)) {
        seen.add(current);
        stack.push(...edges(current));
      }
    }
    return seen;
  };
  return {
    upstream: walk(nodeId, id => parents.get(id) ?? []),
    downstream: walk(nodeId, id => children.get(id) ?? [])
  };
}

/** Nodes whose name or id contains every word of `query` (case-insensitive); empty for an empty query. */
export function searchNodes(nodes: GraphNode[], query: string): string[] {
  const words = query.toLowerCase().split(/\s+/).filter(Boolean);
  if (!words.length) {
    return [];
  }
  return nodes
    .filter(node => {
      const haystack = `${node.name} ${node.id} ${node.resource_type}`.toLowerCase();
      return words.every(word => haystack.includes(word));
    })
    .map(node => node.id);
}

/** The status a node box is drawn with: broken, blocked, source, its last status, or none. */
export function drawnStatus(node: GraphNode, state: NodeState | null): string {
  if (state?.problem) {
    return 'broken';
  }
  if (node.kind === 'source') {
    return 'source';
  }
  return state?.last_status ?? 'none';
}

/** A saved query's exports as lines for its card: "revenue_export: table main.revenue_export". */
export function exportLines(node: GraphNode): string[] {
  return (node.details?.exports ?? []).map(item => {
    const relation = [item.schema, item.alias ?? item.name].filter(Boolean).join('.');
    return `${item.name}: ${item.export_as ?? 'export'} ${relation}`;
  });
}

/** A drawn node's center, for moving between nodes with the arrow keys. */
export interface NodeCenter {
  id: string;
  x: number;
  y: number;
}

export type ArrowKey = 'ArrowUp' | 'ArrowDown' | 'ArrowLeft' | 'ArrowRight';

/**
 * The node an arrow key moves to from `fromId`: the nearest one in that direction, a node straight ahead
 * counting more than one off to the side; null when there is none that way.
 */
export function nodeInDirection(nodes: NodeCenter[], fromId: string, key: ArrowKey): string | null {
  const from = nodes.find(node => node.id === fromId);
  if (!from) {
    return null;
  }
  const horizontal = key === 'ArrowLeft' || key === 'ArrowRight';
  const sign = key === 'ArrowRight' || key === 'ArrowDown' ? 1 : -1;
  let best: string | null = null;
  let bestScore = Infinity;
  for (const node of nodes) {
    if (node.id === fromId) {
      continue;
    }
    const ahead = sign * (horizontal ? node.x - from.x : node.y - from.y);
    const aside = Math.abs(horizontal ? node.y - from.y : node.x - from.x);
    if (ahead <= 0.5) {
      continue;
    }
    const score = ahead + 2 * aside;
    if (score < bestScore) {
      best = node.id;
      bestScore = score;
    }
  }
  return best;
}
