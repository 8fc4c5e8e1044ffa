/**
 * orchestrate-ext's JupyterLab extension: the Schedule dialog and "Run with
 * parameters" (notebook toolbar, command palette, file browser context menu),
 * the Orchestrate sidebar, logs in tabs, and a read-only drive that opens the
 * output notebooks of runs.
 */
import { ILayoutRestorer, JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { ICommandPalette, MainAreaWidget, Notification, showErrorMessage } from '@jupyterlab/apputils';
import { PathExt, URLExt } from '@jupyterlab/coreutils';
import { IDocumentManager } from '@jupyterlab/docmanager';
import { IDefaultFileBrowser } from '@jupyterlab/filebrowser';
import { INotebookTracker } from '@jupyterlab/notebook';
import { ServerConnection } from '@jupyterlab/services';
import { Widget } from '@lumino/widgets';

import { OrchestrateClient, SavedSchedule, Transport } from './api';
import { backfillDialog } from './backfill';
import { describeCron } from './cron';
import { ScheduleDialog } from './dialog';
import { orchestrateIcon } from './icon';
import { DRIVE_NAME, OutputRef, outputPath, OutputsDrive } from './outputs';
import { OrchestratePanel, PipelineWidget, startRun } from './panel';
import { runDialog } from './runDialog';
import { ScheduleModel } from './scheduleModel';
import { ScheduleButton } from './toolbar';
import { localZone } from './time';

export const COMMANDS = {
  schedule: 'orchestrate:schedule-notebook',
  runNotebook: 'orchestrate:run-notebook',
  openPanel: 'orchestrate:open-panel',
  openPipeline: 'orchestrate:open-pipeline',
  runNow: 'orchestrate:run-now',
  backfill: 'orchestrate:backfill'
};


function makeTransport(settings: ServerConnection.ISettings): Transport {
  return (path, init) => ServerConnection.makeRequest(URLExt.join(settings.baseUrl, 'orchestrate/api', path), init, settings);
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** A log in a main-area tab of its own. */
function logWidget(title: string, text: string): MainAreaWidget {
  const content = new Widget();
  const pre = document.createElement('pre');
  pre.className = 'jp-Orchestrate-log jp-Orchestrate-logFull';
  pre.textContent = text;
  content.node.appendChild(pre);
  content.addClass('jp-Orchestrate-logContent');
  const widget = new MainAreaWidget({ content });
  widget.addClass('jp-Orchestrate-logWidget');
  widget.title.label = title;
  widget.title.icon = orchestrateIcon;
  widget.title.closable = true;
  return widget;
}

const plugin: JupyterFrontEndPlugin<void> = {
  id: 'orchestrate-ext:plugin',
  description: 'Schedule notebooks, see the pipeline and every run of orchestrate-ext.',
  autoStart: true,
  requires: [IDocumentManager],
  optional: [ICommandPalette, INotebookTracker, IDefaultFileBrowser, ILayoutRestorer],
  activate: (
    app: JupyterFrontEnd,
    docManager: IDocumentManager,
    palette: ICommandPalette | null,
    notebooks: INotebookTracker | null,
    fileBrowser: IDefaultFileBrowser | null,
    restorer: ILayoutRestorer | null
  ) => {
    const settings = app.serviceManager.serverSettings;
    const client = new OrchestrateClient(makeTransport(settings));
    app.serviceManager.contents.addDrive(new OutputsDrive(client, settings));

    const openOutput = (ref: OutputRef, nodeName: string) => {
      const path = `${DRIVE_NAME}:${outputPath(ref, nodeName)}`;
      docManager.openOrReveal(path, 'default', undefined, {}, { shouldStart: false, canStart: false });
    };
    const outputHtmlUrl = (ref: OutputRef) =>
      URLExt.join(settings.baseUrl, 'orchestrate/api/runs', encodeURIComponent(ref.runId), 'output.html') +
      `?node=${encodeURIComponent(ref.nodeId)}&try=${ref.tryNumber}`;

    const panel = new OrchestratePanel({
      client,
      openFile: path => void app.commands.execute('docmanager:open', { path }),
      openOutput,
      outputHtmlUrl,
      openLog: (title, text) => {
        const widget = logWidget(title, text);
        app.shell.add(widget, 'main');
        app.shell.activateById(widget.id);
      },
      scheduleNotebook: path => void app.commands.execute(COMMANDS.schedule, { path }),
      openPipeline: () => void app.commands.execute(COMMANDS.openPipeline)
    });
    panel.title.icon = orchestrateIcon;
    app.shell.add(panel, 'left', { rank: 650 });
    restorer?.add(panel, panel.id);

    /** The notebook a command is about: its argument, the file browser's selection, or the current notebook. */
    const targetNotebook = (args: Record<string, unknown>): string | null => {
      if (typeof args.path === 'string' && args.path) {
        return args.path;
      }
      const fromMenu = app.contextMenuHitTest(node => node.classList.contains('jp-DirListing-item'));
      if (fromMenu && fileBrowser) {
        const item = fileBrowser.selectedItems().next();
        if (item && !item.done && item.value.path.endsWith('.ipynb')) {
          return item.value.path;
        }
      }
      return notebooks?.currentWidget?.context.path ?? null;
    };

    /** After the server wrote the notebook: reload an open copy that has no edits, else set the key in it. */
    const syncOpenNotebook = async (path: string, saved: SavedSchedule) => {
      const widget = docManager.findWidget(path);
      const context = widget ? docManager.contextForWidget(widget) : undefined;
      if (!context) {
        return;
      }
      if (context.model.dirty) {
        // Never save the user's notebook for them (that would also write Lab's kernelspec and language_info).
        (context.model as unknown as { setMetadata: (key: string, value: unknown) => void }).setMetadata('orchestrate', saved.metadata);
        // The open copy now holds what the server wrote, so the user's next save must not be refused as a
        // conflict ("File Changed"): tell the document the disk version it will overwrite. Lab has no public
        // call for this; its context keeps the disk's date and hash in `_updateContentsModel`.
        const onDisk = await app.serviceManager.contents.get(path, { content: false, hash: true });
        (context as unknown as { _updateContentsModel?: (model: unknown) => void })._updateContentsModel?.(onDisk);
      } else {
        await context.revert();
      }
    };

    app.commands.addCommand(COMMANDS.schedule, {
      label: 'Schedule Notebook…',
      caption: 'Run this notebook on a schedule with orchestrate-ext',
      icon: orchestrateIcon,
      execute: async args => {
        const path = targetNotebook(args);
        if (!path || !path.endsWith('.ipynb')) {
          await showErrorMessage('Schedule', 'Open or select a notebook (.ipynb) to schedule it.');
          return;
        }
        try {
          const [info, data, graph] = await Promise.all([client.info(), client.notebook(path), client.graph().catch(() => ({ nodes: [] }))]);
          const model = new ScheduleModel(client, { notebook: path, info, data, graph: graph.nodes, defaultTimezone: localZone() }, {
            after: async saved => {
              await syncOpenNotebook(path, saved);
              panel.state.bump();
              ScheduleButton.refreshAll();
            }
          });
          const dialog = new ScheduleDialog(model);
          await dialog.launch();
          const saved = dialog.saved;
          if (saved) {
            const meta = saved.metadata as { schedule?: unknown; timezone?: string };
            const cron = typeof meta.schedule === 'string' ? meta.schedule : ((meta.schedule as { cron?: string } | undefined)?.cron ?? '');
            Notification.success(
              cron
                ? `Scheduled ${PathExt.basename(path)}: ${describeCron(cron) || cron} (${meta.timezone ?? 'UTC'}). Written into its metadata.`
                : `Saved the settings of ${PathExt.basename(path)} into its metadata.`,
              { autoClose: 6000 }
            );
          }
        } catch (error) {
          await showErrorMessage('Schedule', message(error));
        }
      }
    });

    app.commands.addCommand(COMMANDS.runNotebook, {
      label: 'Run Notebook Now with Parameters…',
      caption: 'Run this notebook now (orchestrate-ext), with the parameters you give',
      icon: orchestrateIcon,
      execute: async args => {
        const path = targetNotebook(args);
        if (!path || !path.endsWith('.ipynb')) {
          await showErrorMessage('Run now', 'Open or select a notebook (.ipynb) to run it.');
          return;
        }
        try {
          const data = await client.notebook(path);
          if (!data.in_pipeline) {
            throw new Error(`${path} is not part of the pipeline: add a pattern matching it to notebooks.include in orchestrate.yaml`);
          }
          const saved = (data.metadata.parameters ?? {}) as Record<string, unknown>;
          const parameters = data.parameters_cell
            .filter(entry => !entry.injected)
            .map(entry => ({ name: entry.name, value: entry.name in saved ? JSON.stringify(saved[entry.name]) : entry.plain ? JSON.stringify(entry.value) : '' }));
          const run = await runDialog(client, { title: `Run ${PathExt.basename(path)}`, selection: data.node_id, parameters });
          if (run) {
            app.shell.activateById(panel.id);
            panel.state.showRun(run);
          }
        } catch (error) {
          await showErrorMessage('Run now', message(error));
        }
      }
    });

    app.commands.addCommand(COMMANDS.openPanel, {
      label: 'Show Orchestrate Panel',
      icon: orchestrateIcon,
      execute: () => app.shell.activateById(panel.id)
    });

    let pipeline: MainAreaWidget<PipelineWidget> | null = null;
    app.commands.addCommand(COMMANDS.openPipeline, {
      label: 'Show Pipeline Graph',
      icon: orchestrateIcon,
      execute: () => {
        if (!pipeline || pipeline.isDisposed) {
          pipeline = new MainAreaWidget({ content: new PipelineWidget(panel.actions, panel) });
          pipeline.id = 'orchestrate-pipeline-tab';
          pipeline.title.label = 'Pipeline';
          pipeline.title.icon = orchestrateIcon;
          app.shell.add(pipeline, 'main');
        }
        app.shell.activateById(pipeline.id);
      }
    });

    app.commands.addCommand(COMMANDS.runNow, {
      label: 'Run Pipeline Now',
      caption: 'Start a run of the whole pipeline (orchestrate-ext)',
      execute: async () => {
        try {
          const run = await startRun(client, null);
          if (run) {
            app.shell.activateById(panel.id);
            panel.state.showRun(run);
          }
        } catch (error) {
          await showErrorMessage('Run now', message(error));
        }
      }
    });

    app.commands.addCommand(COMMANDS.backfill, {
      label: 'Backfill a Schedule…',
      caption: 'Run a schedule once per fire time in a date range (orchestrate-ext)',
      execute: async args => {
        try {
          const { schedules } = await client.schedules();
          const started = await backfillDialog(client, schedules, typeof args.schedule === 'string' ? args.schedule : null);
          if (started) {
            Notification.success(`Backfill of ${started.schedule}: ${started.dates} run(s), ${started.parallel} at a time`, { autoClose: 6000 });
            app.shell.activateById(panel.id);
            panel.state.show('runs');
          }
        } catch (error) {
          await showErrorMessage('Backfill', message(error));
        }
      }
    });

    if (palette) {
      for (const command of Object.values(COMMANDS)) {
        palette.addItem({ command, category: 'Orchestrate' });
      }
    }
    app.contextMenu.addItem({ command: COMMANDS.schedule, selector: '.jp-DirListing-item[data-file-type="notebook"]', rank: 20 });
    app.contextMenu.addItem({ command: COMMANDS.runNotebook, selector: '.jp-DirListing-item[data-file-type="notebook"]', rank: 21 });
    app.docRegistry.addWidgetExtension(
      'Notebook',
      new ScheduleButton(app, client, {
        schedule: path => void app.commands.execute(COMMANDS.schedule, { path }),
        run: path => void app.commands.execute(COMMANDS.runNotebook, { path })
      })
    );
  }
};

export default plugin;
