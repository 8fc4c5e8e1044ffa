"""The store contract for schedule state, ticks, file state and the scheduler lease, on both backends."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from orchestrate_ext.errors import StoreConflict
from orchestrate_ext.model import NodeRunRecord, NodeStatus, RunRecord, RunStatus
from orchestrate_ext.store import StateStore
from orchestrate_ext.store.records import (
    LeaseLost,
    NewTick,
    ScheduleState,
    StartResult,
    StateUpdate,
    TickStart,
    TickStatus,
    Trigger,
)
from tests.orchestrate_ext.store.records import T0, claim, tick


def run_for(run_id: str, schedule: str = "s", logical: int = 0) -> tuple[RunRecord, list[NodeRunRecord]]:
    run = RunRecord(
        run_id,
        RunStatus.RUNNING,
        T0,
        T0 + timedelta(minutes=logical),
        trigger="cron",
        schedule=schedule,
        parameters={"x": 1},
    )
    return run, [NodeRunRecord(run_id, "a", "fake", NodeStatus.PENDING)]


def start(store: StateStore, tick_id: int, run_id: str, **fields: Any) -> StartResult:
    run, nodes = run_for(run_id, logical=int(fields.pop("logical", 0)))
    options: dict[str, Any] = {"owner": "me", "fence": None, "now": T0, **fields}
    with store.transaction() as tx:
        return tx.start_tick_run(tick_id, run, nodes, **options)


def record(
    store: StateStore, name: str, ticks: list[NewTick], update: StateUpdate | None = None, fence: Any = None
) -> list[Any]:
    with store.transaction() as tx:
        return tx.record_ticks([(name, ticks, update)], fence, T0)


def save(store: StateStore, states: list[ScheduleState], fence: Any = None) -> None:
    with store.transaction() as tx:
        tx.save_schedule_states(states, fence, T0)


def test_states_and_the_due_index(store: StateStore) -> None:
    save(
        store,
        [
            ScheduleState("late", "f1", T0 + timedelta(hours=1)),
            ScheduleState("soon", "f2", T0 - timedelta(minutes=1), cursor=T0),
            ScheduleState("now", "f3", T0),
            ScheduleState("event", "f4", None),
        ],
    )
    with store.transaction() as tx:
        assert [state.name for state in tx.due_schedules(T0, 10)] == ["soon", "now"]
        assert [state.name for state in tx.due_schedules(T0, 1)] == ["soon"]
        assert tx.schedule_states()["soon"].cursor == T0
        paused = tx.set_paused("soon", True, T0, None)
        assert paused.paused and paused.next_fire_at == T0 - timedelta(minutes=1)
        assert [state.name for state in tx.due_schedules(T0, 10)] == ["now"]
        assert tx.paused_schedules() == {"soon"}
    save(store, [ScheduleState("soon", "f2-new", T0 + timedelta(days=1))])
    with store.transaction() as tx:
        assert tx.schedule_states()["soon"].paused, "saving a state keeps the pause flag"
        resumed = tx.set_paused("soon", False, T0, T0 + timedelta(minutes=5))
        assert not resumed.paused and resumed.next_fire_at == T0 + timedelta(minutes=5)
        assert tx.set_paused("unknown-yet", True, T0, None).paused


def test_a_tick_is_recorded_once_per_schedule_and_key(store: StateStore) -> None:
    save(store, [ScheduleState("s", "f", T0)])
    first = record(store, "s", [tick("s", 0), tick("s", 1)], StateUpdate(next_fire_at=T0 + timedelta(minutes=2)))
    again = record(store, "s", [tick("s", 1), tick("s", 2)])
    assert [t.scheduled_at.minute for t in first] == [0, 1]
    assert [t.scheduled_at.minute for t in again] == [2], "the existing tick is not recorded again"
    assert record(store, "other", [tick("other", 1)]), "keys are unique per schedule only"
    with store.read() as tx:
        assert tx.schedule_states()["s"].next_fire_at == T0 + timedelta(minutes=2)
        assert [t.scheduled_at.minute for t in tx.pending_ticks("s")] == [0, 1, 2]
        assert [t.scheduled_at.minute for t in tx.list_ticks("s", limit=2)] == [2, 1]
        assert tx.last_ticks()["s"].scheduled_at.minute == 2


def test_starting_a_run_marks_its_tick_in_the_same_transaction(store: StateStore) -> None:
    [recorded] = record(store, "s", [tick("s", 0)])
    assert start(store, recorded.tick_id, "r1").started
    with store.read() as tx:
        ran = tx.tick_for_run("r1")
        assert ran is not None and (ran.status, ran.run_id, ran.parameters) == (TickStatus.RAN, "r1", {"x": 1})
        run = tx.get_run("r1")
        assert (run.schedule, run.parameters) == ("s", {"x": 1})
        assert tx.run_ownership("r1").owner == "me", "the run is created claimed"
    assert not start(store, recorded.tick_id, "r2").started, "a tick that ran cannot start another run"
    with store.read() as tx:
        assert [run.run_id for run in tx.find_runs()] == ["r1"]


def test_a_failed_run_write_leaves_the_tick_pending_and_no_run(store: StateStore) -> None:
    first, second = record(store, "s", [tick("s", 0), tick("s", 1)])
    start(store, first.tick_id, "r1")
    with pytest.raises(StoreConflict):
        start(store, second.tick_id, "r1", logical=1)  # the run id exists: the insert fails mid-transaction
    with store.read() as tx:
        assert [t.tick_id for t in tx.pending_ticks()] == [second.tick_id]
        assert [run.run_id for run in tx.find_runs()] == ["r1"]


def test_a_date_covered_by_another_run_is_deduplicated(store: StateStore) -> None:
    first, second = record(store, "s", [tick("s", 0), tick("s", 0, key="file@x")])
    assert start(store, first.tick_id, "r1").started
    result = start(store, second.tick_id, "r2")
    assert (result.started, result.duplicate_of) == (False, "r1")
    with store.read() as tx:
        closed = tx.list_ticks("s")[0]
    assert (closed.status, closed.duplicate_of) == (TickStatus.DEDUPLICATED, "r1")
    assert "already covers" in (closed.reason or "")
    epoch = claim(store, "r1")
    with store.transaction() as tx:
        tx.finish_run("r1", RunStatus.FAILED, epoch, T0)
    [third] = record(store, "s", [tick("s", 0, key="after@z")])
    assert start(store, third.tick_id, "r3").started, "a failed run does not cover its date"


def test_a_batch_of_starts_gives_each_tick_what_starting_it_alone_gives(store: StateStore) -> None:
    [covered_date] = record(store, "s", [tick("s", 0)])
    assert start(store, covered_date.tick_id, "r0").started
    covered, due, gone = record(store, "s", [tick("s", 0, key="file@x"), tick("s", 1), tick("s", 2)])
    [other] = record(store, "t", [tick("t", 1)])
    with store.transaction() as tx:
        assert tx.close_tick(gone.tick_id, TickStatus.SKIPPED, "paused", None, T0)
    starts = [
        TickStart(covered.tick_id, *run_for("r1", logical=0)),
        TickStart(due.tick_id, *run_for("r2", logical=1)),
        TickStart(gone.tick_id, *run_for("r3", logical=2)),
        TickStart(other.tick_id, *run_for("r4", schedule="t", logical=1)),
    ]
    with store.transaction() as tx:
        results = tx.start_tick_runs(starts, owner="me", fence=None, now=T0)
    assert results == [StartResult(False, "r0"), StartResult(True), StartResult(False), StartResult(True)]
    with store.read() as tx:
        assert sorted(run.run_id for run in tx.find_runs()) == ["r0", "r2", "r4"]
        assert [(tx.run_ownership(r).owner, tx.run_ownership(r).epoch) for r in ("r2", "r4")] == [("me", 1)] * 2
        assert [node.status for node in tx.node_states("r2")] == [NodeStatus.PENDING]
        statuses = {t.tick_id: (t.status, t.run_id, t.duplicate_of) for t in tx.list_ticks(limit=10)}
        assert tx.latest_node_states(["a"])["a"].run_id == "r4", "the newest of the new runs is the node's latest"
    assert statuses[covered.tick_id] == (TickStatus.DEDUPLICATED, None, "r0")
    assert statuses[due.tick_id] == (TickStatus.RAN, "r2", None)
    assert statuses[gone.tick_id][0] == TickStatus.SKIPPED
    assert statuses[other.tick_id] == (TickStatus.RAN, "r4", None)


def test_a_batch_whose_ticks_share_a_date_starts_them_in_order(store: StateStore) -> None:
    first, second = record(store, "s", [tick("s", 0), tick("s", 0, key="file@x")])
    starts = [TickStart(first.tick_id, *run_for("r1")), TickStart(second.tick_id, *run_for("r2"))]
    with store.transaction() as tx:
        results = tx.start_tick_runs(starts, owner="me", fence=None, now=T0)
    assert results == [StartResult(True), StartResult(False, "r1")]


def test_closing_and_creating_ticks(store: StateStore) -> None:
    [pending] = record(store, "s", [tick("s", 0)])
    with store.transaction() as tx:
        assert tx.close_tick(pending.tick_id, TickStatus.SKIPPED, "paused", None, T0)
        assert not tx.close_tick(pending.tick_id, TickStatus.SKIPPED, "again", None, T0)
        assert tx.list_ticks("s")[0].reason == "paused"
    run, nodes = run_for("b1", logical=5)
    backfill = NewTick("s", run.logical_date, Trigger.BACKFILL, "backfill@5@batch")
    with store.transaction() as tx:
        created, result = tx.create_tick_run(backfill, run, nodes, owner="me", fence=None, now=T0)
    assert result.started and created is not None and created.status == TickStatus.RAN and created.run_id == "b1"
    with store.transaction() as tx:
        again, result = tx.create_tick_run(backfill, *run_for("b2", logical=5), owner="me", fence=None, now=T0)
    assert again is None and not result.started
    other = NewTick("s", run.logical_date, Trigger.BACKFILL, "backfill@5@other")
    with store.transaction() as tx:
        covered, result = tx.create_tick_run(other, *run_for("b3", logical=5), owner="me", fence=None, now=T0)
    assert covered is not None and covered.status == TickStatus.DEDUPLICATED and result.duplicate_of == "b1"
    with store.read() as tx:
        assert [run.run_id for run in tx.find_runs()] == ["b1"]


def test_file_state_is_updated_with_the_ticks(store: StateStore) -> None:
    save(store, [ScheduleState("s", "f", None)])
    record(store, "s", [], StateUpdate(files={"a.csv": (1, 10), "b.csv": (2, 20)}))
    record(store, "s", [], StateUpdate(files={"a.csv": None, "b.csv": (3, 30)}, cursor=T0))
    with store.read() as tx:
        assert tx.file_state("s") == {"b.csv": (3, 30)}
        assert tx.schedule_states()["s"].cursor == T0


def test_the_lease_is_exclusive_renewable_and_taken_over_when_expired_or_dead(store: StateStore) -> None:
    alive = lambda lease: False  # noqa: E731
    with store.transaction() as tx:
        first = tx.acquire_lease("a", T0, 15, alive)
        assert first is not None and first.epoch == 1
        assert tx.acquire_lease("b", T0 + timedelta(seconds=5), 15, alive) is None
        renewed = tx.acquire_lease("a", T0 + timedelta(seconds=10), 15, alive)
        assert renewed is not None and renewed.epoch == 1 and renewed.expires_at == T0 + timedelta(seconds=25)
        assert tx.acquire_lease("b", T0 + timedelta(seconds=24), 15, alive) is None
        taken = tx.acquire_lease("b", T0 + timedelta(seconds=26), 15, alive)
        assert taken is not None and taken.epoch == 2 and tx.get_lease().holder == "b"  # type: ignore[union-attr]
        assert tx.acquire_lease("a", T0 + timedelta(seconds=26), 15, alive) is None, "a's renewal is refused now"
        dead = tx.acquire_lease("c", T0 + timedelta(seconds=27), 15, lambda lease: lease.holder == "b")
        assert dead is not None and dead.epoch == 3, "a dead holder's lease is taken at once"
        tx.release_lease("c")
        released = tx.acquire_lease("a", T0 + timedelta(seconds=28), 15, alive)
        assert released is not None and released.epoch == 4


def test_fenced_writes_are_refused_once_the_lease_moved(store: StateStore) -> None:
    with store.transaction() as tx:
        tx.acquire_lease("a", T0, 15, lambda lease: False)
    [pending] = record(store, "s", [tick("s", 0)], fence=("a", 1))
    with store.transaction() as tx:
        tx.acquire_lease("b", T0 + timedelta(minutes=1), 15, lambda lease: False)
    with pytest.raises(LeaseLost, match="held by 'b'"):
        record(store, "s", [tick("s", 1)], fence=("a", 1))
    with pytest.raises(LeaseLost):
        start(store, pending.tick_id, "r1", fence=("a", 1))
    with pytest.raises(LeaseLost), store.transaction() as tx:
        tx.close_tick(pending.tick_id, TickStatus.SKIPPED, "x", ("a", 1), T0)
    with pytest.raises(LeaseLost):
        save(store, [ScheduleState("s", "f", T0)], fence=("a", 1))
    with store.read() as tx:
        assert tx.find_runs() == [] and len(tx.list_ticks()) == 1
    assert start(store, pending.tick_id, "r1", fence=("b", 2)).started
