/**
 * "Run…": start a run now, for a chosen logical date, of the whole pipeline,
 * a selection, or one notebook with the parameters typed here (pre-filled from
 * its parameters cell and its saved parameters; values are JSON), and, with
 * "Only what changed" (pre-set to the project's `defaults.only_changed`), only
 * the nodes whose code or inputs changed.
 */
import { Dialog, ReactWidget, showDialog } from '@jupyterlab/apputils';
import * as React from 'react';

import { checkRun, logicalInstant, RunForm } from './viewModel';
import { OrchestrateClient, TriggerResult } from './api';
import { PlanPreview } from './planPreview';
import { localZone } from './time';

class RunBody extends ReactWidget {
  errors: Record<string, string> = {};
  serverError: string | null = null;

  constructor(
    public form: RunForm,
    private readonly fixedSelection: boolean,
    private readonly client: OrchestrateClient | null = null
  ) {
    super();
    this.addClass('jp-Orchestrate-runDialogBody');
  }

  private set(patch: Partial<RunForm>): void {
    this.form = { ...this.form, ...patch };
    this.update();
  }

  render(): JSX.Element {
    const { form } = this;
    const logical = logicalInstant(form.logicalDate);
    return (
      <div className="jp-Orchestrate-form">
        <div className="jp-Orchestrate-row">
          <label className="jp-Orchestrate-label" htmlFor="jp-Orchestrate-run-selection">
            Run
          </label>
          <div className="jp-Orchestrate-control">
            <input
              id="jp-Orchestrate-run-selection"
              className="jp-mod-styled jp-Orchestrate-mono"
              value={form.selection}
              readOnly={this.fixedSelection}
              placeholder="everything (or e.g. +daily_report, tag:finance)"
              onChange={event => this.set({ selection: event.target.value })}
            />
          </div>
        </div>
        <div className="jp-Orchestrate-row">
          <label className="jp-Orchestrate-label" htmlFor="jp-Orchestrate-run-logical">
            Logical date
          </label>
          <div className="jp-Orchestrate-control">
            <input
              id="jp-Orchestrate-run-logical"
              className="jp-mod-styled"
              type="datetime-local"
              value={form.logicalDate}
              onChange={event => this.set({ logicalDate: event.target.value })}
            />
            {this.errors.logicalDate ? <div className="jp-Orchestrate-fieldError">{this.errors.logicalDate}</div> : null}
            <div className="jp-Orchestrate-hint">The date the run is for, in {localZone()}; empty: now. Notebooks get it as logical_date.</div>
          </div>
        </div>
        {form.parameters.length ? (
          <div className="jp-Orchestrate-row">
            <span className="jp-Orchestrate-label">Parameters</span>
            <div className="jp-Orchestrate-control jp-Orchestrate-parameters">
              {form.parameters.map((row, index) => (
                <div className="jp-Orchestrate-parameter jp-Orchestrate-runParameter" key={row.name}>
                  <label className="jp-Orchestrate-mono" htmlFor={`jp-Orchestrate-run-parameter-${index}`}>
                    {row.name}
                  </label>
                  <input
                    id={`jp-Orchestrate-run-parameter-${index}`}
                    className="jp-mod-styled jp-Orchestrate-mono"
                    aria-label={`run parameter ${row.name}`}
                    value={row.value}
                    onChange={event =>
                      this.set({ parameters: form.parameters.map((item, at) => (at === index ? { ...item, value: event.target.value } : item)) })
                    }
                  />
                  {this.errors[`parameter.${row.name}`] ? <div className="jp-Orchestrate-fieldError">{this.errors[`parameter.${row.name}`]}</div> : null}
                </div>
              ))}
              <div className="jp-Orchestrate-hint">For this run only; the notebook and its schedule keep theirs.</div>
            </div>
          </div>
        ) : null}
        <div className="jp-Orchestrate-row">
          <span className="jp-Orchestrate-label">Reuse</span>
          <div className="jp-Orchestrate-control">
            <label className="jp-Orchestrate-inline" htmlFor="jp-Orchestrate-run-only-changed">
              <input
                id="jp-Orchestrate-run-only-changed"
                type="checkbox"
                checked={form.onlyChanged}
                aria-describedby="jp-Orchestrate-run-only-changed-hint"
                onChange={event => this.set({ onlyChanged: event.target.checked })}
              />{' '}
              Only what changed
            </label>
            <div className="jp-Orchestrate-hint" id="jp-Orchestrate-run-only-changed-hint">
              Run only what changed since its last success (code, parameters, logical date, upstream results) and what depends on it; the rest is reused. The run page says why.
            </div>
          </div>
        </div>
        {this.client ? (
          <div className="jp-Orchestrate-row">
            <span className="jp-Orchestrate-label">Preview</span>
            <div className="jp-Orchestrate-control">
              <PlanPreview
                client={this.client}
                selection={form.selection}
                onlyChanged={form.onlyChanged}
                logicalDate={logical === 'invalid' ? null : logical}
              />
            </div>
          </div>
        ) : null}
        {this.serverError ? (
          <div className="jp-Orchestrate-serverError" role="alert">
            {this.serverError}
          </div>
        ) : null}
      </div>
    );
  }
}

/** The project's `defaults.only_changed`, or off when the server does not tell (or cannot be asked). */
async function onlyChangedDefault(client: OrchestrateClient): Promise<boolean> {
  try {
    return (await client.info()).only_changed_default === true;
  } catch {
    return false; // the dialog still opens; the server's error shows when the run is started
  }
}

/** Ask what to run and start it; the started run, or null when cancelled. */
export async function runDialog(
  client: OrchestrateClient,
  options: { title: string; selection?: string; parameters?: { name: string; value: string }[] }
): Promise<TriggerResult | null> {
  let form: RunForm = {
    selection: options.selection ?? '',
    logicalDate: '',
    parameters: (options.parameters ?? []).map(row => ({ ...row, initial: row.value })),
    onlyChanged: await onlyChangedDefault(client)
  };
  let errors: Record<string, string> = {};
  let serverError: string | null = null;
  for (;;) {
    const body = new RunBody(form, options.selection !== undefined, client);
    body.errors = errors;
    body.serverError = serverError;
    const result = await showDialog({
      title: options.title,
      body,
      buttons: [Dialog.cancelButton(), Dialog.okButton({ label: 'Run now' })],
      focusNodeSelector: '#jp-Orchestrate-run-logical'
    });
    form = body.form;
    if (!result.button.accept) {
      return null;
    }
    const checked = checkRun(form);
    errors = checked.errors;
    serverError = null;
    if (checked.parameters !== undefined) {
      try {
        return await client.trigger(form.selection.trim() || null, checked.logicalDate ?? null, checked.parameters, checked.onlyChanged ?? null);
      } catch (error) {
        serverError = error instanceof Error ? error.message : String(error);
      }
    }
  }
}
