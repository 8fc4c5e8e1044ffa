/**
 * The pipeline as a graph: dbt models and notebooks together, each colored by
 * its last status with its freshness ("2 h ago"). Laid out by dagre, drawn by
 * React Flow.
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
import { relativeTime } from './time';

export const NODE_WIDTH = 170;
export const NODE_HEIGHT = 44;

export interface PipelineNodeData extends Record<string, unknown> {
  node: GraphNode;
  state: NodeState | null;
  selected: boolean;
  vertical: boolean;
}

export type PipelineNode = Node<PipelineNodeData, 'pipeline'>;

/** Graph nodes to show: tests only when asked (a model's tests are many and small). */
export function visibleNodes(nodes: GraphNode[], showTests: boolean): GraphNode[] {
  return showTests ? nodes : nodes.filter(node => node.resource_type !== 'test');
}

/** Positions for `nodes` (left to right, dependencies first) and the edges between them. */
export function layoutGraph(
  nodes: GraphNode[],
  states: Map<string, NodeState>,
  selectedId: string | null,
  direction: 'LR' | 'TB' = 'LR'
): { nodes: PipelineNode[]; edges: Edge[] } {
  const graph = new dagre.graphlib.Graph();
  graph.setGraph({ rankdir: direction, nodesep: 14, ranksep: direction === 'LR' ? 48 : 36, marginx: 8, marginy: 8 });
  graph.setDefaultEdgeLabel(() => ({}));
  const shown = new Set(nodes.map(node => node.id));
  for (const node of nodes) {
    graph.setNode(node.id, { width: NODE_WIDTH, height: NODE_HEIGHT });
  }
  const edges: Edge[] = [];
  for (const node of nodes) {
    for (const parent of node.depends_on) {
      if (shown.has(parent)) {
        graph.setEdge(parent, node.id);
        edges.push({ id: `${parent}->${node.id}`, source: parent, target: node.id });
      }
    }
  }
  dagre.layout(graph);
  const placed: PipelineNode[] = nodes.map(node => {
    const point = graph.node(node.id);
    return {
      id: node.id,
      type: 'pipeline',
      position: { x: point.x - NODE_WIDTH / 2, y: point.y - NODE_HEIGHT / 2 },
      data: { node, state: states.get(node.id) ?? null, selected: node.id === selectedId, vertical: direction === 'TB' },
      draggable: false,
      connectable: false
    };
  });
  return { nodes: placed, edges };
}

/** "succeeded 2 h ago", "failed 5 min ago", "never ran". */
export function freshness(state: NodeState | null, now: Date = new Date()): string {
  if (!state || !state.last_status) {
    return 'never ran';
  }
  if (state.last_status === 'success') {
    return `succeeded ${relativeTime(state.last_success_at, now)}`;
  }
  const when = state.last_finished_at ? ` ${relativeTime(state.last_finished_at, now)}` : '';
  const success = state.last_success_at ? `; last success ${relativeTime(state.last_success_at, now)}` : '';
  return `${state.last_status.replace('_', ' ')}${when}${success}`;
}

function PipelineNodeView(props: NodeProps<PipelineNode>): JSX.Element {
  const { node, state, selected, vertical } = props.data;
  const status = node.kind === 'source' ? 'source' : (state?.last_status ?? 'none');
  return (
    <div
      className={`jp-Orchestrate-graphNode${selected ? ' jp-mod-selected' : ''}`}
      data-status={status}
      data-node-id={node.id}
      title={`${node.id}\n${freshness(state)}`}
    >
      <Handle type="target" position={vertical ? Position.Top : Position.Left} isConnectable={false} />
      <div className="jp-Orchestrate-graphNodeName">
        <span className="jp-Orchestrate-kind">{node.resource_type}</span>{' '}
        {node.name.split('/').pop()}
      </div>
      <div className="jp-Orchestrate-graphNodeMeta">{node.kind === 'source' ? 'source' : freshness(state)}</div>
      <Handle type="source" position={vertical ? Position.Bottom : Position.Right} isConnectable={false} />
    </div>
  );
}

const NODE_TYPES = { pipeline: PipelineNodeView };

/** Fit the graph again whenever its box changes size (e.g. the sidebar opens) or its nodes change. */
function FitOnResize(props: { count: number; minZoom: number }): null {
  const { fitView } = useReactFlow();
  const width = useStore(state => state.width);
  const height = useStore(state => state.height);
  React.useEffect(() => {
    if (width > 0 && height > 0) {
      void fitView({ padding: 0.08, minZoom: props.minZoom });
    }
  }, [width, height, props.count, props.minZoom, fitView]);
  return null;
}

export function PipelineGraph(props: {
  nodes: GraphNode[];
  states: NodeState[];
  selectedId: string | null;
  onSelect: (nodeId: string | null) => void;
  large?: boolean;
}): JSX.Element {
  const stateMap = React.useMemo(() => new Map(props.states.map(state => [state.id, state])), [props.states]);
  const direction = props.large ? 'LR' : 'TB';
  const layout = React.useMemo(
    () => layoutGraph(props.nodes, stateMap, props.selectedId, direction),
    [props.nodes, stateMap, props.selectedId, direction]
  );
  // In the narrow sidebar, stay readable (pan to see the rest) rather than shrink a big graph to dots.
  const fitMinZoom = props.large ? 0.1 : 0.6;
  return (
    <div className={`jp-Orchestrate-graph${props.large ? ' jp-mod-large' : ''}`} aria-label="pipeline graph">
      <ReactFlow
        nodes={layout.nodes}
        edges={layout.edges}
        nodeTypes={NODE_TYPES}
        fitView
        minZoom={0.1}
        nodesDraggable={false}
        nodesConnectable={false}
        proOptions={{ hideAttribution: true }}
        onNodeClick={(_, node) => props.onSelect(node.id)}
        onPaneClick={() => props.onSelect(null)}
      >
        <Background gap={16} size={1} />
        <Controls showInteractive={false} />
        <FitOnResize count={layout.nodes.length} minZoom={fitMinZoom} />
      </ReactFlow>
    </div>
  );
}
