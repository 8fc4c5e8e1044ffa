/**
 * The notebook toolbar's buttons: **Schedule** (which says "Scheduled" when
 * the notebook is, and "Schedule (copy)" when it carries another notebook's
 * schedule that does not fire for it) and **Run…** (run it now with
 * parameters). Read-only output notebooks of runs (the `OrchestrateRuns:`
 * drive) get neither. Opening a copied notebook says so.
 */
import { JupyterFrontEnd } from '@jupyterlab/application';
import { Notification, ReactWidget, ToolbarButtonComponent, UseSignal } from '@jupyterlab/apputils';
import { DocumentRegistry } from '@jupyterlab/docregistry';
import { INotebookModel, NotebookPanel } from '@jupyterlab/notebook';
import { runIcon } from '@jupyterlab/ui-components';
import { DisposableDelegate, IDisposable } from '@lumino/disposable';
import { ISignal, Signal } from '@lumino/signaling';
import * as React from 'react';

import { NotebookForm, OrchestrateClient } from './api';
import { orchestrateIcon } from './icon';
import { scheduleLabel } from './viewModel';

export interface ToolbarCommands {
  schedule: (path: string) => void;
  run: (path: string) => void;
}

class NotebookScheduleState {
  form: NotebookForm | null = null;
  private _changed = new Signal<this, void>(this);

  get changed(): ISignal<this, void> {
    return this._changed;
  }

  set(form: NotebookForm | null): void {
    this.form = form;
    this._changed.emit();
  }
}

class ScheduleToolbarButton extends ReactWidget {
  constructor(
    private readonly state: NotebookScheduleState,
    private readonly onClick: () => void
  ) {
    super();
    this.addClass('jp-Orchestrate-scheduleButton');
  }

  render(): JSX.Element {
    return (
      <UseSignal signal={this.state.changed}>
        {() => {
          const { label, tooltip, state } = scheduleLabel(this.state.form);
          this.node.dataset.state = state;
          return (
            <ToolbarButtonComponent
              icon={orchestrateIcon}
              label={label}
              tooltip={tooltip}
              onClick={this.onClick}
            />
          );
        }}
      </UseSignal>
    );
  }
}

export class ScheduleButton implements DocumentRegistry.IWidgetExtension<NotebookPanel, INotebookModel> {
  private static readonly live = new Set<() => void>();

  /** Read every open notebook's schedule again (after a save). */
  static refreshAll(): void {
    for (const refresh of ScheduleButton.live) {
      refresh();
    }
  }

  constructor(
    private readonly app: JupyterFrontEnd,
    private readonly client: OrchestrateClient,
    private readonly commands: ToolbarCommands
  ) {}

  createNew(panel: NotebookPanel): IDisposable {
    // Output notebooks of runs live on the read-only OrchestrateRuns: drive: nothing to schedule there.
    if (this.app.serviceManager.contents.driveName(panel.context.path)) {
      return new DisposableDelegate(() => undefined);
    }
    const state = new NotebookScheduleState();
    let warned = false;
    const refresh = () => {
      const path = panel.context.path;
      this.client
        .notebook(path)
        .then(form => {
          state.set(form);
          if (form.copy_of && !warned) {
            warned = true;
            Notification.warning(`${path} is a copy of ${form.copy_of}: the schedule it carries does not fire for it.`, {
              autoClose: 10000,
              actions: [{ label: 'Review schedule…', callback: () => this.commands.schedule(panel.context.path) }]
            });
          }
        })
        .catch(() => state.set(null)); // not in the pipeline, or no project: the plain button
    };
    const button = new ScheduleToolbarButton(state, () => this.commands.schedule(panel.context.path));
    const run = new ScheduleRunButton(() => this.commands.run(panel.context.path));
    panel.toolbar.insertItem(10, 'orchestrate-schedule', button);
    panel.toolbar.insertItem(11, 'orchestrate-run', run);
    ScheduleButton.live.add(refresh);
    void panel.context.ready.then(refresh);
    panel.context.pathChanged.connect(refresh);
    return new DisposableDelegate(() => {
      ScheduleButton.live.delete(refresh);
      panel.context.pathChanged.disconnect(refresh);
      button.dispose();
      run.dispose();
    });
  }
}

class ScheduleRunButton extends ReactWidget {
  constructor(private readonly onClick: () => void) {
    super();
    this.addClass('jp-Orchestrate-runButton');
  }

  render(): JSX.Element {
    return <ToolbarButtonComponent icon={runIcon} label="Run…" tooltip="Run this notebook now with orchestrate-ext, with the parameters you give" onClick={this.onClick} />;
  }
}
