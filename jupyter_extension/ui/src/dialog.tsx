/**
 * The Schedule dialog: cron presets and a custom field with a readable
 * preview and the next fire times, time zone, parameters, depends-on picker,
 * owner, alerts, retries, timeout and SLA. "Save" writes the schedule into
 * the notebook's metadata through the server; the dialog stays open, with
 * the server's message, when that fails.
 */
import { Dialog, ReactWidget, UseSignal } from '@jupyterlab/apputils';
import { PathExt } from '@jupyterlab/coreutils';
import { Message } from '@lumino/messaging';
import * as React from 'react';

import { SavedSchedule } from './api';
import { AlertSection, CronSection, DependsOnSection, ParametersSection, TextRow } from './dialogFields';
import { ScheduleModel } from './scheduleModel';

const SAVE_INDEX = 1;

export function ScheduleFormView(props: { model: ScheduleModel }): JSX.Element {
  const { model } = props;
  return (
    <div className="jp-Orchestrate-form" aria-busy={model.saving}>
      {model.serverError ? (
        <div className="jp-Orchestrate-serverError" role="alert">
          {model.serverError}
        </div>
      ) : null}
      {model.data.in_pipeline ? null : (
        <div className="jp-Orchestrate-warning">
          This notebook is not part of the pipeline yet: add a pattern matching it to notebooks.include in
          orchestrate.yaml.
        </div>
      )}
      {model.data.problem ? (
        <div className="jp-Orchestrate-nodeError" role="status">
          <b>This notebook is broken and does not run:</b> {model.data.problem}
        </div>
      ) : null}
      {model.data.copy_of ? (
        <div className="jp-Orchestrate-warning" role="status">
          This notebook is a copy of {model.data.copy_of} and carries its schedule, which does not fire for the copy.
          Check the settings below; saving starts this notebook's own schedule.
        </div>
      ) : null}
      <CronSection model={model} />
      {model.supports('parameters') ? <ParametersSection model={model} /> : null}
      {model.supports('depends_on') ? <DependsOnSection model={model} /> : null}
      {model.supports('owner') ? <TextRow model={model} field="owner" label="Owner" placeholder="e.g. ana@example.com" /> : null}
      {model.supports('alerts') ? <AlertSection model={model} /> : null}
      {model.supports('retries') ? <TextRow model={model} field="retries" label="Retries" placeholder="project default" /> : null}
      {model.supports('timeout') ? (
        <TextRow model={model} field="timeout" label="Timeout" placeholder="project default, e.g. 30m" />
      ) : null}
      {model.supports('sla') ? (
        <>
          <TextRow model={model} field="slaFinishBy" label="SLA: done by" placeholder="HH:MM in the schedule's time zone" />
          <TextRow model={model} field="slaMaxDuration" label="SLA: at most" placeholder="e.g. 45m after the start" />
        </>
      ) : null}
    </div>
  );
}

class ScheduleBody extends ReactWidget {
  constructor(private readonly model: ScheduleModel) {
    super();
    this.addClass('jp-Orchestrate-dialogBody');
  }

  render(): JSX.Element {
    return <UseSignal signal={this.model.changed}>{() => <ScheduleFormView model={this.model} />}</UseSignal>;
  }
}

/** Whether Enter at `target` belongs to the field (any form control but a button), not to the dialog. */
export function enterStaysInField(target: EventTarget | null): boolean {
  const element = target as HTMLElement | null;
  if (!element || typeof element.closest !== 'function') {
    return false;
  }
  if (element.closest('[data-enter="local"]')) {
    return true;
  }
  const tag = element.tagName;
  return tag === 'INPUT' || tag === 'TEXTAREA' || tag === 'SELECT';
}

/** A dialog whose Save button keeps it open until the server has accepted the schedule. */
export class ScheduleDialog extends Dialog<void> {
  saved: SavedSchedule | null = null;

  constructor(private readonly model: ScheduleModel) {
    super({
      title: `Schedule ${PathExt.basename(model.notebook)}`,
      body: new ScheduleBody(model),
      buttons: [
        Dialog.cancelButton(),
        Dialog.okButton({ label: model.saveLabel })
      ],
      defaultButton: SAVE_INDEX,
      focusNodeSelector: '#jp-Orchestrate-preset'
    });
    this.addClass('jp-Orchestrate-scheduleDialog');
    model.changed.connect(this.syncSave, this);
    void model.refreshPreview();
  }

  /** Save is disabled while the form shows an error (and while saving). */
  private syncSave(): void {
    const save = this.node.querySelector<HTMLButtonElement>('.jp-Dialog-footer .jp-mod-accept');
    if (save) {
      save.disabled = this.model.hasErrors || this.model.saving;
      save.title = this.model.hasErrors ? 'Fix the fields marked in red first' : '';
      const label = save.querySelector('.jp-Dialog-buttonLabel');
      if (label && label.textContent !== this.model.saveLabel) {
        label.textContent = this.model.saveLabel;
        save.setAttribute('aria-label', this.model.saveLabel);
      }
    }
  }

  protected onAfterAttach(msg: Message): void {
    super.onAfterAttach(msg);
    this.syncSave();
  }

  handleEvent(event: Event): void {
    // The Dialog saves on Enter anywhere; here Enter in a field (text, list, checkbox) never saves: the user
    // may be picking a time zone from the list. A field that handles Enter itself (the search box) keeps it;
    // Enter on a button presses that button. Save is the Save button (or Tab to it, then Enter).
    if (event.type === 'keydown' && (event as KeyboardEvent).key === 'Enter' && enterStaysInField(event.target)) {
      return;
    }
    super.handleEvent(event);
  }

  resolve(index?: number): void {
    if ((index ?? SAVE_INDEX) !== SAVE_INDEX) {
      super.resolve(index);
      return;
    }
    if (this.model.hasErrors || this.model.saving) {
      this.revealError();
      return;
    }
    void this.model.save().then(ok => {
      if (ok) {
        this.saved = this.model.saved;
        super.resolve(SAVE_INDEX);
      } else {
        requestAnimationFrame(() => this.revealError());
      }
    });
  }

  /** Scroll the first error into sight: a message below the fold is a message not read. */
  private revealError(): void {
    const error = this.node.querySelector('.jp-Orchestrate-serverError, .jp-Orchestrate-fieldError');
    error?.scrollIntoView({ block: 'center' });
  }

  dispose(): void {
    this.model.changed.disconnect(this.syncSave, this);
    this.model.dispose();
    super.dispose();
  }
}
