/**
 * The Orchestrate sidebar: the pipeline graph, the schedules, the runs and
 * one run's page, and the scheduler's banner (scheduler.tsx: its state, Start
 * and Stop).
 */
import { ReactWidget, UseSignal } from '@jupyterlab/apputils';
import { Message } from '@lumino/messaging';
import { ISignal, Signal } from '@lumino/signaling';
import { Button, runIcon } from '@jupyterlab/ui-components';
import * as React from 'react';

import { OrchestrateClient, TriggerResult } from './api';
import { confirm } from './confirm';
import { useAction, usePoll } from './hooks';
import { LogActions } from './logs';
import { OutputRef } from './outputs';
import { PipelineTab } from './pipeline';
import { ProblemsView, SetupView } from './problems';
import { runDialog } from './runDialog';
import { RunsList } from './runsList';
import { RunView } from './runView';
import { SchedulerBanner } from './scheduler';
import { SchedulesView } from './schedulesView';

export interface PanelActions extends LogActions {
  client: OrchestrateClient;
  openFile: (labPath: string) => void;
  openOutput: (ref: OutputRef, nodeName: string) => void;
  outputHtmlUrl: (ref: OutputRef) => string;
  scheduleNotebook: (labPath: string) => void;
  openPipeline: () => void;
}

type Tab = 'pipeline' | 'schedules' | 'runs' | 'problems';

/** What the panel shows; commands outside it (Run now, a saved schedule) change it through here. */
export class PanelState {
  tab: Tab = 'pipeline';
  runId: string | null = null;
  /** What the last Run now left out (broken nodes), shown on that run's page. */
  leftOut: TriggerResult['left_out'] = [];
  visible = false;
  /** Bumped whenever data changed elsewhere (a schedule saved), so lists reload. */
  version = 0;
  /** How many problems the project has (the count on the Problems tab and the panel's sidebar tab). */
  problemCount = 0;
  private _changed = new Signal<this, void>(this);

  get changed(): ISignal<this, void> {
    return this._changed;
  }

  show(tab: Tab, runId: string | null = null): void {
    this.tab = tab;
    this.runId = runId;
    this._changed.emit();
  }

  showRun(run: TriggerResult): void {
    this.leftOut = run.left_out ?? [];
    this.show('runs', run.run_id);
  }

  setVisible(visible: boolean): void {
    this.visible = visible;
    this._changed.emit();
  }

  bump(): void {
    this.version++;
    this._changed.emit();
  }

  setProblemCount(count: number): void {
    this.problemCount = count;
    this._changed.emit();
  }
}

/** Ask before a run of the whole pipeline; a selection starts at once. Null when the user declined. */
export async function startRun(client: OrchestrateClient, selection: string | null): Promise<TriggerResult | null> {
  if (!selection) {
    const ok = await confirm({
      title: 'Run the whole pipeline now?',
      body: 'Run the whole pipeline now: every dbt model, test and notebook, in dependency order.',
      accept: 'Run'
    });
    if (!ok) {
      return null;
    }
  }
  return client.trigger(selection);
}

function PanelView(props: { actions: PanelActions; state: PanelState }): JSX.Element {
  const { actions, state } = props;
  const action = useAction();
  const runNow = async (selection: string | null) => {
    await action.run(async () => {
      const run = await startRun(actions.client, selection);
      if (run) {
        state.showRun(run);
      }
    });
  };
  const runWithDate = async () => {
    await action.run(async () => {
      const run = await runDialog(actions.client, { title: 'Run now' });
      if (run) {
        state.showRun(run);
      }
    });
  };
  const tabs: [Tab, string][] = [
    ['pipeline', 'Pipeline'],
    ['schedules', 'Schedules'],
    ['runs', 'Runs'],
    ['problems', 'Problems']
  ];
  const active = state.visible;
  // Asked once at start (for the count on the sidebar tab), then every 10 s while the panel shows.
  const problems = usePoll(() => actions.client.problems(), active ? 10000 : null, [state.version]);
  const count = problems.data?.count ?? 0;
  React.useEffect(() => {
    if (state.problemCount !== count) {
      state.setProblemCount(count);
    }
  }, [count]);
  if (problems.data?.setup) {
    return (
      <div className="jp-Orchestrate-panelBody">
        <div className="jp-Orchestrate-header">
          <h2 className="jp-Orchestrate-title">Orchestrate</h2>
        </div>
        <SetupView
          client={actions.client}
          project={null}
          onDone={() => {
            state.bump();
            state.show('pipeline');
          }}
        />
      </div>
    );
  }
  return (
    <div className="jp-Orchestrate-panelBody">
      <div className="jp-Orchestrate-header">
        <h2 className="jp-Orchestrate-title">Orchestrate</h2>
        <div className="jp-Orchestrate-toolbar">
          <Button small minimal disabled={action.busy} title="Run now, for a logical date you choose" onClick={runWithDate}>
            Run…
          </Button>
          <Button small className="jp-Orchestrate-runAll" disabled={action.busy} title="Run the whole pipeline now" onClick={() => runNow(null)}>
            <runIcon.react tag="span" /> Run now
          </Button>
        </div>
      </div>
      {action.error ? (
        <div className="jp-Orchestrate-serverError" role="alert">
          {action.error}
        </div>
      ) : null}
      <SchedulerBanner client={actions.client} active={active} />
      <div className="jp-Orchestrate-tabs" role="tablist" aria-label="Orchestrate views">
        {tabs.map(([tab, label]) => (
          <button
            key={tab}
            role="tab"
            aria-selected={state.tab === tab}
            className={`jp-Orchestrate-tab${state.tab === tab ? ' jp-mod-current' : ''}`}
            onClick={() => state.show(tab)}
          >
            {label}
            {tab === 'problems' && count ? (
              <span className="jp-Orchestrate-count" aria-label={`${count} problem${count === 1 ? '' : 's'}`}>
                {count}
              </span>
            ) : null}
          </button>
        ))}
      </div>
      <div className="jp-Orchestrate-tabBody" role="tabpanel">
        {state.tab === 'pipeline' ? (
          <PipelineTab
            actions={{ ...actions, runNow: selection => void runNow(selection), openRun: runId => state.show('runs', runId) }}
            active={active}
            version={state.version}
          />
        ) : null}
        {state.tab === 'schedules' ? (
          <SchedulesView
            actions={{ ...actions, openRun: runId => state.show('runs', runId), showBackfillRuns: () => state.show('runs') }}
            active={active}
            version={state.version}
          />
        ) : null}
        {state.tab === 'runs' && state.runId ? (
          <RunView
            key={state.runId}
            actions={actions}
            runId={state.runId}
            active={active}
            leftOut={state.leftOut}
            onBack={() => {
              state.leftOut = [];
              state.show('runs');
            }}
            openRun={runId => {
              state.leftOut = [];
              state.show('runs', runId);
            }}
          />
        ) : null}
        {state.tab === 'problems' ? (
          <ProblemsView
            actions={actions}
            problems={problems.data}
            error={problems.error}
            onChanged={() => {
              problems.refresh();
              state.bump();
            }}
          />
        ) : null}
        {state.tab === 'runs' && !state.runId ? (
          <RunsList client={actions.client} active={active} version={state.version} onOpen={runId => {
            state.leftOut = [];
            state.show('runs', runId);
          }} />
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
    this.state.changed.connect(() => this.showProblemCount());
  }

  /** The count of problems on the panel's sidebar tab (a badge drawn from `data-problems`) and in its caption. */
  private showProblemCount(): void {
    const count = this.state.problemCount;
    const shown = count ? String(count) : undefined;
    if (this.title.dataset['problems'] !== shown) {
      // Keep the other keys: Lab's sidebar names the tab by `data-id`.
      const { problems: _old, ...others } = this.title.dataset;
      this.title.dataset = shown ? { ...others, problems: shown } : others;
      this.title.caption = count
        ? `Orchestrate: pipeline, schedules and runs; ${count} problem${count === 1 ? '' : 's'}`
        : 'Orchestrate: pipeline, schedules and runs';
    }
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
    const runNow = async (selection: string | null) => {
      const run = await startRun(this.actions.client, selection);
      if (run) {
        this.panel.state.showRun(run);
      }
    };
    return (
      <UseSignal signal={this.visibility.changed}>
        {() => (
          <PipelineTab
            actions={{ ...this.actions, runNow: selection => void runNow(selection), openRun: runId => this.panel.state.show('runs', runId) }}
            active={this.visibility.visible}
            version={this.panel.state.version}
            large
          />
        )}
      </UseSignal>
    );
  }
}
