"""Every catch-up policy after downtime, on a fake clock: one record per fire time, runs as the policy says."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from orchestrate_ext.model import RunStatus
from orchestrate_ext.schedule_settings import CatchUp
from orchestrate_ext.scheduling.catchup import plan_cron_ticks
from orchestrate_ext.scheduling.definitions import ScheduleDefinition
from orchestrate_ext.scheduling.scheduler import Scheduler
from orchestrate_ext.store import StateStore
from orchestrate_ext.store.records import TickRecord, TickStatus, Trigger
from orchestrate_ext.testing import FakeClock, ScriptedRunner
from tests.orchestrate_ext.scheduling.helpers import make_scheduler, snapshot, utc
from tests.support.stores import runs_of, ticks_of

FRIDAY_EVENING = utc(2024, 1, 5, 17, 30)  # the laptop lid closes after this
MONDAY_MORNING = utc(2024, 1, 8, 8, 30)  # and opens here: 63 hourly fire times were missed


def hourly(catchup: CatchUp, **fields: object) -> ScheduleDefinition:
    return ScheduleDefinition("hourly", "orchestrate.yaml", cron="0 * * * *", select="load", catchup=catchup, **fields)  # type: ignore[arg-type]


def weekend(
    tmp_path: Path, store: StateStore, definition: ScheduleDefinition
) -> tuple[Scheduler, StateStore, ScriptedRunner]:
    clock = FakeClock(FRIDAY_EVENING)
    runner = ScriptedRunner()
    scheduler = make_scheduler(store, clock, snapshot(tmp_path, [definition], runner))
    scheduler.step()  # registers the schedule: next fire 18:00 on Friday
    clock.set(MONDAY_MORNING)
    return scheduler, store, runner


def drive(scheduler: Scheduler, steps: int = 1) -> None:
    """Step until idle: each step starts what has a free slot, then its runs are waited for."""
    for _ in range(steps):
        scheduler.step()
        assert scheduler.pool.wait(10)


def ticks(scheduler: Scheduler) -> list[TickRecord]:
    return sorted(ticks_of(scheduler.store, limit=10_000), key=lambda tick: tick.scheduled_at)


def test_latest_runs_the_newest_missed_fire_time_and_records_the_rest_as_skipped(
    tmp_path: Path, store: StateStore
) -> None:
    scheduler, _, runner = weekend(tmp_path, store, hourly(CatchUp.LATEST))
    drive(scheduler)
    recorded = ticks(scheduler)
    assert len(recorded) == 63
    assert recorded[0].scheduled_at == utc(2024, 1, 5, 18) and recorded[-1].scheduled_at == utc(2024, 1, 8, 8)
    assert all(t.status == TickStatus.SKIPPED and "superseded" in (t.reason or "") for t in recorded[:-1])
    newest = recorded[-1]
    assert (newest.status, newest.trigger) == (TickStatus.RAN, Trigger.CATCH_UP)
    [run] = runs_of(store)
    assert (run.logical_date, run.trigger, run.schedule, run.status) == (
        utc(2024, 1, 8, 8),
        "catch-up",
        "hourly",
        RunStatus.SUCCESS,
    )
    assert [call[2] for call in runner.calls] == [utc(2024, 1, 8, 8)], "the run's logical date reaches the node"


def test_latest_prefers_an_on_time_fire_time_over_missed_ones(tmp_path: Path, store: StateStore) -> None:
    scheduler, _, _ = weekend(tmp_path, store, hourly(CatchUp.LATEST))
    scheduler.clock.set(utc(2024, 1, 8, 9, 0, 20))  # type: ignore[attr-defined]
    drive(scheduler)
    recorded = ticks(scheduler)
    assert recorded[-1].scheduled_at == utc(2024, 1, 8, 9) and recorded[-1].trigger == Trigger.CRON
    assert [t.status for t in recorded].count(TickStatus.RAN) == 1
    assert [run.trigger for run in runs_of(store)] == ["cron"]


def test_all_runs_every_missed_fire_time_in_order_bounded_by_max_catchup(tmp_path: Path, store: StateStore) -> None:
    scheduler, _, runner = weekend(tmp_path, store, hourly(CatchUp.ALL, max_catchup=5))
    drive(scheduler, steps=6)  # max_active_runs=1: one run per step
    recorded = ticks(scheduler)
    skipped = [t for t in recorded if t.status == TickStatus.SKIPPED]
    ran = [t for t in recorded if t.status == TickStatus.RAN]
    assert len(skipped) == 58 and all("max_catchup=5" in (t.reason or "") for t in skipped)
    assert [t.scheduled_at.hour for t in ran] == [4, 5, 6, 7, 8]
    runs = runs_of(store)
    assert sorted(run.logical_date.hour for run in runs) == [4, 5, 6, 7, 8]
    assert [call[2].hour for call in runner.calls] == [4, 5, 6, 7, 8], "oldest first"
    assert all(run.trigger == "catch-up" for run in runs)


def test_all_with_several_active_runs_starts_them_together(tmp_path: Path, store: StateStore) -> None:
    scheduler, _, runner = weekend(tmp_path, store, hourly(CatchUp.ALL, max_catchup=3, max_active_runs=3))
    runner.gate.clear()
    report = scheduler.step()
    assert len(report.started) == 3
    runner.gate.set()
    assert scheduler.pool.wait(10)
    assert len(runs_of(store)) == 3


def test_none_runs_nothing_for_missed_fire_times(tmp_path: Path, store: StateStore) -> None:
    scheduler, _, _ = weekend(tmp_path, store, hourly(CatchUp.NONE))
    drive(scheduler)
    recorded = ticks(scheduler)
    assert len(recorded) == 63 and all(t.status == TickStatus.SKIPPED for t in recorded)
    assert "catchup: none" in (recorded[0].reason or "")
    assert runs_of(store) == []
    scheduler.clock.set(utc(2024, 1, 8, 9, 0, 5))  # type: ignore[attr-defined]
    drive(scheduler)
    assert [run.logical_date for run in runs_of(store)] == [utc(2024, 1, 8, 9)], "on-time fire times still run"


def test_a_short_hiccup_within_the_misfire_grace_is_on_time(tmp_path: Path, store: StateStore) -> None:
    clock = FakeClock(utc(2024, 1, 8, 8, 59))
    scheduler = make_scheduler(store, clock, snapshot(tmp_path, [hourly(CatchUp.NONE)], ScriptedRunner()))
    scheduler.step()
    clock.set(utc(2024, 1, 8, 9, 0, 45))
    drive(scheduler)
    [tick] = ticks(scheduler)
    assert (tick.trigger, tick.status) == (Trigger.CRON, TickStatus.RAN)


def test_every_fire_time_is_recorded_exactly_once_whatever_the_steps(tmp_path: Path, store: StateStore) -> None:
    clock = FakeClock(utc(2024, 1, 8, 0, 0, 30))
    definition = ScheduleDefinition("often", "x", cron="*/10 * * * *", select="load", catchup=CatchUp.LATEST)
    scheduler = make_scheduler(store, clock, snapshot(tmp_path, [definition], ScriptedRunner()))
    moment = clock.now()
    for gap in [1, 7, 3, 45, 2, 600, 9, 130, 1, 11, 59]:
        moment = clock.set(moment + timedelta(minutes=gap))
        drive(scheduler)
    times = [t.scheduled_at for t in ticks(scheduler)]
    expected = [utc(2024, 1, 8, 0, 10) + timedelta(minutes=10 * n) for n in range(len(times))]
    assert times == expected and times[-1] <= moment < times[-1] + timedelta(minutes=10)
    assert len(runs_of(store, limit=1000)) == sum(t.status == TickStatus.RAN for t in ticks(scheduler))


def test_daylight_saving_in_the_scheduler_fires_once_per_local_time(tmp_path: Path, store: StateStore) -> None:
    clock = FakeClock(utc(2024, 3, 29, 12))
    definition = ScheduleDefinition("night", "x", cron="30 2 * * *", timezone="Europe/Berlin", select="load")
    scheduler = make_scheduler(store, clock, snapshot(tmp_path, [definition], ScriptedRunner()))
    scheduler.step()
    for hours in range(24 * 8):  # a step every hour for eight days, over the spring change
        clock.set(utc(2024, 3, 29, 12) + timedelta(hours=hours, minutes=1))
        drive(scheduler)
    dates = [run.logical_date for run in sorted(runs_of(store), key=lambda run: run.logical_date)]
    assert dates[:3] == [utc(2024, 3, 30, 1, 30), utc(2024, 3, 31, 1), utc(2024, 4, 1, 0, 30)]
    assert len(dates) == len(set(dates)) == 8


@pytest.mark.parametrize("policy", list(CatchUp))
def test_a_very_long_downtime_is_recorded_within_bounds(policy: CatchUp) -> None:
    definition = ScheduleDefinition("m", "x", cron="* * * * *", catchup=policy, max_catchup=3)
    start = utc(2024, 1, 1)
    now = start + timedelta(days=30)
    plan = plan_cron_ticks(definition, start, now, misfire_grace=30, record_limit=100)
    assert len(plan.ticks) == 101
    summary = plan.ticks[0]
    assert summary.status == TickStatus.SKIPPED and "too many to record" in (summary.reason or "")
    assert [tick.scheduled_at for tick in plan.ticks[1:]] == [now - timedelta(minutes=99 - n) for n in range(100)]
    assert plan.next_fire_at == now + timedelta(minutes=1)
    pending = [tick for tick in plan.ticks if tick.status == TickStatus.PENDING]
    expected = {CatchUp.LATEST: 1, CatchUp.ALL: 3 + 1, CatchUp.NONE: 1}[policy]
    assert len(pending) == expected, "the tick at `now` itself is on time"
