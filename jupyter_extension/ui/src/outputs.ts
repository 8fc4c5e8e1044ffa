/**
 * A read-only Lab drive serving the output notebooks of runs, so one click
 * opens them in Lab like any notebook (they live in the project's hidden
 * state folder, which Jupyter's file API does not serve).
 *
 * Paths look like `OrchestrateRuns:<run id>/<node id, URI-encoded>/<try>/<name>.ipynb`.
 */
import { Contents, ServerConnection } from '@jupyterlab/services';
import { ISignal, Signal } from '@lumino/signaling';

import { OrchestrateClient } from './api';

export const DRIVE_NAME = 'OrchestrateRuns';

export interface OutputRef {
  runId: string;
  nodeId: string;
  tryNumber: number;
}

/** The drive-local path of a run's output notebook (the name is only what the tab shows). */
export function outputPath(ref: OutputRef, nodeName: string): string {
  const base = nodeName.split('/').pop() || 'output';
  return `${encodeURIComponent(ref.runId)}/${encodeURIComponent(ref.nodeId)}/${ref.tryNumber}/${base}.try${ref.tryNumber}.ipynb`;
}

/** The run, node and try a drive-local path names, or null when it names none. */
export function parseOutputPath(localPath: string): OutputRef | null {
  const parts = localPath.replace(/^\/+/, '').split('/');
  if (parts.length !== 4 || !/^\d+$/.test(parts[2])) {
    return null;
  }
  try {
    return { runId: decodeURIComponent(parts[0]), nodeId: decodeURIComponent(parts[1]), tryNumber: Number(parts[2]) };
  } catch {
    return null;
  }
}

function readOnly(): Promise<never> {
  return Promise.reject(new Error('output notebooks of runs are read-only; use File > Save As… to keep a copy'));
}

export class OutputsDrive implements Contents.IDrive {
  readonly name = DRIVE_NAME;
  private _fileChanged = new Signal<Contents.IDrive, Contents.IChangedArgs>(this);
  private _disposed = false;

  constructor(
    private readonly client: OrchestrateClient,
    readonly serverSettings: ServerConnection.ISettings
  ) {}

  get fileChanged(): ISignal<Contents.IDrive, Contents.IChangedArgs> {
    return this._fileChanged;
  }

  get isDisposed(): boolean {
    return this._disposed;
  }

  dispose(): void {
    this._disposed = true;
    Signal.clearData(this);
  }

  async get(localPath: string, options?: Contents.IFetchOptions): Promise<Contents.IModel> {
    const ref = parseOutputPath(localPath);
    if (!ref) {
      if (!localPath.replace(/\/+/g, '')) {
        return this.emptyDirectory();
      }
      throw new Error(`'${localPath}' is not an output notebook of a run`);
    }
    const model = await this.client.output(ref.runId, ref.nodeId, ref.tryNumber);
    const name = localPath.split('/').pop() as string;
    return {
      name,
      path: localPath,
      type: 'notebook',
      format: options?.content === false ? null : 'json',
      mimetype: '',
      content: options?.content === false ? null : model.content,
      writable: false,
      created: model.created,
      last_modified: model.last_modified,
      size: model.size
    } as Contents.IModel;
  }

  private emptyDirectory(): Contents.IModel {
    const now = new Date().toISOString();
    return {
      name: '',
      path: '',
      type: 'directory',
      format: 'json',
      mimetype: '',
      content: [],
      writable: false,
      created: now,
      last_modified: now
    } as Contents.IModel;
  }

  getDownloadUrl(): Promise<string> {
    return readOnly();
  }
  newUntitled(): Promise<Contents.IModel> {
    return readOnly();
  }
  delete(): Promise<void> {
    return readOnly();
  }
  rename(): Promise<Contents.IModel> {
    return readOnly();
  }
  save(): Promise<Contents.IModel> {
    return readOnly();
  }
  copy(): Promise<Contents.IModel> {
    return readOnly();
  }
  createCheckpoint(): Promise<Contents.ICheckpointModel> {
    return readOnly();
  }
  listCheckpoints(): Promise<Contents.ICheckpointModel[]> {
    return Promise.resolve([]);
  }
  restoreCheckpoint(): Promise<void> {
    return readOnly();
  }
  deleteCheckpoint(): Promise<void> {
    return Promise.resolve();
  }
}
