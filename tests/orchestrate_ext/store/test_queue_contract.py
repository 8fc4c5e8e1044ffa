"""The run queue (admission under max_runs, max_active_runs and priorities; cancel while queued), on SQLite and
PostgreSQL, with a race of concurrent admissions from separate connections."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import timedelta

from orchestrate_ext.config import StateLocation
from orchestrate_ext.model import NodeStatus, RunStatus
from orchestrate_ext.run_request import Priority
from orchestrate_ext.store import StateStore, open_store
from orchestrate_ext.store.queue_sql import Admission
from tests.orchestrate_ext.store.records import T0, claim, insert, make_run
from tests.support.stores import close_run, run_of, statuses_of

STALE = 300.0
"""Seconds without a beat after which a waiter or an executing process counts as gone (5 minutes)."""


def queue(
    store: StateStore,
    run_id: str,
    minute: int = 0,
    *,
    priority: int = Priority.MANUAL,
    key: str | None = None,
    max_active: int | None = None,
    waiter_seen: int | None = None,
) -> None:
    created = T0 + timedelta(minutes=minute)
    insert(store, replace(make_run(run_id, created), status=RunStatus.QUEUED), "a", "b")
    with store.transaction() as tx:
        tx.enqueue(
            run_id,
            priority=priority,
            limit_key=key,
            max_active=max_active,
            owner=f"waiter-{run_id}",
            now=created if waiter_seen is None else T0 + timedelta(minutes=waiter_seen),
        )


def admit(store: StateStore, run_id: str, minute: int = 3, max_runs: int | None = 1) -> Admission:
    with store.transaction() as tx:
        return tx.admit_run(
            run_id, f"waiter-{run_id}", T0 + timedelta(minutes=minute), max_runs=max_runs, stale_after=STALE
        )


def running(store: StateStore, run_id: str, schedule: str | None = None) -> None:
    """A run some live process executes (it beat at T0)."""
    insert(store, make_run(run_id, schedule=schedule), "a")
    claim(store, run_id)


def test_a_queued_run_waits_behind_max_runs_and_starts_when_a_slot_frees(store: StateStore) -> None:
    running(store, "busy")
    queue(store, "q1", 1)
    held = admit(store, "q1")
    assert (held.status, held.admitted, held.behind, held.reason) == (RunStatus.QUEUED, False, "busy", "max_runs: 1")
    assert run_of(store, "q1").status == RunStatus.QUEUED
    with store.read() as tx:
        assert tx.queued_runs() == ["q1"]
    close_run(store, "busy", RunStatus.SUCCESS)
    started = admit(store, "q1")
    assert (started.status, started.admitted) == (RunStatus.RUNNING, True)
    assert run_of(store, "q1").status == RunStatus.RUNNING
    again = admit(store, "q1")
    assert (again.status, again.admitted) == (RunStatus.RUNNING, False), "admitting twice starts it once"


def test_without_max_runs_a_queued_run_starts_at_once(store: StateStore) -> None:
    running(store, "busy")
    queue(store, "q1", 1)
    assert admit(store, "q1", max_runs=None).admitted


def test_a_running_run_whose_process_stopped_beating_holds_no_slot(store: StateStore) -> None:
    running(store, "dead")  # beat at T0, never since
    queue(store, "q1", 1, waiter_seen=10)
    assert not admit(store, "q1", minute=4).admitted
    assert admit(store, "q1", minute=10).admitted


def test_a_manual_run_goes_before_catch_up_queued_earlier(store: StateStore) -> None:
    queue(store, "catchup", 1, priority=Priority.CATCH_UP, waiter_seen=10)
    queue(store, "manual", 2, priority=Priority.MANUAL, waiter_seen=10)
    held = admit(store, "catchup")
    assert (held.admitted, held.behind) == (False, "manual")
    assert admit(store, "manual").admitted
    with store.read() as tx:
        assert tx.queued_runs() == ["catchup"]


def test_a_queued_run_whose_waiter_is_gone_holds_nobody_back(store: StateStore) -> None:
    queue(store, "abandoned", 1, waiter_seen=1)  # its waiter last asked at minute 1; it is minute 10 now
    queue(store, "q2", 2, waiter_seen=10)
    assert admit(store, "q2", minute=10).admitted


def test_max_active_runs_of_a_schedule_holds_against_a_manual_run_of_its_selection(store: StateStore) -> None:
    running(store, "scheduled", "daily")
    queue(store, "manual", 1, key="daily", max_active=1)
    held = admit(store, "manual", max_runs=None)
    assert (held.admitted, held.behind, held.reason) == (False, "scheduled", "max_active_runs: 1 of schedule 'daily'")
    queue(store, "other", 2, key="hourly", max_active=1, waiter_seen=10)
    assert admit(store, "other", max_runs=None).admitted, "another schedule's limit is not this one's"
    close_run(store, "scheduled", RunStatus.SUCCESS)
    assert admit(store, "manual", max_runs=None).admitted
    with store.read() as tx:
        assert tx.active_runs() == {"daily": 1, "hourly": 1}, "the scheduler counts the manual run for 'daily'"


def test_a_queued_run_is_cancelled_with_its_nodes_and_a_running_one_is_not(store: StateStore) -> None:
    queue(store, "q1")
    running(store, "busy")
    with store.transaction() as tx:
        assert tx.cancel_queued("q1", T0 + timedelta(minutes=5))
        assert not tx.cancel_queued("q1", T0 + timedelta(minutes=6)), "only once"
        assert not tx.cancel_queued("busy", T0 + timedelta(minutes=6)), "a running run is cancelled by its process"
    run = run_of(store, "q1")
    assert (run.status, run.finished_at, run.started_at) == (RunStatus.CANCELLED, T0 + timedelta(minutes=5), None)
    assert set(statuses_of(store, "q1").values()) == {NodeStatus.CANCELLED.value}
    assert admit(store, "q1").status == RunStatus.CANCELLED
    with store.read() as tx:
        assert tx.latest_node_states(["b"])["b"].status == NodeStatus.CANCELLED


def test_concurrent_admissions_never_exceed_max_runs(store: StateStore, state_location: StateLocation) -> None:
    names = [f"q{index}" for index in range(6)]
    for index, name in enumerate(names):
        queue(store, name, index, key=name, waiter_seen=0)  # every waiter stale: none holds another back
    stores = [open_store(state_location) for _ in names]
    barrier = threading.Barrier(len(names))
    admitted: list[str] = []

    def race(one: StateStore, name: str) -> None:
        barrier.wait()
        with one.transaction() as tx:
            if tx.admit_run(name, f"waiter-{name}", T0 + timedelta(hours=1), max_runs=2, stale_after=0.0).admitted:
                admitted.append(name)

    threads = [threading.Thread(target=race, args=pair) for pair in zip(stores, names, strict=True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    for one in stores:
        one.close()
    assert len(admitted) == 2
    with store.read() as tx:
        assert sorted(run.run_id for run in tx.unfinished_runs()) == sorted(admitted)
