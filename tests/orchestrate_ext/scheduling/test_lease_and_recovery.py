"""One scheduler at a time (lease, standby, takeover), racing schedulers, and taking over runs of dead processes."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest

from orchestrate_ext.config import Defaults
from orchestrate_ext.model import AttemptStatus, NodeStatus, RunStatus
from orchestrate_ext.schedule_settings import CatchUp
from orchestrate_ext.scheduling.definitions import ScheduleDefinition
from orchestrate_ext.store import StateStore
from orchestrate_ext.store.records import TickStatus
from orchestrate_ext.testing import FakeClock, ScriptedRunner, wait_until
from tests.orchestrate_ext.scheduling.helpers import FakeLiveness, identity, make_scheduler, snapshot, utc
from tests.support.stores import attempts_of, node_states_of, pending_ticks_of, run_of, runs_of, ticks_of

T0 = utc(2024, 1, 8, 5, 59, 30)
EVERY_MINUTE = ScheduleDefinition("m", "x", cron="* * * * *", select="load", catchup=CatchUp.ALL, max_catchup=1000)


def test_a_second_scheduler_stands_by_and_takes_over_when_the_first_dies(
    tmp_path: Path, open_more: Callable[[], StateStore]
) -> None:
    clock = FakeClock(T0)
    liveness = FakeLiveness()
    source = snapshot(tmp_path, [EVERY_MINUTE], ScriptedRunner())
    first = make_scheduler(open_more(), clock, source, name="a", liveness=liveness)
    second = make_scheduler(open_more(), clock, source, name="b", liveness=liveness)
    assert first.step().holds_lease
    clock.set(utc(2024, 1, 8, 6, 0, 1))
    assert len(first.step().started) == 1
    assert not second.step().holds_lease, "the second one waits"
    liveness.dead.add(identity("a").owner)  # kill -9: its process is gone
    clock.advance(seconds=1)
    report = second.step()
    assert report.holds_lease, "a holder whose process is gone is replaced at once"
    assert first.step().holds_lease is False, "the old one, should it come back, stands by"
    assert first.pool.wait(10) and second.pool.wait(10)


def test_a_silent_holder_is_replaced_after_the_lease_expires(
    tmp_path: Path, open_more: Callable[[], StateStore]
) -> None:
    clock = FakeClock(T0)
    source = snapshot(tmp_path, [EVERY_MINUTE], ScriptedRunner())
    first = make_scheduler(open_more(), clock, source, name="a", lease_ttl=15)
    second = make_scheduler(open_more(), clock, source, name="b", lease_ttl=15)
    assert first.step().holds_lease  # then it freezes (e.g. another host lost its network)
    clock.advance(seconds=14)
    assert not second.step().holds_lease
    clock.advance(seconds=2)
    assert second.step().holds_lease
    assert not first.step().holds_lease


@pytest.mark.slow
def test_two_schedulers_racing_never_run_a_tick_twice(
    tmp_path: Path, open_more: Callable[[], StateStore], store: StateStore
) -> None:
    """The lease is stolen on every step (ttl 0) while both step at once over the same minutes."""
    clock = FakeClock(utc(2024, 1, 8, 0, 0, 30))
    source = snapshot(tmp_path, [EVERY_MINUTE], ScriptedRunner())
    schedulers = [
        make_scheduler(open_more(), clock, source, name=name, lease_ttl=0, recovery_seconds=10**9)
        for name in ("a", "b")
    ]
    minutes = [utc(2024, 1, 8, 0, 0, 30) + timedelta(minutes=n, seconds=n % 7) for n in range(120)]
    lock = threading.Lock()
    progress = {"a": 0, "b": 0}

    def drive(index: int) -> None:
        scheduler = schedulers[index]
        for moment in minutes:
            with lock:
                if moment > clock.now():
                    clock.set(moment)
                progress["ab"[index]] += 1
            scheduler.step(moment)

    threads = [threading.Thread(target=drive, args=(index,)) for index in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(240)  # 120 steps each; a loaded CI machine on PostgreSQL takes well over a minute
    assert not any(thread.is_alive() for thread in threads), "both schedulers finished their 120 steps"
    for scheduler in schedulers:
        assert scheduler.pool.wait(10)
    while pending_ticks_of(store):  # one run at a time: let the last ticks run
        schedulers[0].step(minutes[-1])
        assert schedulers[0].pool.wait(10)
    ticks = ticks_of(store, limit=10_000)
    runs = runs_of(store, limit=10_000)
    ran = [tick for tick in ticks if tick.status == TickStatus.RAN]
    assert len({(tick.schedule, tick.scheduled_at) for tick in ticks}) == len(ticks), "one record per fire time"
    assert len(ran) == len(runs) == len({tick.run_id for tick in ran}), "one run per tick that ran"
    assert runs, f"some ticks ran (ticks: {Counter(tick.status.value for tick in ticks)})"
    assert max(Counter((run.schedule, run.logical_date) for run in runs).values()) == 1
    assert all(run.status == RunStatus.SUCCESS for run in runs)
    # Every fire time from the schedule's registration (00:01, or later when both first steps lost
    # the lease to each other) to 01:59 has one record and ran (catchup: all).
    times = sorted(tick.scheduled_at for tick in ticks)
    assert times == [times[0] + timedelta(minutes=n) for n in range(len(times))]
    assert times[0] <= utc(2024, 1, 8, 0, 5) and times[-1] == utc(2024, 1, 8, 1, 59)
    assert len(ran) == len(ticks)


def _recovering_pair(
    tmp_path: Path, open_more: Callable[[], StateStore], runner: ScriptedRunner, retries: int = 1
) -> tuple[object, ...]:
    clock = FakeClock(T0)
    liveness = FakeLiveness()
    source = snapshot(tmp_path, [EVERY_MINUTE], runner, defaults=Defaults(retries=retries, retry_backoff=0))
    first = make_scheduler(open_more(), clock, source, name="a", liveness=liveness)
    second = make_scheduler(open_more(), clock, source, name="b", liveness=liveness)
    first.step()
    clock.set(utc(2024, 1, 8, 6, 0, 1))
    [run_id] = first.step().started
    return clock, liveness, first, second, run_id


def test_the_attempt_of_a_dead_scheduler_is_crashed_retried_and_its_late_write_refused(
    tmp_path: Path, open_more: Callable[[], StateStore], store: StateStore
) -> None:
    runner = ScriptedRunner()
    runner.gate.clear()  # the node is running when its scheduler dies
    clock, liveness, first, second, run_id = _recovering_pair(tmp_path, open_more, runner)
    wait_until(lambda: node_states_of(store, run_id)[0].status == NodeStatus.RUNNING)
    liveness.dead.add(identity("a").owner)
    clock.advance(seconds=2)
    report = second.step()  # type: ignore[attr-defined]
    assert [recovered.run_id for recovered in report.recovered] == [run_id]
    runner.gate.set()  # the dead execution's node ends too, and both report
    assert second.pool.wait(10) and first.pool.wait(10)  # type: ignore[attr-defined]
    attempts = [(a.try_number, a.status) for a in attempts_of(store, run_id)]
    assert attempts == [(1, AttemptStatus.CRASHED), (2, AttemptStatus.SUCCESS)]
    assert "crashed: the process executing this try" in (attempts_of(store, run_id)[0].error or "")
    assert run_of(store, run_id).status == RunStatus.SUCCESS
    with store.read() as tx:
        assert tx.unfinished_runs() == [], "nothing stays running"
    [tick] = ticks_of(second.store)  # type: ignore[attr-defined]
    assert tick.run_id == run_id and len(runs_of(store)) == 1, "the tick still has one run"


def test_a_crashed_attempt_without_retries_left_fails_the_node(
    tmp_path: Path, open_more: Callable[[], StateStore], store: StateStore
) -> None:
    runner = ScriptedRunner()
    runner.gate.clear()
    _, liveness, first, second, run_id = _recovering_pair(tmp_path, open_more, runner, retries=0)
    wait_until(lambda: node_states_of(store, run_id)[0].status == NodeStatus.RUNNING)
    liveness.dead.add(identity("a").owner)
    second.step()  # type: ignore[attr-defined]
    assert second.pool.wait(10)  # type: ignore[attr-defined]
    runner.gate.set()
    assert first.pool.wait(10)  # type: ignore[attr-defined]
    run = run_of(store, run_id)
    [state] = node_states_of(store, run_id)
    assert (run.status, state.status, state.attempts) == (RunStatus.FAILED, NodeStatus.FAILED, 1)


def test_a_run_whose_dead_owner_was_asked_to_cancel_ends_cancelled(
    tmp_path: Path, open_more: Callable[[], StateStore], store: StateStore
) -> None:
    runner = ScriptedRunner()
    runner.gate.clear()
    clock, liveness, first, second, run_id = _recovering_pair(tmp_path, open_more, runner)
    wait_until(lambda: node_states_of(store, run_id)[0].status == NodeStatus.RUNNING)
    liveness.dead.add(identity("a").owner)
    with store.transaction() as tx:
        tx.request_cancel(run_id, clock.now())  # type: ignore[arg-type, attr-defined]
    second.step()  # type: ignore[attr-defined]
    assert second.pool.wait(10)  # type: ignore[attr-defined]
    runner.gate.set()
    assert first.pool.wait(10)  # type: ignore[attr-defined]
    assert run_of(store, run_id).status == RunStatus.CANCELLED
    assert [a.status for a in attempts_of(store, run_id)] == [AttemptStatus.CRASHED]


def test_a_run_never_claimed_is_taken_over_once_stale(
    tmp_path: Path, open_more: Callable[[], StateStore], store: StateStore
) -> None:
    clock = FakeClock(T0)
    source = snapshot(tmp_path, [], ScriptedRunner())
    scheduler = make_scheduler(open_more(), clock, source, stale_after=60, recovery_seconds=1)
    executor = scheduler._executor_for(scheduler.source.current())
    orphan = executor.create_run({"fake.load"}, T0)  # its process died before executing it
    clock.advance(seconds=30)
    assert scheduler.step().recovered == []
    clock.advance(seconds=31)
    assert [r.run_id for r in scheduler.step().recovered] == [orphan.run_id]
    assert scheduler.pool.wait(10)
    assert run_of(store, orphan.run_id).status == RunStatus.SUCCESS
