import { describe, expect, it } from 'vitest';

import { changesOnly, closestZone, emptyForm, formFromNotebook, ScheduleForm, validateForm } from '../src/form';
import { INFO, REPORT_FORM } from './fixtures';

const CONTEXT = {
  notebook: 'notebooks/daily_report.ipynb',
  settingsKeys: INFO.settings_keys,
  timezones: INFO.timezones,
  injected: INFO.injected_parameters
};

function form(patch: Partial<ScheduleForm> = {}): ScheduleForm {
  return { ...formFromNotebook(REPORT_FORM, 'Europe/Berlin'), ...patch };
}

describe('formFromNotebook', () => {
  it('starts from the parameters cell, overridden by the saved parameters, without injected ones', () => {
    const start = form();
    expect(start.parameters).toEqual([
      { name: 'warehouse', value: '"../shop.duckdb"' },
      { name: 'top_n', value: '5' },
      { name: 'today', value: '' }
    ]);
    expect(start.dependsOn).toEqual(['daily_revenue']);
    expect(start.owner).toBe('analytics@example.com');
    expect(start.timezone).toBe('Europe/Berlin');
    expect(start.alert.enabled).toBe(false);
  });

  it('reads a schedule written as a cron string or as a mapping, and alert routes and SLA', () => {
    const asString = formFromNotebook(
      { ...REPORT_FORM, metadata: { schedule: '0 6 * * *', timezone: 'UTC', sla: { finish_by: '07:30', freshness: '1d' } } },
      'Europe/Berlin'
    );
    expect([asString.cron, asString.timezone, asString.slaFinishBy]).toEqual(['0 6 * * *', 'UTC', '07:30']);
    expect(asString.slaOther).toEqual({ freshness: '1d' });
    const asMapping = formFromNotebook(
      {
        ...REPORT_FORM,
        metadata: {
          schedule: { cron: '15 5 * * 1', timezone: 'America/New_York', catchup: 'all' },
          alerts: [{ slack: '#data', on: 'failure' }, { email: ['b@example.com'] }]
        }
      },
      'UTC'
    );
    expect([asMapping.cron, asMapping.timezone]).toEqual(['15 5 * * 1', 'America/New_York']);
    expect(asMapping.alert).toEqual({ enabled: true, slack: '#data', email: '', on: ['failure'] });
    expect(asMapping.otherAlerts).toEqual([{ email: ['b@example.com'] }]);
  });
});

describe('validateForm', () => {
  it('turns a valid form into the request the server expects', () => {
    const { errors, request } = validateForm(
      form({
        cron: ' 0  7 * * 1-5 ',
        parameters: [
          { name: 'top_n', value: '3' },
          { name: 'warehouse', value: '"../shop.duckdb"' },
          { name: '', value: '' }
        ],
        retries: '2',
        timeout: '30m',
        slaFinishBy: '07:30',
        alert: { enabled: true, slack: '#data-alerts', email: 'a@example.com, b@example.com', on: ['failure'] }
      }),
      CONTEXT
    );
    expect(errors).toEqual({});
    expect(request).toEqual({
      notebook: 'notebooks/daily_report.ipynb',
      cron: '0 7 * * 1-5',
      timezone: 'Europe/Berlin',
      parameters: { top_n: 3, warehouse: '../shop.duckdb' },
      depends_on: ['daily_revenue'],
      owner: 'analytics@example.com',
      retries: 2,
      timeout: '30m',
      alerts: [{ on: ['failure'], slack: '#data-alerts', email: ['a@example.com', 'b@example.com'] }],
      sla: { finish_by: '07:30' }
    });
  });

  it('clears optional keys that were emptied, so the server removes them', () => {
    const { request } = validateForm(form({ owner: '  ', retries: '' }), CONTEXT);
    expect(request?.owner).toBeNull();
    expect(request?.retries).toBeNull();
    expect(request?.alerts).toBeNull();
    // 'today' has no plain default and was left empty: the notebook keeps its own value.
    expect(request?.parameters).toEqual({ warehouse: '../shop.duckdb', top_n: 5 });
  });

  it('names each field that is wrong, and sends nothing', () => {
    const { errors, request } = validateForm(
      form({
        cron: '0 7 * *',
        timezone: 'Europe/Berln',
        parameters: [
          { name: '1x', value: '1' },
          { name: 'class', value: '1' },
          { name: 'run_id', value: '"x"' },
          { name: 'top_n', value: 'five' },
          { name: 'top_n', value: '5' },
          { name: 'warehouse', value: '5' },
          { name: 'warehouse', value: '6' }
        ],
        retries: '-1',
        timeout: 'soon',
        slaFinishBy: '25:00',
        slaMaxDuration: '1 fortnight',
        alert: { enabled: true, slack: 'not a channel!', email: 'nobody', on: [] }
      }),
      CONTEXT
    );
    expect(request).toBeUndefined();
    expect(errors).toEqual({
      cron: "a cron expression has 5 fields (minute hour day-of-month month day-of-week); '0 7 * *' has 4",
      timezone: "'Europe/Berln' is not a known time zone; did you mean Europe/Berlin?",
      'parameters.0.name': "'1x' is not a Python identifier; use letters, digits and _",
      'parameters.1.name': "'class' is not a Python identifier; use letters, digits and _",
      'parameters.2.name': "'run_id' is set by orchestrate-ext on every run; choose another name",
      'parameters.3.value': 'not JSON: write numbers as 5, text in quotes as "text", lists as [1, 2]',
      'parameters.6.name': "'warehouse' is given twice",
      retries: 'retries is a whole number, 0 or more',
      timeout: "a duration: seconds, or a text like '30m' or '1h30m'",
      slaFinishBy: "a time of day as 'HH:MM', e.g. '07:30'",
      slaMaxDuration: "a duration: seconds, or a text like '30m' or '1h30m'",
      'alert.on': 'choose at least one event to be alerted of',
      'alert.slack': "a Slack channel is '#name' or a channel id such as C0123456789",
      'alert.email': 'not an e-mail address: nobody'
    });
  });

  it('leaves out what this server cannot store', () => {
    const old = { ...CONTEXT, settingsKeys: ['depends_on', 'owner', 'parameters', 'schedule', 'timezone'] };
    const { request } = validateForm(form({ retries: '3', slaFinishBy: '07:00' }), old);
    expect(request && Object.keys(request).sort()).toEqual(
      ['cron', 'depends_on', 'notebook', 'owner', 'parameters', 'timezone'].sort()
    );
  });

  it('starts a notebook that was never scheduled on "Not scheduled", and sends no cron or zone then', () => {
    expect(form().cron).toBe('');
    const { errors, request } = validateForm(form(), CONTEXT);
    expect(errors).toEqual({});
    expect([request!.cron, request!.timezone]).toEqual([null, null]);
  });

  it('starts new forms on weekdays at 07:00', () => {
    expect(emptyForm('UTC').cron).toBe('0 7 * * 1-5');
  });
});

describe('closestZone', () => {
  const zones = ['Europe/Berlin', 'Europe/Paris', 'America/New_York', 'UTC', 'America/Sao_Paulo'];
  it('suggests the zone a typo or a city name means', () => {
    expect(closestZone('Europe/Berln', zones)).toBe('Europe/Berlin');
    expect(closestZone('berlin', zones)).toBe('Europe/Berlin');
    expect(closestZone('new york', zones)).toBe('America/New_York');
    expect(closestZone('utc', zones)).toBe('UTC');
  });
  it('suggests nothing for text that is no zone at all', () => {
    expect(closestZone('Mars/Olympus_Mons', zones)).toBeNull();
    expect(closestZone('', zones)).toBeNull();
  });
});

describe('the parameters cell', () => {
  it('refuses a parameter the notebook does not have, naming the ones it has', () => {
    const context = { ...CONTEXT, cellParameters: ['logical_date', 'run_id', 'warehouse', 'top_n'] };
    const { errors, request } = validateForm(form({ parameters: [{ name: 'top_m', value: '4' }] }), context);
    expect(request).toBeUndefined();
    expect(errors['parameters.0.name']).toBe(
      "the notebook has no parameter 'top_m' (its parameters: warehouse, top_n); add it to the cell tagged parameters, or remove it"
    );
  });
  it('takes any name when the notebook has no parameters cell', () => {
    const { errors } = validateForm(form({ parameters: [{ name: 'top_m', value: '4' }] }), { ...CONTEXT, cellParameters: [] });
    expect(errors).toEqual({});
  });
});

describe('changesOnly', () => {
  const baseline = validateForm(form(), CONTEXT).request!;
  const saved = { top_n: 5 };
  const cell = { warehouse: '../shop.duckdb', top_n: 10 };

  it('sends nothing but the notebook when nothing changed', () => {
    expect(changesOnly(baseline, baseline, saved, cell, true)).toEqual({ notebook: 'notebooks/daily_report.ipynb' });
  });

  it('sends the cron expression and zone of a new schedule, and never pins a cell default', () => {
    const { request } = validateForm(form({ cron: '0 6 * * *' }), CONTEXT);
    expect(changesOnly(request!, baseline, saved, cell, false)).toEqual({
      notebook: 'notebooks/daily_report.ipynb',
      cron: '0 6 * * *',
      timezone: 'Europe/Berlin'
    });
  });

  it('sends no schedule for "Not scheduled" on an unscheduled notebook, and cron null to remove one', () => {
    const { request } = validateForm(form({ owner: 'ana@example.com' }), CONTEXT);
    expect(changesOnly(request!, baseline, saved, cell, false)).toEqual({
      notebook: 'notebooks/daily_report.ipynb',
      owner: 'ana@example.com'
    });
    const scheduledBaseline = validateForm(form({ cron: '0 6 * * *' }), CONTEXT).request!;
    expect(changesOnly(validateForm(form(), CONTEXT).request!, scheduledBaseline, saved, cell, true)).toEqual({
      notebook: 'notebooks/daily_report.ipynb',
      cron: null
    });
  });

  it('sends a changed parameter with the saved ones, and a changed key', () => {
    const { request } = validateForm(
      form({ owner: 'ana@example.com', parameters: [{ name: 'warehouse', value: '"other.duckdb"' }, { name: 'top_n', value: '5' }] }),
      CONTEXT
    );
    expect(changesOnly(request!, baseline, saved, cell, true)).toEqual({
      notebook: 'notebooks/daily_report.ipynb',
      parameters: { warehouse: 'other.duckdb', top_n: 5 },
      owner: 'ana@example.com'
    });
  });

  it('removes the saved parameters when every value is back to the cell default', () => {
    const { request } = validateForm(form({ parameters: [{ name: 'top_n', value: '' }] }), CONTEXT);
    expect(changesOnly(request!, baseline, saved, cell, true)).toEqual({
      notebook: 'notebooks/daily_report.ipynb',
      parameters: null
    });
  });
});
