/**
 * The Orchestrate sidebar: the pipeline graph, the schedules, the runs and
 * one run's view, plus a warning (and a button) when no scheduler is running.
 */
import { ReactWidget, UseSignal } from '@jupyterlab/apputils';
import { Button, launchIcon, refreshIcon, runIcon } from '@jupyterlab/ui-components';
import { ISignal, Signal } from '@lumino/signaling';
import { Message } from '@lumino/messaging';
import * as React from 'react';

import { GraphNode, NodeState, OrchestrateClient } from './api';
import { freshness, PipelineGraph, visibleNodes } from './graph';
import { useAction, usePoll } from './hooks';
import { OutputRef } from './outputs';
import { RunsList, RunView, StatusBadge } from './runs';
import { SchedulesView } from './schedulesView';

export interface PanelActions {
  client: OrchestrateClient;
  openFile: (labPath: string) => void;
  openOutput: (ref: OutputRef, nodeName: string) => void;
  scheduleNotebook: (labPath: string) => void;
  openPipeline: () => void;
}

type Tab = 'pipeline' | 'schedules' | 'runs';

/** What the panel shows; commands outside it (Run now, a saved schedule) change it through here. */
export class PanelState {
  tab: Tab = 'pipeline';
  runId: string | null = null;
  visible = false;
  /** Bumped whenever data changed elsewhere (a schedule saved), so lists reload. */
  version = 0;
  private _changed = new Signal<this, void>(this);

  get changed(): ISignal<this, void> {
    return this._changed;
  }

  show(tab: Tab, runId: string | null = null): void {
    this.tab = tab;
    this.runId = runId;
    this._changed.emit();
  }

  setVisible(visible: boolean): void {
    this.visible = visible;
    this._changed.emit();
  }

  bump(): void {
    this.version++;
    this._changed.emit();
  }
}

function SchedulerBanner(props: { client: OrchestrateClient; active: boolean }): JSX.Element | null {
  const status = usePoll(() => props.client.scheduler(), props.active ? 10000 : null, []);
  const action = useAction();
  if (!status.data || status.data.running) {
    return status.error ? <div className="jp-Orchestrate-warning">scheduler: {status.error}</div> : null;
  }
  return (
    <div className="jp-Orchestrate-warning" role="status" aria-label="scheduler status">
      <div>
        <b>No scheduler is running for this project</b>: schedules will not fire.
        {status.data.detail ? ` ${status.data.detail}` : ''}
      </div>
      <div className="jp-Orchestrate-toolbar">
        <Button
          small
          disabled={action.busy}
          onClick={async () => {
            if (await action.run(() => props.client.startScheduler())) {
              status.refresh();
            }
          }}
        >
          Start scheduler
        </Button>
        <span className="jp-Orchestrate-muted">
          It runs on its own and keeps running when Lab stops. Or run <code>{status.data.command}</code> under
          systemd or cron.
        </span>
      </div>
      {action.error ? <div className="jp-Orchestrate-serverError">{action.error}</div> : null}
    </div>
  );
}

function NodeCard(props: {
  actions: PanelActions;
  node: GraphNode;
  state: NodeState | null;
  onRun: (selection: string) => void;
  onOpenRun: (runId: string) => void;
}): JSX.Element {
  const { node, state, actions } = props;
  const labPath = state?.lab_path ?? null;
  return (
    <div className="jp-Orchestrate-nodeCard" data-node-id={node.id}>
      <div className="jp-Orchestrate-nodeLine">
        <StatusBadge status={state?.last_status} />
        <b>{node.name}</b>
        <span className="jp-Orchestrate-muted">{node.resource_type}</span>
      </div>
      <div className="jp-Orchestrate-muted">{freshness(state)}</div>
      {node.owner ? <div className="jp-Orchestrate-muted">owner: {node.owner}</div> : null}
      <div className="jp-Orchestrate-toolbar">
        {labPath ? (
          <Button small minimal onClick={() => actions.openFile(labPath)}>
            Open
          </Button>
        ) : null}
        {node.kind !== 'source' ? (
          <>
            <Button small minimal title="Run this node alone" onClick={() => props.onRun(node.id)}>
              Run
            </Button>
            <Button small minimal title="Run it with everything upstream" onClick={() => props.onRun(`+${node.id}`)}>
              Run with upstream
            </Button>
          </>
        ) : null}
        {node.kind === 'notebook' && labPath ? (
          <Button small minimal onClick={() => actions.scheduleNotebook(labPath)}>
            Schedule…
          </Button>
        ) : null}
        {state?.last_run_id ? (
          <Button small minimal onClick={() => props.onOpenRun(state.last_run_id as string)}>
            Last run
          </Button>
        ) : null}
      </div>
    </div>
  );
}

export function PipelineTab(props: {
  actions: PanelActions;
  active: boolean;
  version: number;
  onRun: (selection: string) => void;
  onOpenRun: (runId: string) => void;
  large?: boolean;
}): JSX.Element {
  const { client } = props.actions;
  const graph = usePoll(() => client.graph(), null, [props.version]);
  const states = usePoll(() => client.nodes(), props.active ? 5000 : null, [props.version]);
  const [showTests, setShowTests] = React.useState(false);
  const [selected, setSelected] = React.useState<string | null>(null);
  const nodes = React.useMemo(() => visibleNodes(graph.data?.nodes ?? [], showTests), [graph.data, showTests]);
  const stateList = states.data?.nodes ?? [];
  const selectedNode = nodes.find(node => node.id === selected) ?? null;
  return (
    <div className="jp-Orchestrate-pipeline">
      <div className="jp-Orchestrate-toolbar">
        <label className="jp-Orchestrate-inline">
          <input type="checkbox" checked={showTests} onChange={event => setShowTests(event.target.checked)} /> show
          tests
        </label>
        <Button
          minimal
          small
          title="Reload the graph"
          onClick={() => {
            graph.refresh();
            states.refresh();
          }}
        >
          <refreshIcon.react tag="span" />
        </Button>
        {props.large ? null : (
          <Button minimal small title="Open the graph in a tab of its own" onClick={props.actions.openPipeline}>
            <launchIcon.react tag="span" />
          </Button>
        )}
      </div>
      {graph.error ? <div className="jp-Orchestrate-serverError">{graph.error}</div> : null}
      {graph.data ? (
        <PipelineGraph
          nodes={nodes}
          states={stateList}
          selectedId={selected}
          onSelect={setSelected}
          large={props.large}
        />
      ) : graph.loading ? (
        <div className="jp-Orchestrate-muted jp-Orchestrate-empty">Loading the pipeline…</div>
      ) : null}
      {selectedNode ? (
        <NodeCard
          actions={props.actions}
          node={selectedNode}
          state={stateList.find(state => state.id === selectedNode.id) ?? null}
          onRun={props.onRun}
          onOpenRun={props.onOpenRun}
        />
      ) : (
        <div className="jp-Orchestrate-muted jp-Orchestrate-hint">Click a node for its freshness, runs and actions.</div>
      )}
    </div>
  );
}

function PanelView(props: { actions: PanelActions; state: PanelState }): JSX.Element {
  const { actions, state } = props;
  const action = useAction();
  const runNow = async (selection: string | null) => {
    await action.run(async () => {
      const run = await actions.client.trigger(selection);
      state.show('runs', run.run_id);
    });
  };
  const tabs: [Tab, string][] = [
    ['pipeline', 'Pipeline'],
    ['schedules', 'Schedules'],
    ['runs', 'Runs']
  ];
  const active = state.visible;
  return (
    <div className="jp-Orchestrate-panelBody">
      <div className="jp-Orchestrate-header">
        <h2 className="jp-Orchestrate-title">Orchestrate</h2>
        <Button
          small
          className="jp-Orchestrate-runAll"
          disabled={action.busy}
          title="Run the whole pipeline now"
          onClick={() => runNow(null)}
        >
          <runIcon.react tag="span" /> Run now
        </Button>
      </div>
      {action.error ? (
        <div className="jp-Orchestrate-serverError" role="alert">
          {action.error}
        </div>
      ) : null}
      <SchedulerBanner client={actions.client} active={active} />
      <div className="jp-Orchestrate-tabs" role="tablist">
        {tabs.map(([tab, label]) => (
          <button
            key={tab}
            role="tab"
            aria-selected={state.tab === tab}
            className={`jp-Orchestrate-tab${state.tab === tab ? ' jp-mod-current' : ''}`}
            onClick={() => state.show(tab)}
          >
            {label}
          </button>
        ))}
      </div>
      <div className="jp-Orchestrate-tabBody">
        {state.tab === 'pipeline' ? (
          <PipelineTab
            actions={actions}
            active={active}
            version={state.version}
            onRun={selection => void runNow(selection)}
            onOpenRun={runId => state.show('runs', runId)}
          />
        ) : null}
        {state.tab === 'schedules' ? (
          <SchedulesView
            actions={{ ...actions, openRun: runId => state.show('runs', runId) }}
            active={active}
            version={state.version}
          />
        ) : null}
        {state.tab === 'runs' && state.runId ? (
          <RunView actions={actions} runId={state.runId} active={active} onBack={() => state.show('runs')} />
        ) : null}
        {state.tab === 'runs' && !state.runId ? (
          <RunsList actions={actions} active={active} version={state.version} onOpen={runId => state.show('runs', runId)} />
        ) : null}
      </div>
    </div>
  );
}

export class OrchestratePanel extends ReactWidget {
  readonly state = new PanelState();

  constructor(readonly actions: PanelActions) {
    super();
    this.id = 'orchestrate-panel';
    this.addClass('jp-Orchestrate-panel');
    this.title.caption = 'Orchestrate: pipeline, schedules and runs';
  }

  protected onAfterShow(msg: Message): void {
    super.onAfterShow(msg);
    this.state.setVisible(true);
  }

  protected onAfterHide(msg: Message): void {
    super.onAfterHide(msg);
    this.state.setVisible(false);
  }

  render(): JSX.Element {
    return <UseSignal signal={this.state.changed}>{() => <PanelView actions={this.actions} state={this.state} />}</UseSignal>;
  }
}

/** The pipeline graph in a main-area tab: room for big projects. */
export class PipelineWidget extends ReactWidget {
  private readonly visibility = new PanelState();

  constructor(
    private readonly actions: PanelActions,
    private readonly panel: OrchestratePanel
  ) {
    super();
    this.id = 'orchestrate-pipeline';
    this.addClass('jp-Orchestrate-pipelineWidget');
    this.title.label = 'Pipeline';
    this.title.closable = true;
  }

  protected onAfterShow(msg: Message): void {
    super.onAfterShow(msg);
    this.visibility.setVisible(true);
  }

  protected onAfterHide(msg: Message): void {
    super.onAfterHide(msg);
    this.visibility.setVisible(false);
  }

  render(): JSX.Element {
    return (
      <UseSignal signal={this.visibility.changed}>
        {() => (
          <PipelineTab
            actions={this.actions}
            active={this.visibility.visible}
            version={this.panel.state.version}
            large
            onRun={selection => void this.actions.client.trigger(selection).then(run => this.panel.state.show('runs', run.run_id))}
            onOpenRun={runId => this.panel.state.show('runs', runId)}
          />
        )}
      </UseSignal>
    );
  }
}
