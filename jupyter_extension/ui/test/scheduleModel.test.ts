import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

import { ApiError, CronPreview, OrchestrateClient, SavedSchedule, ScheduleRequest } from '../src/api';
import { dependencyChoices, filterChoices, ScheduleModel } from '../src/scheduleModel';
import { GRAPH, INFO, REPORT_FORM } from './fixtures';

class FakeClient {
  saved: ScheduleRequest[] = [];
  previews: string[] = [];
  saveError: ApiError | null = null;
  previewDelays: number[] = [];

  async saveSchedule(request: ScheduleRequest): Promise<SavedSchedule> {
    this.saved.push(request);
    if (this.saveError) {
      throw this.saveError;
    }
    return { notebook: request.notebook, node_id: 'notebook.notebooks/daily_report', metadata: {} };
  }

  async cronPreview(cron: string, timezone: string): Promise<CronPreview> {
    this.previews.push(`${cron} @ ${timezone}`);
    const delay = this.previewDelays.shift() ?? 0;
    await new Promise(resolve => setTimeout(resolve, delay));
    return { cron, timezone, next: [`next of ${cron}`] };
  }
}

function makeModel(client: FakeClient, hooks = {}): ScheduleModel {
  return new ScheduleModel(
    client as unknown as OrchestrateClient,
    { notebook: REPORT_FORM.notebook, info: INFO, data: REPORT_FORM, graph: GRAPH, defaultTimezone: 'Europe/Berlin' },
    hooks,
    300
  );
}

describe('dependency choices', () => {
  it('offers models, seeds, sources and other notebooks, by name when the name is unique', () => {
    const choices = dependencyChoices(GRAPH, 'notebook.notebooks/daily_report');
    expect(choices.map(choice => choice.reference)).toEqual([
      'daily_revenue',
      'notebooks/ingest_orders',
      'model.shop.orders',
      'seed.shop.orders',
      'raw.orders'
    ]);
    expect(filterChoices(choices, 'ORDERS seed').map(choice => choice.id)).toEqual(['seed.shop.orders']);
    expect(filterChoices(choices, '')).toHaveLength(5);
  });
});

describe('ScheduleModel', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('does not call the server while the form has errors, and shows them', async () => {
    const client = new FakeClient();
    const model = makeModel(client);
    model.update({ cron: '0 7 * *' });
    expect(await model.save()).toBe(false);
    expect(client.saved).toEqual([]);
    expect(model.errors.cron).toMatch(/has 4$/);
    model.update({ cron: '0 7 * * *' });
    expect(model.errors.cron).toBeUndefined();
  });

  it("keeps the dialog's data and shows the server's message when saving fails", async () => {
    const client = new FakeClient();
    client.saveError = new ApiError(400, "notebook 'x' depends on 'ordrs'; did you mean 'orders'?", 'NodeNotFound');
    const after = vi.fn();
    const model = makeModel(client, { after });
    expect(await model.save()).toBe(false);
    expect(model.serverError).toBe("notebook 'x' depends on 'ordrs'; did you mean 'orders'?");
    expect(model.saving).toBe(false);
    expect(after).not.toHaveBeenCalled();
    expect(model.form.dependsOn).toEqual(['daily_revenue']);
  });

  it('saves through the hooks in order: save the open notebook, write, reload it', async () => {
    const client = new FakeClient();
    const calls: string[] = [];
    const model = makeModel(client, {
      before: async () => {
        calls.push(`before (${client.saved.length} saved)`);
      },
      after: async () => {
        calls.push(`after (${client.saved.length} saved)`);
      }
    });
    model.toggleDependency('raw.orders');
    expect(await model.save()).toBe(true);
    expect(calls).toEqual(['before (0 saved)', 'after (1 saved)']);
    expect(client.saved[0].depends_on).toEqual(['daily_revenue', 'raw.orders']);
    // The notebook was never scheduled and no Repeat was chosen: saving its dependencies does not schedule it.
    expect(client.saved[0].cron).toBeUndefined();
    expect(client.saved[0].timezone).toBeUndefined();
  });

  it('starts a never-scheduled notebook on "Not scheduled"; Save schedules only a Repeat the user chose', async () => {
    const client = new FakeClient();
    const model = makeModel(client);
    expect([model.form.cron, model.willSchedule, model.saveLabel]).toEqual(['', false, 'Save']);
    model.update({ cron: '0 7 * * 1-5' });
    expect(model.saveLabel).toBe('Save and schedule');
    expect(await model.save()).toBe(true);
    expect([client.saved[0].cron, client.saved[0].timezone]).toEqual(['0 7 * * 1-5', 'Europe/Berlin']);
  });

  it('removes the schedule of a scheduled notebook set to "Not scheduled", and says so on the button', async () => {
    const client = new FakeClient();
    const data = { ...REPORT_FORM, metadata: { ...REPORT_FORM.metadata, schedule: '0 6 * * *', timezone: 'UTC' } };
    const model = new ScheduleModel(
      client as unknown as OrchestrateClient,
      { notebook: REPORT_FORM.notebook, info: INFO, data, graph: GRAPH, defaultTimezone: 'Europe/Berlin' },
      {},
      300
    );
    expect(model.saveLabel).toBe('Save schedule');
    model.update({ cron: '' });
    expect(model.saveLabel).toBe('Save and unschedule');
    expect(await model.save()).toBe(true);
    expect(client.saved[0]).toEqual({ notebook: REPORT_FORM.notebook, cron: null });
  });

  it('asks for a preview once typing stops, and ignores answers that came too late', async () => {
    const client = new FakeClient();
    const model = makeModel(client);
    client.previewDelays = [500, 0];
    model.update({ cron: '0 6 * * *' });
    model.update({ cron: '0 6 * * 1' });
    await vi.advanceTimersByTimeAsync(299);
    expect(client.previews).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(client.previews).toEqual(['0 6 * * 1 @ Europe/Berlin']);
    model.update({ timezone: 'UTC' });
    await vi.advanceTimersByTimeAsync(300);
    await vi.advanceTimersByTimeAsync(600);
    expect(client.previews).toEqual(['0 6 * * 1 @ Europe/Berlin', '0 6 * * 1 @ UTC']);
    expect(model.preview?.timezone).toBe('UTC');
  });

  it('shows the cron problem instead of a preview for an invalid expression', async () => {
    const client = new FakeClient();
    const model = makeModel(client);
    model.update({ cron: '61 * * * *' });
    await vi.advanceTimersByTimeAsync(300);
    expect(client.previews).toEqual([]);
    expect(model.preview).toBeNull();
    expect(model.previewError).toBe("minute field '61': 61 is out of range 0-59");
  });

  it('flags a bad time zone as it is typed, with a suggestion, and blocks saving until it is fixed', () => {
    const model = makeModel(new FakeClient());
    expect(model.hasErrors).toBe(false);
    model.update({ timezone: 'Europe/Berln' });
    expect(model.hasErrors).toBe(true);
    expect(model.errors.timezone).toBe("'Europe/Berln' is not a known time zone; did you mean Europe/Berlin?");
    model.update({ timezone: 'Europe/Berlin' });
    expect(model.hasErrors).toBe(false);
  });

  it("puts a server error that names a field at that field, in the field's own words", async () => {
    const client = new FakeClient();
    client.saveError = new ApiError(
      400,
      "notebook 'x' metadata: key 'orchestrate.schedule.cron': Value error, '0 7 31 2 *' never matches a date",
      'FieldError',
      'cron',
      "'0 7 31 2 *' never matches a date"
    );
    const model = makeModel(client);
    expect(await model.save()).toBe(false);
    expect(model.errors.cron).toBe("'0 7 31 2 *' never matches a date");
    expect(model.serverError).toBeNull();
    expect(model.hasErrors).toBe(true);
  });

  it('sends only what changed: a new schedule, not the parameters cell defaults', async () => {
    const client = new FakeClient();
    const model = makeModel(client);
    model.update({ cron: '0 6 * * *' });
    expect(await model.save()).toBe(true);
    expect(client.saved[0]).toEqual({ notebook: REPORT_FORM.notebook, cron: '0 6 * * *', timezone: 'Europe/Berlin' });
  });
});
