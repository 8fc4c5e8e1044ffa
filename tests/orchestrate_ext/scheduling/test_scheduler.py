"""The scheduler's step on a fake clock: runs, slots, pauses, node schedules and the triggers beyond cron."""

from __future__ import annotations

import os
import threading
import time
from datetime import timedelta
from pathlib import Path

from orchestrate_ext.model import AttemptStatus, NodeStatus, RunStatus
from orchestrate_ext.schedule_settings import CatchUp
from orchestrate_ext.scheduling.definitions import ScheduleDefinition
from orchestrate_ext.scheduling.source import StaticSource
from orchestrate_ext.store import StateStore
from orchestrate_ext.store.records import TickStatus, Trigger
from orchestrate_ext.testing import FakeClock, ScriptedRunner
from tests.orchestrate_ext.scheduling.helpers import make_scheduler, snapshot, utc
from tests.support.stores import attempts_of, close_run, node_states_of, run_of, runs_of, schedule_states_of, ticks_of

T0 = utc(2024, 1, 8, 5, 59, 30)


def nightly(**fields: object) -> ScheduleDefinition:
    options: dict[str, object] = {"cron": "0 6 * * *", "select": "+report", **fields}
    return ScheduleDefinition("nightly", "orchestrate.yaml", **options)  # type: ignore[arg-type]


def test_a_due_schedule_runs_its_selection_with_its_parameters_and_logical_date(
    tmp_path: Path, store: StateStore
) -> None:
    clock = FakeClock(T0)
    runner = ScriptedRunner()
    scheduler = make_scheduler(store, clock, snapshot(tmp_path, [nightly(parameters={"region": "eu"})], runner))
    assert scheduler.step().started == []
    clock.set(utc(2024, 1, 8, 6, 0, 1))
    report = scheduler.step()
    assert len(report.started) == 1 and scheduler.pool.wait(10)
    run = run_of(store, report.started[0])
    assert (run.schedule, run.trigger, run.logical_date, run.selection, run.status) == (
        "nightly",
        "cron",
        utc(2024, 1, 8, 6),
        "+report",
        RunStatus.SUCCESS,
    )
    assert runner.nodes_run() == ["fake.load", "fake.transform", "fake.report"]
    assert {call[3]["region"] for call in runner.calls} == {"eu"}
    assert scheduler.step().started == [], "a fire time runs once"
    assert schedule_states_of(scheduler.store)["nightly"].next_fire_at == utc(2024, 1, 9, 6)


def test_max_active_runs_holds_ticks_back_and_latest_keeps_only_the_newest_waiting(
    tmp_path: Path, store: StateStore
) -> None:
    clock = FakeClock(utc(2024, 1, 8, 0, 0, 30))
    runner = ScriptedRunner()
    runner.gate.clear()
    every_minute = ScheduleDefinition("m", "x", cron="* * * * *", select="load", catchup=CatchUp.LATEST)
    scheduler = make_scheduler(store, clock, snapshot(tmp_path, [every_minute], runner))
    scheduler.step()
    for minute in range(1, 4):
        clock.set(utc(2024, 1, 8, 0, minute, 1))
        scheduler.step()
    assert len(runs_of(store)) == 1, "one run at a time"
    statuses = [(t.scheduled_at.minute, t.status) for t in sorted(ticks_of(scheduler.store), key=lambda t: t.tick_id)]
    assert statuses == [(1, TickStatus.RAN), (2, TickStatus.SKIPPED), (3, TickStatus.PENDING)]
    runner.gate.set()
    assert scheduler.pool.wait(10)
    clock.set(utc(2024, 1, 8, 0, 3, 30))
    report = scheduler.step()
    assert len(report.started) == 1 and run_of(store, report.started[0]).logical_date == utc(2024, 1, 8, 0, 3)
    assert scheduler.pool.wait(10)


def test_a_fire_time_already_covered_by_a_backfill_is_deduplicated(tmp_path: Path, store: StateStore) -> None:
    clock = FakeClock(T0)
    scheduler = make_scheduler(store, clock, snapshot(tmp_path, [nightly()], ScriptedRunner()))
    scheduler.step()
    executor = scheduler._executor_for(scheduler.source.current())
    earlier = executor.create_run({"fake.load"}, utc(2024, 1, 8, 6), trigger="backfill", schedule="nightly")
    close_run(store, earlier.run_id, RunStatus.SUCCESS)
    clock.set(utc(2024, 1, 8, 6, 0, 2))
    assert scheduler.step().started == []
    [tick] = ticks_of(scheduler.store)
    assert (tick.status, tick.duplicate_of) == (TickStatus.DEDUPLICATED, earlier.run_id)


def test_a_paused_schedule_records_nothing_and_resumes_from_the_next_fire_time(
    tmp_path: Path, store: StateStore
) -> None:
    clock = FakeClock(T0)
    scheduler = make_scheduler(store, clock, snapshot(tmp_path, [nightly()], ScriptedRunner()))
    scheduler.step()
    with store.transaction() as tx:
        tx.set_paused("nightly", True, clock.now(), None)
    clock.set(utc(2024, 1, 10, 12))
    scheduler.step()
    assert ticks_of(scheduler.store) == [] and runs_of(store) == []
    with store.transaction() as tx:
        tx.set_paused("nightly", False, clock.now(), utc(2024, 1, 11, 6))
    clock.set(utc(2024, 1, 11, 6, 0, 1))
    scheduler.step()
    assert scheduler.pool.wait(10)
    assert [run.logical_date for run in runs_of(store)] == [utc(2024, 1, 11, 6)]


def test_a_node_schedule_runs_stale_ancestors_only(tmp_path: Path, store: StateStore) -> None:
    clock = FakeClock(T0)
    runner = ScriptedRunner()
    report_schedule = ScheduleDefinition("report", "notebook 'report.ipynb'", cron="0 6 * * *", target="fake.report")
    scheduler = make_scheduler(store, clock, snapshot(tmp_path, [report_schedule], runner))
    scheduler.step()
    executor = scheduler._executor_for(scheduler.source.current())
    clock.set(utc(2024, 1, 8, 3))
    executor.execute(executor.create_run({"fake.load"}, clock.now()).run_id)  # fresh since yesterday 06:00
    clock.set(utc(2024, 1, 8, 6, 0, 1))
    scheduler.step()
    assert scheduler.pool.wait(10)
    assert runner.nodes_run() == ["fake.load", "fake.transform", "fake.report"]
    scheduled = next(run for run in runs_of(store) if run.schedule == "report")
    assert {state.node_id for state in node_states_of(store, scheduled.run_id)} == {"fake.transform", "fake.report"}


def test_after_runs_when_the_upstream_schedule_succeeds_with_its_logical_date(
    tmp_path: Path, store: StateStore
) -> None:
    clock = FakeClock(T0)
    runner = ScriptedRunner({"fake.load": ["fail", "ok"]})
    follow = ScheduleDefinition("follow", "x", after=("nightly",), select="other")
    scheduler = make_scheduler(store, clock, snapshot(tmp_path, [nightly(select="load"), follow], runner))
    scheduler.step()
    clock.set(utc(2024, 1, 8, 6, 0, 1))
    scheduler.step()
    assert scheduler.pool.wait(10)
    clock.advance(seconds=1)
    scheduler.step()
    assert [run.schedule for run in runs_of(store)] == ["nightly"], "a failed upstream run triggers nothing"
    clock.set(utc(2024, 1, 9, 6, 0, 1))
    scheduler.step()
    assert scheduler.pool.wait(10)
    clock.advance(seconds=1)
    report = scheduler.step()
    assert scheduler.pool.wait(10)
    [after_tick] = ticks_of(scheduler.store, "follow")
    assert (after_tick.trigger, after_tick.status, after_tick.scheduled_at) == (
        Trigger.AFTER,
        TickStatus.RAN,
        utc(2024, 1, 9, 6),
    )
    run = run_of(store, report.started[0])
    assert (run.schedule, run.trigger, run.logical_date) == ("follow", "after", utc(2024, 1, 9, 6))
    clock.advance(seconds=5)
    assert scheduler.step().started == [], "one upstream success fires once"


def test_on_file_fires_when_files_appear_or_change_and_survives_a_restart(tmp_path: Path, store: StateStore) -> None:
    clock = FakeClock(T0)
    incoming = tmp_path / "incoming"
    incoming.mkdir()
    (incoming / "old.csv").write_text("a\n")
    drop = ScheduleDefinition("drop", "x", on_file=("incoming/*.csv",), select="load", catchup=CatchUp.ALL)
    source = snapshot(tmp_path, [drop], ScriptedRunner())
    scheduler = make_scheduler(store, clock, source, file_poll_seconds=5)
    scheduler.step()
    assert ticks_of(scheduler.store) == [], "files already there when the schedule starts do not fire"
    (incoming / "new.csv").write_text("b\n")
    clock.advance(seconds=2)
    assert scheduler.step().recorded == [], "files are looked at every file_poll_seconds"
    clock.advance(seconds=3)
    report = scheduler.step()
    assert [tick.reason for tick in report.recorded] == ["new or changed: incoming/new.csv"]
    assert scheduler.pool.wait(10)
    run = run_of(store, report.started[0])
    assert (run.trigger, run.schedule) == ("file", "drop")
    clock.advance(seconds=5)
    assert scheduler.step().recorded == [], "an unchanged file fires once"

    # The scheduler stops; meanwhile a file changes and one is deleted; a new scheduler fires once for it.
    with store.transaction() as tx:
        tx.release_lease(scheduler.owner)
    (incoming / "old.csv").write_text("a\nchanged\n")
    os.utime(incoming / "old.csv", ns=(1, 1_700_000_000_000_000_000))
    (incoming / "new.csv").unlink()
    restarted = make_scheduler(store, clock, StaticSource(source), name="b", file_poll_seconds=5)
    clock.advance(minutes=10)
    report = restarted.step()
    assert [tick.reason for tick in report.recorded] == ["new or changed: incoming/old.csv"]
    assert restarted.pool.wait(10)
    assert len(runs_of(store)) == 2


def test_pending_ticks_of_a_schedule_that_no_longer_exists_are_skipped(tmp_path: Path, store: StateStore) -> None:
    clock = FakeClock(T0)
    runner = ScriptedRunner()
    runner.gate.clear()
    every_minute = ScheduleDefinition("m", "x", cron="* * * * *", select="load")
    source = StaticSource(snapshot(tmp_path, [every_minute], runner))
    scheduler = make_scheduler(store, clock, source)
    for minute in (0, 1, 2):  # registered, runs (held by the gate), waits for the slot
        clock.set(utc(2024, 1, 8, 6, minute, 1))
        scheduler.step()
    source.snapshot = snapshot(tmp_path, [], runner)
    runner.gate.set()
    assert scheduler.pool.wait(10)
    clock.advance(seconds=1)
    report = scheduler.step()
    assert [status for _, status, _ in report.closed] == [TickStatus.SKIPPED]
    assert "no schedule called 'm'" in report.closed[0][2]
    assert schedule_states_of(scheduler.store)["m"].next_fire_at is None
    with store.read() as tx:
        assert tx.due_schedules(clock.now() + timedelta(days=1), 10) == []


def test_shutdown_lets_running_nodes_finish_and_records_the_rest_as_cancelled(
    tmp_path: Path, store: StateStore
) -> None:
    clock = FakeClock(T0)
    runner = ScriptedRunner()
    runner.gate.clear()
    scheduler = make_scheduler(store, clock, snapshot(tmp_path, [nightly()], runner))
    scheduler.step()
    clock.set(utc(2024, 1, 8, 6, 0, 1))
    [run_id] = scheduler.step().started
    _wait_until(lambda: runner.nodes_run() == ["fake.load"])
    threading.Timer(0.3, runner.gate.set).start()  # the running node ends within the grace period
    assert scheduler.shutdown(grace=10) is True
    states = {state.node_id: state for state in node_states_of(store, run_id)}
    assert states["fake.load"].status == NodeStatus.SUCCESS
    assert states["fake.transform"].status == NodeStatus.CANCELLED
    assert "not started: the run was stopped (shutdown)" in (states["fake.transform"].error or "")
    assert run_of(store, run_id).status == RunStatus.CANCELLED
    with store.read() as tx:
        assert tx.get_lease().expires_at <= clock.now(), "the lease is released"  # type: ignore[union-attr]


def test_shutdown_cancels_nodes_still_running_after_the_grace_period(tmp_path: Path, store: StateStore) -> None:
    clock = FakeClock(T0)
    runner = ScriptedRunner()
    runner.gate.clear()  # never opens
    scheduler = make_scheduler(store, clock, snapshot(tmp_path, [nightly()], runner))
    scheduler.step()
    clock.set(utc(2024, 1, 8, 6, 0, 1))
    [run_id] = scheduler.step().started
    _wait_until(lambda: runner.nodes_run() == ["fake.load"])
    assert scheduler.shutdown(grace=0.3) is False
    [load_try] = attempts_of(store, run_id)
    assert load_try.status == AttemptStatus.CANCELLED
    assert run_of(store, run_id).status == RunStatus.CANCELLED
    with store.read() as tx:
        assert tx.unfinished_runs() == []


def _wait_until(condition: object, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return
        time.sleep(0.02)
    raise AssertionError("condition not met in time")


def test_schedules_indexed_a_few_per_step_still_fire_on_time(tmp_path: Path, store: StateStore) -> None:
    """With a budget of one schedule per step (to index, and to record), the last ones are indexed and recorded
    after their fire time has passed: still each fire time once, on time (within the misfire grace)."""
    clock = FakeClock(utc(2024, 1, 8, 5, 59, 58))
    definitions = [ScheduleDefinition(name, "x", cron="0 6 * * *", select="load") for name in ("a", "b", "c")]
    scheduler = make_scheduler(store, clock, snapshot(tmp_path, definitions, ScriptedRunner()), step_budget=0)
    for second in (58, 59):
        clock.set(utc(2024, 1, 8, 5, 59, second))
        scheduler.step()
    assert len(schedule_states_of(store)) == 2, "one schedule indexed per step"
    recorded = []
    for moment in (utc(2024, 1, 8, 6, 0, 1), utc(2024, 1, 8, 6, 0, 2), utc(2024, 1, 8, 6, 0, 3)):
        clock.set(moment)
        recorded += scheduler.step().recorded
    assert sorted((tick.schedule, tick.scheduled_at, tick.trigger) for tick in recorded) == [
        (name, utc(2024, 1, 8, 6), Trigger.CRON) for name in ("a", "b", "c")
    ]
    assert scheduler.pool.wait(10)
    assert {state.next_fire_at for state in schedule_states_of(store).values()} == {utc(2024, 1, 9, 6)}


def _manual_run(store: StateStore, run_id: str, at: object, *, limit_key: str | None = None) -> None:
    """A manual run, started by `orchestrate run` in another process (it went through the run queue)."""
    from orchestrate_ext.model import NodeRunRecord, RunRecord

    run = RunRecord(run_id, RunStatus.QUEUED, at, at, selection="load")  # type: ignore[arg-type]
    with store.transaction() as tx:
        tx.insert_run(run, [NodeRunRecord(run_id, "fake.load", "fake", NodeStatus.PENDING)])
        tx.enqueue(run_id, priority=100, limit_key=limit_key, max_active=1, owner="cli", now=at)  # type: ignore[arg-type]
        assert tx.admit_run(run_id, "cli", at, max_runs=None).admitted  # type: ignore[arg-type]


def test_max_runs_and_max_active_runs_count_runs_started_outside_the_scheduler(
    tmp_path: Path, store: StateStore
) -> None:
    clock = FakeClock(T0)
    runner = ScriptedRunner()
    every_minute = ScheduleDefinition("m", "x", cron="* * * * *", select="load", catchup=CatchUp.LATEST)
    other = ScheduleDefinition("o", "x", cron="* * * * *", select="other", catchup=CatchUp.LATEST)
    limited = make_scheduler(store, clock, snapshot(tmp_path, [other], runner, max_runs=1))
    limited.step()
    _manual_run(store, "manual-1", T0)
    clock.set(T0 + timedelta(seconds=31))
    assert limited.step().started == [], "max_runs: 1 is taken by the manual run"
    close_run(store, "manual-1", RunStatus.SUCCESS)
    clock.set(T0 + timedelta(seconds=32))
    assert len(limited.step().started) == 1
    assert limited.pool.wait(10)
    limited.shutdown(1)  # lets go of the lease

    _manual_run(store, "manual-2", T0 + timedelta(seconds=33), limit_key="m")  # a manual run of m's selection
    scheduler = make_scheduler(store, clock, snapshot(tmp_path, [every_minute], runner), name="b")
    clock.set(T0 + timedelta(minutes=2))
    scheduler.step()
    clock.set(T0 + timedelta(minutes=2, seconds=31))
    held = scheduler.step()
    assert held.recorded and held.started == [], "m's max_active_runs: 1 is taken by the manual run of its selection"
    close_run(store, "manual-2", RunStatus.SUCCESS)
    assert len(scheduler.step().started) == 1
    assert scheduler.pool.wait(10)
