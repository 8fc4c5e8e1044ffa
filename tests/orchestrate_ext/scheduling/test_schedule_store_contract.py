"""The contract every ScheduleStore implementation keeps (SQLite today; PostgreSQL would join STORES)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from orchestrate_ext.errors import StoreError
from orchestrate_ext.model import NodeRunRecord, NodeStatus, RunRecord, RunStatus
from orchestrate_ext.scheduling.sqlite_store import SQLiteScheduleStore
from orchestrate_ext.scheduling.store import (
    LeaseLost,
    NewTick,
    ScheduleState,
    ScheduleStore,
    StateUpdate,
    TickStatus,
    Trigger,
)
from orchestrate_ext.store import SQLiteStore, open_store
from tests.orchestrate_ext.scheduling.helpers import utc

T0 = utc(2024, 1, 31, 6)

STORES: dict[str, Callable[[Path], tuple[SQLiteStore, ScheduleStore]]] = {
    "sqlite": lambda tmp: (runs := open_store(tmp / "state.db"), SQLiteScheduleStore(runs)),
}


@pytest.fixture(params=sorted(STORES))
def stores(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[SQLiteStore, ScheduleStore]]:
    runs, schedules = STORES[request.param](tmp_path)
    yield runs, schedules
    runs.close()


@pytest.fixture
def store(stores: tuple[SQLiteStore, ScheduleStore]) -> ScheduleStore:
    return stores[1]


def tick(name: str, minute: int, key: str | None = None, **fields: object) -> NewTick:
    moment = T0 + timedelta(minutes=minute)
    return NewTick(name, moment, Trigger.CRON, key or f"cron@{moment.isoformat()}", **fields)  # type: ignore[arg-type]


def run_for(run_id: str, schedule: str = "s", logical: int = 0) -> tuple[RunRecord, list[NodeRunRecord]]:
    run = RunRecord(run_id, RunStatus.RUNNING, T0, T0 + timedelta(minutes=logical), trigger="cron", schedule=schedule)
    return run, [NodeRunRecord(run_id, "a", "fake", NodeStatus.PENDING)]


def start(store: ScheduleStore, tick_id: int, run_id: str, **fields: object) -> object:
    run, nodes = run_for(run_id, logical=int(fields.pop("logical", 0)))  # type: ignore[call-overload]
    options: dict[str, object] = {"owner": "me", "parameters": {"x": 1}, "fence": None, "now": T0, **fields}
    return store.start_run(tick_id, run, nodes, **options)  # type: ignore[arg-type]


def test_states_and_the_due_index(store: ScheduleStore) -> None:
    store.save_states(
        [
            ScheduleState("late", "f1", T0 + timedelta(hours=1)),
            ScheduleState("soon", "f2", T0 - timedelta(minutes=1), cursor=T0),
            ScheduleState("now", "f3", T0),
            ScheduleState("event", "f4", None),
        ],
        None,
        T0,
    )
    assert [state.name for state in store.due(T0, 10)] == ["soon", "now"]
    assert [state.name for state in store.due(T0, 1)] == ["soon"]
    assert store.states()["soon"].cursor == T0
    paused = store.set_paused("soon", True, T0, None)
    assert paused.paused and paused.next_fire_at == T0 - timedelta(minutes=1)
    assert [state.name for state in store.due(T0, 10)] == ["now"]
    assert store.paused() == {"soon"}
    store.save_states([ScheduleState("soon", "f2-new", T0 + timedelta(days=1))], None, T0)
    assert store.states()["soon"].paused, "saving a state keeps the pause flag"
    resumed = store.set_paused("soon", False, T0, T0 + timedelta(minutes=5))
    assert not resumed.paused and resumed.next_fire_at == T0 + timedelta(minutes=5)
    assert store.set_paused("unknown-yet", True, T0, None).paused


def test_a_tick_is_recorded_once_per_schedule_and_key(store: ScheduleStore) -> None:
    store.save_states([ScheduleState("s", "f", T0)], None, T0)
    first = store.record_ticks(
        "s", [tick("s", 0), tick("s", 1)], StateUpdate(next_fire_at=T0 + timedelta(minutes=2)), None, T0
    )
    again = store.record_ticks("s", [tick("s", 1), tick("s", 2)], None, None, T0)
    assert [t.scheduled_at.minute for t in first] == [0, 1]
    assert [t.scheduled_at.minute for t in again] == [2], "the existing tick is not recorded again"
    assert store.record_ticks("other", [tick("other", 1)], None, None, T0), "keys are unique per schedule only"
    assert store.states()["s"].next_fire_at == T0 + timedelta(minutes=2)
    assert [t.scheduled_at.minute for t in store.pending_ticks("s")] == [0, 1, 2]
    assert [t.scheduled_at.minute for t in store.list_ticks("s", limit=2)] == [2, 1]
    assert store.last_ticks()["s"].scheduled_at.minute == 2


def test_starting_a_run_marks_its_tick_in_the_same_transaction(stores: tuple[SQLiteStore, ScheduleStore]) -> None:
    runs, store = stores
    [recorded] = store.record_ticks("s", [tick("s", 0)], None, None, T0)
    result = start(store, recorded.tick_id, "r1")
    assert result.started  # type: ignore[attr-defined]
    ran = store.tick_for_run("r1")
    assert ran is not None and (ran.status, ran.run_id, ran.parameters) == (TickStatus.RAN, "r1", {"x": 1})
    assert runs.get_run("r1").schedule == "s"
    assert not start(store, recorded.tick_id, "r2").started, "a tick that ran cannot start another run"  # type: ignore[attr-defined]
    assert [run.run_id for run in runs.list_runs()] == ["r1"]


def test_a_failed_run_write_leaves_the_tick_pending_and_no_run(stores: tuple[SQLiteStore, ScheduleStore]) -> None:
    runs, store = stores
    first, second = store.record_ticks("s", [tick("s", 0), tick("s", 1)], None, None, T0)
    start(store, first.tick_id, "r1")
    with pytest.raises(StoreError):
        start(store, second.tick_id, "r1", logical=1)  # the run id exists: the insert fails mid-transaction
    assert [t.tick_id for t in store.pending_ticks()] == [second.tick_id]
    assert [run.run_id for run in runs.list_runs()] == ["r1"]


def test_a_date_covered_by_another_run_is_deduplicated(stores: tuple[SQLiteStore, ScheduleStore]) -> None:
    runs, store = stores
    first, second = store.record_ticks("s", [tick("s", 0), tick("s", 0, key="file@x")], None, None, T0)
    assert start(store, first.tick_id, "r1").started  # type: ignore[attr-defined]
    result = start(store, second.tick_id, "r2")
    assert (result.started, result.duplicate_of) == (False, "r1")  # type: ignore[attr-defined]
    closed = store.list_ticks("s")[0]
    assert (closed.status, closed.duplicate_of) == (TickStatus.DEDUPLICATED, "r1")
    assert "already covers" in (closed.reason or "")
    runs.set_run_status("r1", RunStatus.FAILED)
    [third] = store.record_ticks("s", [tick("s", 0, key="after@z")], None, None, T0)
    assert start(store, third.tick_id, "r3").started, "a failed run does not cover its date"  # type: ignore[attr-defined]


def test_closing_and_creating_ticks(stores: tuple[SQLiteStore, ScheduleStore]) -> None:
    runs, store = stores
    [pending] = store.record_ticks("s", [tick("s", 0)], None, None, T0)
    assert store.close_tick(pending.tick_id, TickStatus.SKIPPED, "paused", None, T0)
    assert not store.close_tick(pending.tick_id, TickStatus.SKIPPED, "again", None, T0)
    assert store.list_ticks("s")[0].reason == "paused"
    run, nodes = run_for("b1", logical=5)
    backfill = NewTick("s", run.logical_date, Trigger.BACKFILL, "backfill@5@batch")
    created, result = store.create_tick_run(backfill, run, nodes, owner="me", parameters={}, fence=None, now=T0)
    assert result.started and created is not None and created.status == TickStatus.RAN and created.run_id == "b1"
    again, result = store.create_tick_run(
        backfill, *run_for("b2", logical=5), owner="me", parameters={}, fence=None, now=T0
    )
    assert again is None and not result.started
    other = NewTick("s", run.logical_date, Trigger.BACKFILL, "backfill@5@other")
    covered, result = store.create_tick_run(
        other, *run_for("b3", logical=5), owner="me", parameters={}, fence=None, now=T0
    )
    assert covered is not None and covered.status == TickStatus.DEDUPLICATED and result.duplicate_of == "b1"
    assert [run.run_id for run in runs.list_runs()] == ["b1"]


def test_file_state_is_updated_with_the_ticks(store: ScheduleStore) -> None:
    store.save_states([ScheduleState("s", "f", None)], None, T0)
    store.record_ticks("s", [], StateUpdate(files={"a.csv": (1, 10), "b.csv": (2, 20)}), None, T0)
    store.record_ticks("s", [], StateUpdate(files={"a.csv": None, "b.csv": (3, 30)}, cursor=T0), None, T0)
    assert store.file_state("s") == {"b.csv": (3, 30)}
    assert store.states()["s"].cursor == T0


def test_the_lease_is_exclusive_renewable_and_taken_over_when_expired_or_dead(store: ScheduleStore) -> None:
    alive = lambda lease: False  # noqa: E731
    first = store.acquire_lease("a", T0, 15, alive)
    assert first is not None and first.epoch == 1
    assert store.acquire_lease("b", T0 + timedelta(seconds=5), 15, alive) is None
    renewed = store.acquire_lease("a", T0 + timedelta(seconds=10), 15, alive)
    assert renewed is not None and renewed.epoch == 1 and renewed.expires_at == T0 + timedelta(seconds=25)
    assert store.acquire_lease("b", T0 + timedelta(seconds=24), 15, alive) is None
    taken = store.acquire_lease("b", T0 + timedelta(seconds=26), 15, alive)
    assert taken is not None and taken.epoch == 2 and store.get_lease().holder == "b"  # type: ignore[union-attr]
    dead = store.acquire_lease("c", T0 + timedelta(seconds=27), 15, lambda lease: lease.holder == "b")
    assert dead is not None and dead.epoch == 3, "a dead holder's lease is taken at once"
    store.release_lease("c")
    released = store.acquire_lease("a", T0 + timedelta(seconds=28), 15, alive)
    assert released is not None and released.epoch == 4


def test_fenced_writes_are_refused_once_the_lease_moved(stores: tuple[SQLiteStore, ScheduleStore]) -> None:
    runs, store = stores
    store.acquire_lease("a", T0, 15, lambda lease: False)
    [pending] = store.record_ticks("s", [tick("s", 0)], None, ("a", 1), T0)
    store.acquire_lease("b", T0 + timedelta(minutes=1), 15, lambda lease: False)
    with pytest.raises(LeaseLost, match="held by 'b'"):
        store.record_ticks("s", [tick("s", 1)], None, ("a", 1), T0)
    with pytest.raises(LeaseLost):
        start(store, pending.tick_id, "r1", fence=("a", 1))
    with pytest.raises(LeaseLost):
        store.close_tick(pending.tick_id, TickStatus.SKIPPED, "x", ("a", 1), T0)
    with pytest.raises(LeaseLost):
        store.save_states([ScheduleState("s", "f", T0)], ("a", 1), T0)
    assert runs.list_runs() == [] and len(store.list_ticks()) == 1
    assert start(store, pending.tick_id, "r1", fence=("b", 2)).started  # type: ignore[attr-defined]


def test_a_newer_schedules_schema_is_refused(tmp_path: Path) -> None:
    runs = open_store(tmp_path / "state.db")
    SQLiteScheduleStore(runs)
    with runs.database.transaction() as db:
        db.execute("UPDATE schema_versions SET version = 99 WHERE component = 'schedules'")
    with pytest.raises(StoreError, match="schedules schema version 99"):
        SQLiteScheduleStore(runs)
    runs.close()
