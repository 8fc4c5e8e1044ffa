"""Backfill: one run per fire time in order, parallel runs, skipping what succeeded unless forced."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from orchestrate_ext.errors import BadInput
from orchestrate_ext.execution.claims import Supervisor
from orchestrate_ext.model import RunStatus
from orchestrate_ext.scheduling.backfill import Backfill, BackfillItem, backfill_dates, parse_bound
from orchestrate_ext.scheduling.definitions import ScheduleDefinition
from orchestrate_ext.store import StateStore
from orchestrate_ext.store.records import TickStatus, Trigger
from orchestrate_ext.testing import FakeClock, ScriptedRunner, wait_until
from tests.orchestrate_ext.scheduling.helpers import identity, snapshot, utc
from tests.support.stores import runs_of, ticks_of

DAILY = ScheduleDefinition("daily", "orchestrate.yaml", cron="0 6 * * *", timezone="Europe/Berlin", select="+transform")


def backfill(tmp_path: Path, store: StateStore, runner: ScriptedRunner, **options: object) -> Backfill:
    clock = FakeClock(utc(2024, 2, 1))
    supervisor = Supervisor(store, clock, identity=identity("backfill"))
    return Backfill(snapshot(tmp_path, [DAILY], runner), store, clock, DAILY, supervisor=supervisor, **options)  # type: ignore[arg-type]


def dates(start: str, end: str) -> list:  # type: ignore[type-arg]
    return backfill_dates(
        DAILY, parse_bound(start, DAILY.timezone, end=False), parse_bound(end, DAILY.timezone, end=True)
    )


def test_dates_are_the_fire_times_between_local_days_inclusive() -> None:
    found = dates("2024-01-01", "2024-01-03")
    assert found == [utc(2024, 1, 1, 5), utc(2024, 1, 2, 5), utc(2024, 1, 3, 5)]  # 06:00 in Berlin
    assert dates("2024-01-01T07:00", "2024-01-02T06:00") == [utc(2024, 1, 2, 5)]
    assert dates("2024-01-01T05:00Z", "2024-01-01T05:00Z") == [utc(2024, 1, 1, 5)]


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [
        ("2024-01-03", "2024-01-01", "--end .* is before --start"),
        ("yesterday", "2024-01-01", "--start 'yesterday' is not a date"),
        ("2024-01-01T01:00", "2024-01-01T02:00", "does not fire between"),
        ("2020-01-01", "2024-01-01", "more than 1000 times"),
    ],
)
def test_bad_ranges_say_what_to_do(start: str, end: str, message: str) -> None:
    with pytest.raises(BadInput, match=message):
        dates(start, end)


def test_a_schedule_without_cron_cannot_be_backfilled() -> None:
    with pytest.raises(BadInput, match="has no cron expression"):
        backfill_dates(ScheduleDefinition("x", "y", after=("daily",)), utc(2024, 1, 1), utc(2024, 1, 2))


def test_one_run_per_date_in_order_each_with_its_logical_date_and_tick(tmp_path: Path, store: StateStore) -> None:
    runner = ScriptedRunner()
    items = backfill(tmp_path, store, runner).run(dates("2024-01-01", "2024-01-04"))
    assert [item.status for item in items] == ["success"] * 4
    assert [call[2] for call in runner.calls if call[1] == "fake.load"] == [utc(2024, 1, d, 5) for d in (1, 2, 3, 4)]
    runs = {run.run_id: run for run in runs_of(store)}
    assert all(runs[item.run_id].trigger == "backfill" and runs[item.run_id].schedule == "daily" for item in items)  # type: ignore[index]
    assert [runs[item.run_id].logical_date for item in items] == [item.logical_date for item in items]  # type: ignore[index]
    assert sorted(runs[i.run_id].created_at for i in items) == [runs[i.run_id].created_at for i in items]  # type: ignore[index]
    ticks = ticks_of(store, "daily")
    assert len(ticks) == 4 and {(t.trigger, t.status) for t in ticks} == {(Trigger.BACKFILL, TickStatus.RAN)}


def test_parallel_runs_at_most_n_at_once_and_creates_them_in_date_order(tmp_path: Path, store: StateStore) -> None:
    runner = ScriptedRunner()
    runner.gate.clear()
    job = backfill(tmp_path, store, runner, parallel=2)
    created: list[BackfillItem] = []
    thread = threading.Thread(
        target=job.run, args=(dates("2024-01-01", "2024-01-05"),), kwargs={"on_item": created.append}
    )
    thread.start()
    wait_until(lambda: len(created) == 2)
    assert len(runs_of(store)) == 2, "a third run waits for a free slot"
    runner.gate.set()
    thread.join(20)
    assert [item.logical_date for item in created] == [utc(2024, 1, d, 5) for d in range(1, 6)]
    assert all(run.status == RunStatus.SUCCESS for run in runs_of(store))


def test_dates_that_succeeded_are_skipped_unless_forced_and_failed_ones_run_again(
    tmp_path: Path, store: StateStore
) -> None:
    first = backfill(tmp_path, store, ScriptedRunner({"fake.load": ["ok", "fail"]})).run(
        dates("2024-01-01", "2024-01-02")
    )
    assert [item.status for item in first] == ["success", "failed"]
    runner = ScriptedRunner()
    again = backfill(tmp_path, store, runner).run(dates("2024-01-01", "2024-01-02"))
    assert [item.status for item in again] == ["skipped", "success"]
    assert "already succeeded in run" in (again[0].reason or "") and "--force" in (again[0].reason or "")
    forced = backfill(tmp_path, store, ScriptedRunner(), force=True).run(dates("2024-01-01", "2024-01-02"))
    assert [item.status for item in forced] == ["success", "success"]
    assert len(runs_of(store)) == 5


def test_a_cancelled_backfill_creates_no_more_runs(tmp_path: Path, store: StateStore) -> None:
    runner = ScriptedRunner()
    runner.gate.clear()
    cancel = threading.Event()
    job = backfill(tmp_path, store, runner)
    result: list[list[BackfillItem]] = []
    thread = threading.Thread(target=lambda: result.append(job.run(dates("2024-01-01", "2024-01-03"), cancel)))
    thread.start()
    wait_until(lambda: len(runs_of(store)) == 1)
    cancel.set()
    thread.join(20)
    assert [item.status for item in result[0]] == ["cancelled", "skipped", "skipped"]
    assert len(runs_of(store)) == 1
