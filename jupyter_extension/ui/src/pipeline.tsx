/**
 * The Pipeline tab (sidebar and main-area tab): the graph with search, a
 * legend, tests shown or collapsed into their models, the broken nodes with a
 * button to fix each one, and the card of the selected node (freshness, SLA
 * markers, its last 10 statuses, its lineage highlighted, actions).
 */
import { Button, launchIcon, refreshIcon } from '@jupyterlab/ui-components';
import * as React from 'react';

import { GraphNode, NodeState, OrchestrateClient } from './api';
import { ErrorCause } from './cause';
import { freshness, GraphLegend, PipelineGraph } from './graph';
import { exportLines, searchNodes, visibleNodes } from './graphModel';
import { usePoll } from './hooks';
import { LoadingLine, ParseLine } from './problems';
import { shortName, StatusBadge, statusLabel } from './status';
import { relativeTime } from './time';

export interface PipelineActions {
  client: OrchestrateClient;
  openFile: (labPath: string) => void;
  scheduleNotebook: (labPath: string) => void;
  openPipeline: () => void;
  /** Start a run of `selection` (asks first when it is the whole pipeline). */
  runNow: (selection: string | null) => void;
  openRun: (runId: string) => void;
  /** Open a log in a main-area tab (the card's "Open log" beside a failure's cause). */
  openLog?: (title: string, text: string) => void;
}

/** The cause of the node's failure in its newest run, under the card's status (nothing when it did not fail). */
function LastFailure(props: { actions: PipelineActions; nodeId: string; version: string | null }): JSX.Element | null {
  const recent = usePoll(() => props.actions.client.nodeRecent(props.nodeId), null, [props.nodeId, props.version]);
  const last = recent.data?.recent[0];
  if (!last || !['failed', 'warned'].includes(last.status) || !last.error_lines?.length) {
    return null;
  }
  return (
    <ErrorCause
      client={props.actions.client}
      openLog={props.actions.openLog}
      lines={last.error_lines}
      runId={last.run_id}
      nodeId={props.nodeId}
      tone={last.status === 'warned' ? 'warned' : 'failed'}
    />
  );
}

function RecentStatuses(props: { client: OrchestrateClient; nodeId: string; version: string | null }): JSX.Element | null {
  const recent = usePoll(() => props.client.nodeRecent(props.nodeId), null, [props.nodeId, props.version]);
  const entries = recent.data?.recent ?? [];
  if (!entries.length) {
    return null;
  }
  return (
    <div className="jp-Orchestrate-recent">
      <span className="jp-Orchestrate-muted">last {entries.length} runs (newest first): </span>
      <ol aria-label="recent statuses" className="jp-Orchestrate-recentList">
        {entries.map(entry => (
          <li key={entry.run_id}>
            <span
              className="jp-Orchestrate-dot"
              role="img"
              data-status={entry.status}
              title={`${statusLabel(entry.status)} · run ${entry.run_id} · ${relativeTime(entry.created_at)}`}
              aria-label={statusLabel(entry.status)}
            />
          </li>
        ))}
      </ol>
    </div>
  );
}

function NodeCard(props: {
  actions: PipelineActions;
  node: GraphNode;
  state: NodeState | null;
  tests: GraphNode[];
}): JSX.Element {
  const { node, state, actions } = props;
  const labPath = state?.lab_path ?? null;
  return (
    <div className="jp-Orchestrate-nodeCard" data-node-id={node.id} aria-label={`node ${node.name}`} role="region">
      <div className="jp-Orchestrate-nodeLine">
        <StatusBadge status={state?.problem ? 'broken' : state?.last_status} />
        <b>{node.name}</b>
        <span className="jp-Orchestrate-muted">{node.resource_type}</span>
      </div>
      {state?.problem ? <div className="jp-Orchestrate-nodeError">{state.problem}</div> : null}
      {!state?.problem ? <LastFailure actions={actions} nodeId={node.id} version={state?.last_run_id ?? null} /> : null}
      {state?.blocked_by ? (
        <div className="jp-Orchestrate-warning">Not run: it waits for {shortName(state.blocked_by)}, which is broken.</div>
      ) : null}
      <div className="jp-Orchestrate-muted">{freshness(state)}</div>
      {(state?.markers ?? []).map((marker, index) => (
        <div key={index} className="jp-Orchestrate-markerLine">
          <span className="jp-Orchestrate-marker" data-kind={marker.kind}>
            {marker.kind}
          </span>{' '}
          {marker.message}
        </div>
      ))}
      {props.tests.length ? <div className="jp-Orchestrate-muted">{props.tests.length} dbt tests</div> : null}
      {node.owner ? <div className="jp-Orchestrate-muted">owner: {node.owner}</div> : null}
      {exportLines(node).length ? (
        <div className="jp-Orchestrate-muted" aria-label="exports">
          exports: {exportLines(node).join('; ')}
        </div>
      ) : null}
      <RecentStatuses client={actions.client} nodeId={node.id} version={state?.last_run_id ?? null} />
      <div className="jp-Orchestrate-muted jp-Orchestrate-hint">Upstream and downstream nodes are highlighted.</div>
      <div className="jp-Orchestrate-toolbar">
        {labPath ? (
          <Button small minimal onClick={() => actions.openFile(labPath)}>
            Open
          </Button>
        ) : null}
        {node.kind !== 'source' && !state?.problem ? (
          <>
            <Button small minimal title="Run this node alone" onClick={() => actions.runNow(node.id)}>
              Run
            </Button>
            <Button small minimal title="Run it with everything upstream" onClick={() => actions.runNow(`+${node.id}`)}>
              Run with upstream
            </Button>
          </>
        ) : null}
        {node.kind === 'notebook' && labPath ? (
          <Button small minimal onClick={() => actions.scheduleNotebook(labPath)}>
            {state?.problem ? 'Fix…' : 'Schedule…'}
          </Button>
        ) : null}
        {state?.last_run_id ? (
          <Button small minimal onClick={() => actions.openRun(state.last_run_id as string)}>
            Last run
          </Button>
        ) : null}
      </div>
    </div>
  );
}

/** Every broken node, its message, and a button that opens what fixes it. */
function BrokenNodes(props: { actions: PipelineActions; nodes: NodeState[]; onSelect: (id: string) => void }): JSX.Element | null {
  const broken = props.nodes.filter(node => node.problem);
  if (!broken.length) {
    return null;
  }
  return (
    <section className="jp-Orchestrate-broken" role="region" aria-label="broken nodes">
      <div className="jp-Orchestrate-brokenTitle">
        {broken.length === 1 ? '1 node is broken and does not run' : `${broken.length} nodes are broken and do not run`}; the
        rest of the pipeline does.
      </div>
      <ul className="jp-Orchestrate-list">
        {broken.map(node => (
          <li key={node.id} className="jp-Orchestrate-brokenItem" data-node-id={node.id}>
            <button className="jp-Orchestrate-linkButton" onClick={() => props.onSelect(node.id)}>
              {node.name}
            </button>
            <div className="jp-Orchestrate-nodeError">{node.problem}</div>
            {node.lab_path ? (
              <Button
                small
                title={node.kind === 'notebook' ? 'Open its Schedule dialog to fix it' : 'Open its file'}
                onClick={() =>
                  node.kind === 'notebook'
                    ? props.actions.scheduleNotebook(node.lab_path as string)
                    : props.actions.openFile(node.lab_path as string)
                }
              >
                Fix…
              </Button>
            ) : null}
          </li>
        ))}
      </ul>
    </section>
  );
}

export function PipelineTab(props: { actions: PipelineActions; active: boolean; version: number; large?: boolean }): JSX.Element {
  const { client } = props.actions;
  const graph = usePoll(() => client.graph(), null, [props.version]);
  const states = usePoll(() => client.nodes(), props.active ? 5000 : null, [props.version]);
  const [showTests, setShowTests] = React.useState(false);
  const [selected, setSelected] = React.useState<string | null>(null);
  const [query, setQuery] = React.useState('');
  const [centerOn, setCenterOn] = React.useState<string | null>(null);
  const allNodes = React.useMemo(() => graph.data?.nodes ?? [], [graph.data]);
  const nodes = React.useMemo(() => visibleNodes(allNodes, showTests), [allNodes, showTests]);
  const matches = React.useMemo(() => new Set(searchNodes(nodes, query)), [nodes, query]);
  const stateList = states.data?.nodes ?? [];
  const selectedNode = allNodes.find(node => node.id === selected) ?? null;
  const select = (nodeId: string | null) => {
    setSelected(nodeId);
    if (nodeId) {
      setCenterOn(nodeId);
    }
  };
  return (
    <div className="jp-Orchestrate-pipeline">
      <div className="jp-Orchestrate-toolbar">
        <input
          className="jp-mod-styled jp-Orchestrate-search"
          type="search"
          aria-label="find a node"
          placeholder="Find a node…"
          value={query}
          onChange={event => setQuery(event.target.value)}
          onKeyDown={event => {
            if (event.key === 'Enter' && matches.size) {
              const first = [...matches][0];
              setCenterOn(null);
              setTimeout(() => setCenterOn(first));
            }
          }}
        />
        {query ? <span className="jp-Orchestrate-muted">{matches.size} found</span> : null}
        <label className="jp-Orchestrate-inline">
          <input type="checkbox" checked={showTests} onChange={event => setShowTests(event.target.checked)} /> show tests
        </label>
        <Button
          minimal
          small
          title="Reload the graph"
          aria-label="Reload the graph"
          onClick={() => {
            graph.refresh();
            states.refresh();
          }}
        >
          <refreshIcon.react tag="span" />
        </Button>
        {props.large ? null : (
          <Button minimal small title="Open the graph in a tab of its own" aria-label="Open the graph in a tab" onClick={props.actions.openPipeline}>
            <launchIcon.react tag="span" />
          </Button>
        )}
      </div>
      <BrokenNodes actions={props.actions} nodes={stateList} onSelect={select} />
      {graph.error ? <div className="jp-Orchestrate-serverError">{graph.error}</div> : null}
      {graph.data ? (
        <ParseLine
          client={client}
          active={props.active}
          onDone={() => {
            graph.refresh();
            states.refresh();
          }}
        />
      ) : null}
      {graph.data ? (
        <PipelineGraph
          nodes={nodes}
          allNodes={allNodes}
          states={stateList}
          selectedId={selected}
          onSelect={select}
          matches={matches}
          centerOn={centerOn}
          collapseTests={!showTests}
          large={props.large}
        />
      ) : graph.loading ? (
        <LoadingLine client={client} />
      ) : null}
      <GraphLegend />
      {selectedNode ? (
        <NodeCard
          actions={props.actions}
          node={selectedNode}
          state={stateList.find(state => state.id === selectedNode.id) ?? null}
          tests={allNodes.filter(node => node.resource_type === 'test' && node.depends_on[0] === selectedNode.id)}
        />
      ) : (
        <div className="jp-Orchestrate-muted jp-Orchestrate-hint">Click a node for its freshness, history and actions.</div>
      )}
    </div>
  );
}
