/**
 * orchestrate-ext's JupyterLab extension: the Schedule dialog (notebook
 * toolbar, command palette, file browser context menu), the Orchestrate
 * sidebar, and a read-only drive that opens the output notebooks of runs.
 */
import { ILayoutRestorer, JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { ICommandPalette, MainAreaWidget, showErrorMessage, ToolbarButton } from '@jupyterlab/apputils';
import { URLExt } from '@jupyterlab/coreutils';
import { IDocumentManager } from '@jupyterlab/docmanager';
import { DocumentRegistry } from '@jupyterlab/docregistry';
import { IDefaultFileBrowser } from '@jupyterlab/filebrowser';
import { INotebookModel, INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import { ServerConnection } from '@jupyterlab/services';
import { LabIcon } from '@jupyterlab/ui-components';
import { IDisposable } from '@lumino/disposable';

import { OrchestrateClient, Transport } from './api';
import { ScheduleDialog } from './dialog';
import { DRIVE_NAME, OutputRef, outputPath, OutputsDrive } from './outputs';
import { OrchestratePanel, PipelineWidget } from './panel';
import { ScheduleModel } from './scheduleModel';

export const COMMANDS = {
  schedule: 'orchestrate:schedule-notebook',
  openPanel: 'orchestrate:open-panel',
  openPipeline: 'orchestrate:open-pipeline',
  runNow: 'orchestrate:run-now'
};

const ICON_SVG = `<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" viewBox="0 0 24 24">
<g class="jp-icon3" fill="#616161"><circle cx="5" cy="6" r="2.6"/><circle cx="5" cy="18" r="2.6"/>
<circle cx="19" cy="12" r="2.6"/><path d="M7.3 6.9l9.9 4.2-.7 1.5-9.9-4.2zM7.3 17.1l9.2-4 .7 1.5-9.2 4z"/></g></svg>`;

export const orchestrateIcon = new LabIcon({ name: 'orchestrate-ext:icon', svgstr: ICON_SVG });

function makeTransport(settings: ServerConnection.ISettings): Transport {
  return (path, init) =>
    ServerConnection.makeRequest(URLExt.join(settings.baseUrl, 'orchestrate/api', path), init, settings);
}

function browserTimezone(): string {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
  } catch {
    return 'UTC';
  }
}

/** The notebook toolbar's Schedule button. */
class ScheduleButton implements DocumentRegistry.IWidgetExtension<NotebookPanel, INotebookModel> {
  constructor(private readonly app: JupyterFrontEnd) {}

  createNew(panel: NotebookPanel): IDisposable {
    const button = new ToolbarButton({
      className: 'jp-Orchestrate-scheduleButton',
      icon: orchestrateIcon,
      label: 'Schedule',
      tooltip: 'Schedule this notebook with orchestrate-ext',
      onClick: () => void this.app.commands.execute(COMMANDS.schedule, { path: panel.context.path })
    });
    panel.toolbar.insertItem(10, 'orchestrate-schedule', button);
    return button;
  }
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

    const panel = new OrchestratePanel({
      client,
      openFile: path => void app.commands.execute('docmanager:open', { path }),
      openOutput,
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

    app.commands.addCommand(COMMANDS.schedule, {
      label: 'Schedule Notebook…',
      caption: 'Run this notebook on a schedule with orchestrate-ext',
      icon: orchestrateIcon,
      isEnabled: () => true,
      execute: async args => {
        const path = targetNotebook(args);
        if (!path || !path.endsWith('.ipynb')) {
          await showErrorMessage('Schedule', 'Open or select a notebook (.ipynb) to schedule it.');
          return;
        }
        try {
          const [info, data, graph] = await Promise.all([
            client.info(),
            client.notebook(path),
            client.graph().catch(() => ({ nodes: [] }))
          ]);
          const openWidget = () => docManager.findWidget(path);
          const model = new ScheduleModel(
            client,
            { notebook: path, info, data, graph: graph.nodes, defaultTimezone: browserTimezone() },
            {
              // Keep an open notebook and the file in step: save its edits first, reload it after.
              before: async () => {
                const context = openWidget() ? docManager.contextForWidget(openWidget()!) : undefined;
                if (context?.model.dirty) {
                  await context.save();
                }
              },
              after: async () => {
                const context = openWidget() ? docManager.contextForWidget(openWidget()!) : undefined;
                if (context) {
                  await context.revert();
                }
                panel.state.bump();
              }
            }
          );
          await new ScheduleDialog(model).launch();
        } catch (error) {
          await showErrorMessage('Schedule', error instanceof Error ? error.message : String(error));
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
          const run = await client.trigger(null);
          app.shell.activateById(panel.id);
          panel.state.show('runs', run.run_id);
        } catch (error) {
          await showErrorMessage('Run now', error instanceof Error ? error.message : String(error));
        }
      }
    });

    if (palette) {
      for (const command of Object.values(COMMANDS)) {
        palette.addItem({ command, category: 'Orchestrate' });
      }
    }
    app.contextMenu.addItem({
      command: COMMANDS.schedule,
      selector: '.jp-DirListing-item[data-file-type="notebook"]',
      rank: 20
    });
    app.docRegistry.addWidgetExtension('Notebook', new ScheduleButton(app));
  }
};

export default plugin;
