/**
 * The state behind the Schedule dialog: the form, its errors, the cron
 * preview and saving. No React and no Lab widgets here, so it is tested on
 * its own with a fake API client.
 */
import { ISignal, Signal } from '@lumino/signaling';

import { ApiError, CronPreview, GraphNode, Info, NotebookForm, OrchestrateClient, SavedSchedule } from './api';
import { validateCron } from './cron';
import { formFromNotebook, FormErrors, ScheduleForm, validateForm } from './form';

export interface DependencyChoice {
  /** What is written into `depends_on`: the name when it is unique, else the id. */
  reference: string;
  id: string;
  name: string;
  resourceType: string;
}

const PICKABLE = new Set(['model', 'seed', 'snapshot', 'source', 'notebook']);

/** The nodes a notebook may depend on, with the reference to write for each. */
export function dependencyChoices(nodes: GraphNode[], ownNodeId: string): DependencyChoice[] {
  const count = new Map<string, number>();
  for (const node of nodes) {
    count.set(node.name, (count.get(node.name) ?? 0) + 1);
  }
  return nodes
    .filter(node => node.id !== ownNodeId && PICKABLE.has(node.resource_type))
    .map(node => ({
      reference: count.get(node.name) === 1 ? node.name : node.id,
      id: node.id,
      name: node.name,
      resourceType: node.resource_type
    }))
    .sort((a, b) => a.name.localeCompare(b.name));
}

/** Choices whose name, id or type contains every word of `query` (case-insensitive). */
export function filterChoices(choices: DependencyChoice[], query: string): DependencyChoice[] {
  const words = query.toLowerCase().split(/\s+/).filter(Boolean);
  return choices.filter(choice => {
    const haystack = `${choice.name} ${choice.id} ${choice.resourceType}`.toLowerCase();
    return words.every(word => haystack.includes(word));
  });
}

/** Hooks the dialog uses around saving (e.g. to save and then reload an open notebook). */
export interface SaveHooks {
  before?: () => Promise<void>;
  after?: (saved: SavedSchedule) => Promise<void>;
}

export class ScheduleModel {
  readonly notebook: string;
  readonly info: Info;
  readonly data: NotebookForm;
  readonly choices: DependencyChoice[];
  form: ScheduleForm;
  errors: FormErrors = {};
  serverError: string | null = null;
  saving = false;
  preview: CronPreview | null = null;
  previewError: string | null = null;
  private _changed = new Signal<this, void>(this);
  private _previewTimer: ReturnType<typeof setTimeout> | null = null;
  private _previewRequest = 0;

  constructor(
    private readonly client: OrchestrateClient,
    options: { notebook: string; info: Info; data: NotebookForm; graph: GraphNode[]; defaultTimezone: string },
    private readonly hooks: SaveHooks = {},
    private readonly previewDelay = 300
  ) {
    this.notebook = options.notebook;
    this.info = options.info;
    this.data = options.data;
    const timezone = options.info.timezones.includes(options.defaultTimezone) ? options.defaultTimezone : 'UTC';
    this.form = formFromNotebook(options.data, timezone);
    this.choices = dependencyChoices(options.graph, options.data.node_id);
  }

  get changed(): ISignal<this, void> {
    return this._changed;
  }

  /** Whether this installation writes metadata key `key` (older or newer servers may not). */
  supports(key: string): boolean {
    return this.info.settings_keys.includes(key);
  }

  get isScheduled(): boolean {
    return this.data.metadata.schedule !== undefined && this.data.metadata.schedule !== null;
  }

  update(patch: Partial<ScheduleForm>): void {
    this.form = { ...this.form, ...patch };
    if ('cron' in patch || 'timezone' in patch) {
      this.schedulePreview();
    }
    if (Object.keys(this.errors).length) {
      this.errors = validateForm(this.form, this.context()).errors;
    }
    this._changed.emit();
  }

  toggleDependency(reference: string): void {
    const selected = this.form.dependsOn.includes(reference)
      ? this.form.dependsOn.filter(item => item !== reference)
      : [...this.form.dependsOn, reference];
    this.update({ dependsOn: selected });
  }

  private context() {
    return {
      notebook: this.notebook,
      settingsKeys: this.info.settings_keys,
      timezones: this.info.timezones,
      injected: this.info.injected_parameters
    };
  }

  /** Ask the server for the next fire times, after the user stops typing for a moment. */
  schedulePreview(): void {
    if (this._previewTimer !== null) {
      clearTimeout(this._previewTimer);
    }
    this._previewTimer = setTimeout(() => void this.refreshPreview(), this.previewDelay);
  }

  async refreshPreview(): Promise<void> {
    this._previewTimer = null;
    const request = ++this._previewRequest;
    const problem = validateCron(this.form.cron);
    if (problem || !this.info.timezones.includes(this.form.timezone)) {
      this.preview = null;
      this.previewError = problem;
      this._changed.emit();
      return;
    }
    try {
      const preview = await this.client.cronPreview(this.form.cron, this.form.timezone, 3);
      if (request === this._previewRequest) {
        this.preview = preview;
        this.previewError = null;
      }
    } catch (error) {
      if (request === this._previewRequest) {
        this.preview = null;
        this.previewError = error instanceof Error ? error.message : String(error);
      }
    }
    this._changed.emit();
  }

  /** Check and send the form; true when the schedule was written into the notebook. */
  async save(): Promise<boolean> {
    if (this.saving) {
      return false;
    }
    const { errors, request } = validateForm(this.form, this.context());
    this.errors = errors;
    this.serverError = null;
    if (!request) {
      this._changed.emit();
      return false;
    }
    this.saving = true;
    this._changed.emit();
    try {
      await this.hooks.before?.();
      const saved = await this.client.saveSchedule(request);
      await this.hooks.after?.(saved);
      return true;
    } catch (error) {
      this.serverError = error instanceof ApiError || error instanceof Error ? error.message : String(error);
      return false;
    } finally {
      this.saving = false;
      this._changed.emit();
    }
  }

  dispose(): void {
    if (this._previewTimer !== null) {
      clearTimeout(this._previewTimer);
    }
    Signal.clearData(this);
  }
}
