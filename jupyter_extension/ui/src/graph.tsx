/**
 * The pipeline as a graph: dbt models and notebooks together, each colored by
 * its last status with its freshness ("2 h ago") and SLA markers; broken nodes
 * marked; a model's tests summed up on it. Laid out by dagre, drawn by React Flow.
 *
 * Every node carries its size and handles, so React Flow never hides a node
 * while it waits to measure it (a measurement that never came left the graph
 * blank after switching tabs). In the sidebar the view keeps a readable zoom
 * and pans rather than shrinking the graph to dots.
 */
import dagre from '@dagrejs/dagre';
import {
  Background,
  Controls,
  Edge,
  Handle,
  Node,
  NodeProps,
  Position,
  ReactFlow,
  useReactFlow,
  useStore
} from '@xyflow/react';
import * as React from 'react';

import { GraphNode, NodeState } from './api';
import { ArrowKey, drawnStatus, lineage, nodeBox, nodeInDirection, nodeLabel, TestSummary, testsByModel } from './graphModel';
import { statusLabel } from './status';
import { relativeTime } from './time';

export interface PipelineNodeData extends Record<string, unknown> {
  node: GraphNode;
  state: NodeState | null;
  selected: boolean;
  vertical: boolean;
  /** 'self', 'up', 'down' when a node is selected (or matched); 'dim' for the others. */
  focus: string | null;
  tests: TestSummary | null;
  lines: number;
  /** The one node Tab stops at (roving tabindex): the others are reached with the arrow keys. */
  tabStop?: boolean;
}

/** What a node does with the keyboard: Enter/Space open its card, arrows move to the next node. */
interface GraphKeys {
  open: (nodeId: string) => void;
  move: (nodeId: string, key: ArrowKey) => void;
  focused: (nodeId: string) => void;
}

const GraphKeysContext = React.createContext<GraphKeys | null>(null);
const ARROWS = new Set(['ArrowUp', 'ArrowDown', 'ArrowLeft', 'ArrowRight']);

export type PipelineNode = Node<PipelineNodeData, 'pipeline'>;

/** "succeeded 2 h ago", "reused 5 min ago: unchanged", "failed 5 min ago", "never ran". */
export function freshness(state: NodeState | null, now: Date = new Date()): string {
  if (state?.problem) {
    return 'broken: cannot run';
  }
  if (state?.blocked_by) {
    return 'waits for a broken node';
  }
  if (!state || !state.last_status) {
    return 'never ran';
  }
  if (state.last_status === 'success') {
    return `succeeded ${relativeTime(state.last_success_at, now)}`;
  }
  if (state.last_status === 'reused') {
    return `reused ${relativeTime(state.last_finished_at ?? state.last_success_at, now)}: unchanged`;
  }
  const when = state.last_finished_at ? ` ${relativeTime(state.last_finished_at, now)}` : '';
  const success = state.last_success_at ? `; last success ${relativeTime(state.last_success_at, now)}` : '';
  return `${statusLabel(state.last_status)}${when}${success}`;
}

function focusOf(nodeId: string, selected: string | null, family: { upstream: Set<string>; downstream: Set<string> } | null, matches: Set<string>): string | null {
  if (selected && family) {
    if (nodeId === selected) {
      return 'self';
    }
    return family.upstream.has(nodeId) ? 'up' : family.downstream.has(nodeId) ? 'down' : 'dim';
  }
  if (matches.size) {
    return matches.has(nodeId) ? 'self' : 'dim';
  }
  return null;
}

/** Positions and sizes for `nodes` (dependencies first) and the edges between them. */
export function layoutGraph(
  nodes: GraphNode[],
  states: Map<string, NodeState>,
  selectedId: string | null,
  direction: 'LR' | 'TB' = 'LR',
  options: { allNodes?: GraphNode[]; matches?: Set<string>; collapseTests?: boolean } = {}
): { nodes: PipelineNode[]; edges: Edge[] } {
  const graph = new dagre.graphlib.Graph();
  graph.setGraph({ rankdir: direction, nodesep: 14, ranksep: direction === 'LR' ? 48 : 36, marginx: 8, marginy: 8 });
  graph.setDefaultEdgeLabel(() => ({}));
  const shown = new Set(nodes.map(node => node.id));
  const boxes = new Map(nodes.map(node => [node.id, nodeBox(node)]));
  for (const node of nodes) {
    const box = boxes.get(node.id)!;
    graph.setNode(node.id, { width: box.width, height: box.height });
  }
  const all = options.allNodes ?? nodes;
  const family = selectedId ? lineage(all, selectedId) : null;
  const matches = options.matches ?? new Set<string>();
  const tests = options.collapseTests ? testsByModel(all, states) : new Map<string, TestSummary>();
  const edges: Edge[] = [];
  for (const node of nodes) {
    for (const parent of node.depends_on) {
      if (shown.has(parent)) {
        graph.setEdge(parent, node.id);
        const onPath = family && (parent === selectedId || family.upstream.has(parent)) && (node.id === selectedId || family.upstream.has(node.id));
        const downPath = family && (parent === selectedId || family.downstream.has(parent)) && (node.id === selectedId || family.downstream.has(node.id));
        edges.push({
          id: `${parent}->${node.id}`,
          source: parent,
          target: node.id,
          className: onPath || downPath ? 'jp-mod-lineage' : family ? 'jp-mod-dim' : undefined
        });
      }
    }
  }
  dagre.layout(graph);
  const vertical = direction === 'TB';
  const placed: PipelineNode[] = nodes.map(node => {
    const point = graph.node(node.id);
    const box = boxes.get(node.id)!;
    return {
      id: node.id,
      type: 'pipeline',
      position: { x: point.x - box.width / 2, y: point.y - box.height / 2 },
      width: box.width,
      height: box.height,
      // Known size and handles: React Flow draws the node and its edges without measuring first.
      measured: { width: box.width, height: box.height },
      handles: [
        { type: 'target', position: vertical ? Position.Top : Position.Left, x: vertical ? box.width / 2 : 0, y: vertical ? 0 : box.height / 2, width: 1, height: 1 },
        { type: 'source', position: vertical ? Position.Bottom : Position.Right, x: vertical ? box.width / 2 : box.width, y: vertical ? box.height : box.height / 2, width: 1, height: 1 }
      ],
      data: {
        node,
        state: states.get(node.id) ?? null,
        selected: node.id === selectedId,
        vertical,
        focus: focusOf(node.id, selectedId, family, matches),
        tests: tests.get(node.id) ?? null,
        lines: box.lines
      },
      draggable: false,
      connectable: false
    };
  });
  return { nodes: placed, edges };
}

function Markers(props: { state: NodeState | null }): JSX.Element | null {
  const markers = props.state?.markers ?? [];
  if (!markers.length) {
    return null;
  }
  return (
    <span className="jp-Orchestrate-markers">
      {markers.map((marker, index) => (
        <span key={index} className="jp-Orchestrate-marker" data-kind={marker.kind} title={marker.message}>
          {marker.kind}
        </span>
      ))}
    </span>
  );
}

function PipelineNodeView(props: NodeProps<PipelineNode>): JSX.Element {
  const { node, state, selected, vertical, focus, tests, lines, tabStop } = props.data;
  const keys = React.useContext(GraphKeysContext);
  const onKeyDown = (event: React.KeyboardEvent) => {
    if (event.key === 'Enter' || event.key === ' ') {
      event.preventDefault();
      event.stopPropagation();
      keys?.open(node.id);
    } else if (ARROWS.has(event.key)) {
      event.preventDefault();
      event.stopPropagation();
      keys?.move(node.id, event.key as ArrowKey);
    }
  };
  const status = drawnStatus(node, state);
  const title = [node.id, state?.problem ?? freshness(state), ...(state?.markers ?? []).map(marker => marker.message)]
    .filter(Boolean)
    .join('\n');
  return (
    <div
      className={`jp-Orchestrate-graphNode${selected ? ' jp-mod-selected' : ''}`}
      data-status={status}
      data-node-id={node.id}
      data-focus={focus ?? undefined}
      data-blocked={state?.blocked_by ? 'true' : undefined}
      data-lines={lines}
      title={title}
      role="button"
      tabIndex={tabStop ? 0 : -1}
      aria-label={`${nodeLabel(node)}, ${node.resource_type}, ${state?.problem ? 'broken' : node.kind === 'source' ? 'source' : freshness(state)}`}
      aria-pressed={selected}
      onKeyDown={onKeyDown}
      onFocus={() => keys?.focused(node.id)}
    >
      <Handle type="target" position={vertical ? Position.Top : Position.Left} isConnectable={false} />
      <div className="jp-Orchestrate-graphNodeName">{nodeLabel(node)}</div>
      <div className="jp-Orchestrate-graphNodeMeta">
        <span className="jp-Orchestrate-kind">{node.resource_type}</span>
        <Markers state={state} />
        {tests ? (
          <span className="jp-Orchestrate-testCount" data-status={tests.worst} title={tests.failing.length ? `failing: ${tests.failing.join(', ')}` : undefined}>
            {tests.count} test{tests.count === 1 ? '' : 's'}
          </span>
        ) : null}
        <span className="jp-Orchestrate-freshness">{node.kind === 'source' ? 'source' : freshness(state)}</span>
      </div>
      <Handle type="source" position={vertical ? Position.Bottom : Position.Right} isConnectable={false} />
    </div>
  );
}

const NODE_TYPES = { pipeline: PipelineNodeView };

/** The zoom below which node names are hard to read (12 px names at 0.85 are 10 px). */
export const READABLE_ZOOM = 0.85;

/** Fit the graph again whenever its box changes size (e.g. the sidebar opens) or its nodes change. */
function FitOnResize(props: { count: number; minZoom: number }): null {
  const { fitView } = useReactFlow();
  const width = useStore(state => state.width);
  const height = useStore(state => state.height);
  React.useEffect(() => {
    if (width > 0 && height > 0) {
      void fitView({ padding: 0.08, minZoom: props.minZoom, maxZoom: 1.2 });
    }
  }, [width, height, props.count, props.minZoom, fitView]);
  return null;
}

/** Pan to a node (the first search match) without changing the zoom. */
function CenterOn(props: { nodeId: string | null; nodes: PipelineNode[] }): null {
  const { setCenter, getZoom } = useReactFlow();
  React.useEffect(() => {
    const target = props.nodes.find(node => node.id === props.nodeId);
    if (target) {
      void setCenter(target.position.x + (target.width ?? 0) / 2, target.position.y + (target.height ?? 0) / 2, {
        zoom: getZoom(),
        duration: 200
      });
    }
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [props.nodeId]);
  return null;
}

export function PipelineGraph(props: {
  nodes: GraphNode[];
  allNodes: GraphNode[];
  states: NodeState[];
  selectedId: string | null;
  onSelect: (nodeId: string | null) => void;
  matches: Set<string>;
  centerOn: string | null;
  collapseTests: boolean;
  large?: boolean;
}): JSX.Element {
  const stateMap = React.useMemo(() => new Map(props.states.map(state => [state.id, state])), [props.states]);
  const direction = props.large ? 'LR' : 'TB';
  const layout = React.useMemo(
    () =>
      layoutGraph(props.nodes, stateMap, props.selectedId, direction, {
        allNodes: props.allNodes,
        matches: props.matches,
        collapseTests: props.collapseTests
      }),
    [props.nodes, props.allNodes, stateMap, props.selectedId, direction, props.matches, props.collapseTests]
  );
  // Roving tabindex: one node is the graph's tab stop (the last focused, else the selected one, else the first).
  const [active, setActive] = React.useState<string | null>(null);
  const ids = layout.nodes.map(node => node.id);
  const tabStop =
    active && ids.includes(active) ? active : props.selectedId && ids.includes(props.selectedId) ? props.selectedId : ids[0] ?? null;
  const nodes = React.useMemo(
    () => layout.nodes.map(node => (node.id === tabStop ? { ...node, data: { ...node.data, tabStop: true } } : node)),
    [layout.nodes, tabStop]
  );
  const box = React.useRef<HTMLDivElement>(null);
  const keys = React.useMemo<GraphKeys>(
    () => ({
      open: nodeId => {
        if (nodeId !== props.selectedId) {
          props.onSelect(nodeId);
        }
      },
      focused: nodeId => setActive(nodeId),
      move: (nodeId, key) => {
        const centers = layout.nodes.map(node => ({
          id: node.id,
          x: node.position.x + (node.width ?? 0) / 2,
          y: node.position.y + (node.height ?? 0) / 2
        }));
        const next = nodeInDirection(centers, nodeId, key);
        if (next) {
          setActive(next);
          box.current?.querySelector<HTMLElement>(`.jp-Orchestrate-graphNode[data-node-id="${CSS.escape(next)}"]`)?.focus();
        }
      }
    }),
    [layout.nodes, props.selectedId, props.onSelect]
  );
  // In the narrow sidebar, stay readable (pan to see the rest) rather than shrink a big graph to dots.
  const fitMinZoom = props.large ? 0.1 : READABLE_ZOOM;
  return (
    <div
      className={`jp-Orchestrate-graph${props.large ? ' jp-mod-large' : ''}`}
      aria-label="pipeline graph"
      role="figure"
      ref={box}
    >
      <GraphKeysContext.Provider value={keys}>
      <ReactFlow
        nodes={nodes}
        edges={layout.edges}
        nodesFocusable={false}
        edgesFocusable={false}
        nodeTypes={NODE_TYPES}
        minZoom={0.1}
        maxZoom={2}
        nodesDraggable={false}
        nodesConnectable={false}
        proOptions={{ hideAttribution: true }}
        onNodeClick={(_, node) => props.onSelect(node.id === props.selectedId ? null : node.id)}
        onPaneClick={() => props.onSelect(null)}
      >
        <Background gap={16} size={1} />
        <Controls showInteractive={false} />
        <FitOnResize count={layout.nodes.length} minZoom={fitMinZoom} />
        <CenterOn nodeId={props.centerOn} nodes={layout.nodes} />
      </ReactFlow>
      </GraphKeysContext.Provider>
    </div>
  );
}

/** What the colors and marks of the graph mean. */
export function GraphLegend(): JSX.Element {
  const statuses = ['success', 'reused', 'failed', 'upstream_failed', 'running', 'warned', 'cancelled', 'none'];
  return (
    <details className="jp-Orchestrate-legend">
      <summary>Legend</summary>
      <ul aria-label="legend">
        {statuses.map(status => (
          <li key={status}>
            <span className="jp-Orchestrate-swatch" data-status={status} /> {statusLabel(status)}
            {status === 'reused' ? ': unchanged, its earlier result kept (Only what changed)' : ''}
          </li>
        ))}
        <li>
          <span className="jp-Orchestrate-swatch" data-status="broken" /> broken: fix its metadata
        </li>
        <li>
          <span className="jp-Orchestrate-swatch" data-status="source" /> source (data, not run)
        </li>
        <li>
          <span className="jp-Orchestrate-marker" data-kind="stale">stale</span> older than its SLA freshness
        </li>
        <li>
          <span className="jp-Orchestrate-marker" data-kind="overdue">overdue</span> past its SLA deadline
        </li>
        <li>
          <span className="jp-Orchestrate-testCount" data-status="success">3 tests</span> a model's dbt tests (worst status)
        </li>
      </ul>
    </details>
  );
}
