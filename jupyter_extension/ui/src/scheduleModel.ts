/**
 * The state behind the Schedule dialog: the form, its errors, the cron
 * preview and saving. No React and no Lab widgets here, so it is tested on
 * its own with a fake API client.
 */
import { ISignal, Signal } from '@lumino/signaling';

import { ApiError, CronPreview, GraphNode, Info, NotebookForm, OrchestrateClient, SavedSchedule, ScheduleRequest } from './api';
import { validateCron } from './cron';
import { changesOnly, formFromNotebook, FormErrors, ScheduleForm, validateForm } from './form';

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

/** The form field a server error names (`field` of the API's error), where it differs from the key. */
const FIELD_OF: Record<string, string> = {
  depends_on: 'dependsOn',
  'sla.finish_by': 'slaFinishBy',
  'sla.max_duration': 'slaMaxDuration',
  sla: 'slaFinishBy',
  alerts: 'alert.slack',
  parameters: 'parameters'
};

export class ScheduleModel {
  readonly notebook: string;
  readonly info: Info;
  readonly data: NotebookForm;
  readonly choices: DependencyChoice[];
  form: ScheduleForm;
  errors: FormErrors = {};
  serverError: string | null = null;
  saving = false;
  /** What the server wrote, after a successful save. */
  saved: SavedSchedule | null = null;
  preview: CronPreview | null = null;
  previewError: string | null = null;
  /** Where the form started (the notebook's metadata): saving sends only what differs from it. */
  readonly initial: ScheduleForm;
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
    this.initial = this.form;
    this.choices = dependencyChoices(options.graph, options.data.node_id);
    this.errors = validateForm(this.form, this.context()).errors;
  }

  /** Errors show as they happen; Save stays disabled while there is one. */
  get hasErrors(): boolean {
    return Object.keys(this.errors).length > 0 || this.previewError !== null;
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

  /** Whether saving leaves the notebook scheduled: a Repeat other than "Not scheduled" is chosen. */
  get willSchedule(): boolean {
    return this.form.cron.trim() !== '';
  }

  /** The Save button's words: what saving will do to the notebook's schedule. */
  get saveLabel(): string {
    if (!this.willSchedule) {
      return this.isScheduled ? 'Save and unschedule' : 'Save';
    }
    if (this.data.copy_of) {
      return 'Start this schedule';
    }
    return this.isScheduled ? 'Save schedule' : 'Save and schedule';
  }

  update(patch: Partial<ScheduleForm>): void {
    this.form = { ...this.form, ...patch };
    if ('cron' in patch || 'timezone' in patch) {
      this.schedulePreview();
    }
    this.errors = validateForm(this.form, this.context()).errors;
    this.serverError = null;
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
      injected: this.info.injected_parameters,
      cellParameters: this.data.parameters_cell.map(entry => entry.name)
    };
  }

  /** The request for the form, less what did not change since the dialog opened. */
  private changes(request: ScheduleRequest): ScheduleRequest {
    const baseline = validateForm(this.initial, this.context()).request;
    const cell = Object.fromEntries(this.data.parameters_cell.filter(entry => entry.plain).map(entry => [entry.name, entry.value]));
    const saved = (this.data.metadata.parameters ?? {}) as Record<string, unknown>;
    return changesOnly(request, baseline, saved, cell, this.isScheduled);
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
    if (!this.willSchedule) {
      this.preview = null;
      this.previewError = null;
      this._changed.emit();
      return;
    }
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
      const saved = await this.client.saveSchedule(this.changes(request));
      this.saved = saved;
      await this.hooks.after?.(saved);
      return true;
    } catch (error) {
      const field = error instanceof ApiError && error.field ? FIELD_OF[error.field] ?? error.field : null;
      if (field && error instanceof ApiError) {
        this.errors = { ...this.errors, [field]: error.detail ?? error.message };
      } else {
        this.serverError = error instanceof Error ? error.message : String(error);
      }
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
