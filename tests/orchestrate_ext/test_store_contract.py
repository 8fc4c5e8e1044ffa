"""The contract every state store implementation must keep."""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from orchestrate_ext.errors import RunNotFound, StoreError
from orchestrate_ext.model import AttemptRecord, AttemptStatus, NodeRunRecord, NodeStatus, RunRecord, RunStatus
from orchestrate_ext.store import SQLiteDatabase, SQLiteStore, StateStore, open_store

T0 = datetime(2024, 1, 31, 6, 0, tzinfo=UTC)

STORES: dict[str, Callable[[Path], StateStore]] = {"sqlite": lambda tmp: open_store(tmp / "state.db")}


@pytest.fixture(params=sorted(STORES))
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StateStore]:
    opened = STORES[request.param](tmp_path)
    yield opened
    opened.close()


def make_run(run_id: str = "r1", created: datetime = T0) -> RunRecord:
    return RunRecord(run_id=run_id, status=RunStatus.RUNNING, created_at=created, logical_date=T0)


def pending(run_id: str, node_id: str) -> NodeRunRecord:
    return NodeRunRecord(run_id, node_id, "dbt", NodeStatus.PENDING)


def test_runs_round_trip_newest_first(store: StateStore) -> None:
    store.create_run(make_run("old", T0), [pending("old", "a")])
    store.create_run(make_run("new", T0 + timedelta(minutes=1)), [pending("new", "a"), pending("new", "b")])
    assert [run.run_id for run in store.list_runs()] == ["new", "old"]
    loaded = store.get_run("new")
    assert loaded.created_at == T0 + timedelta(minutes=1)
    assert loaded.created_at.tzinfo is not None
    assert [state.node_id for state in store.get_node_states("new")] == ["a", "b"]


def test_unknown_run_raises_run_not_found(store: StateStore) -> None:
    with pytest.raises(RunNotFound, match="no run with id 'nope'"):
        store.get_run("nope")
    with pytest.raises(RunNotFound):
        store.set_run_status("nope", RunStatus.FAILED)


def test_set_run_status_keeps_times_it_is_not_given(store: StateStore) -> None:
    store.create_run(make_run(), [])
    store.set_run_status("r1", RunStatus.RUNNING, started_at=T0)
    store.set_run_status("r1", RunStatus.SUCCESS, finished_at=T0 + timedelta(seconds=5))
    run = store.get_run("r1")
    assert (run.status, run.started_at, run.finished_at) == (RunStatus.SUCCESS, T0, T0 + timedelta(seconds=5))


def test_attempts_are_counted_and_finishing_is_fenced(store: StateStore) -> None:
    store.create_run(make_run(), [pending("r1", "a")])
    attempt = AttemptRecord("r1", "a", 1, AttemptStatus.RUNNING, started_at=T0, log_path="/tmp/a.1.log")
    running = NodeRunRecord("r1", "a", "dbt", NodeStatus.RUNNING, started_at=T0)
    store.start_attempt(attempt, running)
    done = AttemptRecord("r1", "a", 1, AttemptStatus.FAILED, started_at=T0, finished_at=T0, error="boom")
    failed = NodeRunRecord("r1", "a", "dbt", NodeStatus.FAILED, started_at=T0, finished_at=T0, error="boom")
    assert store.finish_attempt(done, failed) is True
    late = AttemptRecord("r1", "a", 1, AttemptStatus.SUCCESS, started_at=T0, finished_at=T0)
    succeeded = NodeRunRecord("r1", "a", "dbt", NodeStatus.SUCCESS)
    assert store.finish_attempt(late, succeeded) is False
    [state] = store.get_node_states("r1")
    assert (state.status, state.attempts, state.error) == (NodeStatus.FAILED, 1, "boom")
    [stored] = store.get_attempts("r1", "a")
    assert (stored.status, stored.error, stored.log_path) == (AttemptStatus.FAILED, "boom", "/tmp/a.1.log")


def test_a_failed_write_leaves_nothing_behind(store: StateStore) -> None:
    store.create_run(make_run(), [pending("r1", "a")])
    with pytest.raises(StoreError):
        store.create_run(make_run(), [pending("r1", "b")])
    assert [state.node_id for state in store.get_node_states("r1")] == ["a"]


def _write_runs(path: str, prefix: str, count: int) -> None:
    store = SQLiteStore(SQLiteDatabase(Path(path)))
    for number in range(count):
        run_id = f"{prefix}{number}"
        store.create_run(make_run(run_id), [pending(run_id, "a")])
        store.set_node_state(NodeRunRecord(run_id, "a", "dbt", NodeStatus.SUCCESS))
    store.close()


def test_several_processes_write_one_sqlite_file(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    open_store(path).close()
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_write_runs, args=(str(path), f"p{n}-", 50)) for n in range(3)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
        assert worker.exitcode == 0
    store = open_store(path)
    runs = store.list_runs(limit=1000)
    assert len(runs) == 150
    assert all(store.get_node_states(run.run_id)[0].status == NodeStatus.SUCCESS for run in runs)


def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    store = open_store(path)
    with store.database.transaction() as db:
        db.execute("UPDATE schema_versions SET version = 99 WHERE component = 'runs'")
    store.close()
    with pytest.raises(StoreError, match="newer than this orchestrate-ext understands"):
        open_store(path)
