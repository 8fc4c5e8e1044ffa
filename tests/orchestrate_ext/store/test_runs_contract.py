"""The store contract for runs, node states, attempts and the history queries, on SQLite and PostgreSQL."""

from __future__ import annotations

import multiprocessing
from datetime import timedelta
from pathlib import Path

import pytest

from orchestrate_ext.errors import RunNotFound, StoreConflict, StoreError
from orchestrate_ext.model import AttemptStatus, NodeStatus, RunStatus, StateLocation
from orchestrate_ext.store import Component, StateStore, open_store
from orchestrate_ext.store.records import RunQuery
from tests.orchestrate_ext.store.records import T0, attempt, claim, insert, make_run, node, pending


def test_runs_round_trip_newest_first_with_their_parameters(store: StateStore) -> None:
    insert(store, make_run("old", T0), "a")
    insert(store, make_run("new", T0 + timedelta(minutes=1), parameters={"top_n": 5, "when": "x"}), "b", "a")
    with store.read() as tx:
        assert [run.run_id for run in tx.find_runs()] == ["new", "old"]
        loaded = tx.get_run("new")
        assert loaded.created_at == T0 + timedelta(minutes=1) and loaded.created_at.tzinfo is not None
        assert loaded.parameters == {"top_n": 5, "when": "x"}
        assert [state.node_id for state in tx.node_states("new")] == ["b", "a"], "nodes keep the run's order"


def test_unknown_runs_raise_run_not_found(store: StateStore) -> None:
    with store.read() as tx, pytest.raises(RunNotFound, match="no run with id 'nope'"):
        tx.get_run("nope")
    with store.transaction() as tx, pytest.raises(RunNotFound):
        tx.claim_run("nope", "me", T0)


def test_a_failed_unit_of_work_leaves_nothing_behind(store: StateStore) -> None:
    insert(store, make_run(), "a")
    with pytest.raises(StoreConflict), store.transaction() as tx:
        tx.insert_run(make_run("r2"), [pending("r2", "x")])
        tx.insert_run(make_run("r1"), [pending("r1", "b")])  # the id exists: the whole unit rolls back
    with store.read() as tx:
        assert [run.run_id for run in tx.find_runs()] == ["r1"]
        assert [state.node_id for state in tx.node_states("r1")] == ["a"]


def test_a_read_only_view_cannot_write(store: StateStore) -> None:
    with pytest.raises(StoreError), store.read() as tx:
        tx.insert_run(make_run(), [pending("r1", "a")])
    with store.read() as tx:
        assert tx.find_runs() == []


def test_start_and_resumptions_keep_the_first_start(store: StateStore) -> None:
    insert(store, make_run(), "a")
    epoch = claim(store, "r1")
    with store.transaction() as tx:
        assert tx.mark_run_started("r1", epoch, T0 + timedelta(seconds=1))
        assert tx.finish_run("r1", RunStatus.FAILED, epoch, T0 + timedelta(seconds=5))
    epoch = claim(store, "r1")  # `orchestrate retry`
    with store.transaction() as tx:
        assert tx.mark_run_started("r1", epoch, T0 + timedelta(minutes=10))
        running = tx.get_run("r1")
    assert (running.status, running.started_at, running.finished_at) == (
        RunStatus.RUNNING,
        T0 + timedelta(seconds=1),
        None,
    ), "a resumed run keeps its first start and is not finished any more"
    assert (running.resumed_at, running.resumptions) == (T0 + timedelta(minutes=10), 1)


def test_filters_pages_and_counts_are_answered_by_the_store(store: StateStore) -> None:
    for number in range(12):
        run = make_run(
            f"r{number:02}",
            T0 + timedelta(minutes=number),
            schedule="nightly" if number % 2 else None,
            trigger="cron" if number % 2 else "manual",
        )
        insert(store, run, "a", "b" if number % 3 == 0 else "c")
        epoch = claim(store, run.run_id)
        with store.transaction() as tx:
            tx.finish_run(run.run_id, RunStatus.FAILED if number % 4 == 0 else RunStatus.SUCCESS, epoch, T0)
    with store.read() as tx:
        failed = RunQuery(statuses=frozenset({RunStatus.FAILED}))
        assert [run.run_id for run in tx.find_runs(failed)] == ["r08", "r04", "r00"]
        nightly = RunQuery(schedules=frozenset({"nightly"}), limit=2, offset=1)
        assert [run.run_id for run in tx.find_runs(nightly)] == ["r09", "r07"]
        assert tx.count_runs(nightly) == 6
        with_b = RunQuery(node_id="b", since=T0 + timedelta(minutes=3))
        assert [run.run_id for run in tx.find_runs(with_b)] == ["r09", "r06", "r03"]
        assert tx.count_runs(RunQuery(triggers=frozenset({"manual"}), statuses=frozenset({RunStatus.SUCCESS}))) == 3
        assert tx.node_counts(["r00", "r01"]) == {"r00": {"pending": 2}, "r01": {"pending": 2}}


def test_run_ids_by_prefix_for_completion(store: StateStore) -> None:
    for number, run_id in enumerate(["20261130T0600-aa", "20261130T0700-ab", "20261201T0600-ac", "20261130t0800-x%"]):
        insert(store, make_run(run_id, T0 + timedelta(minutes=number)), "a")
    with store.read() as tx:
        found = tx.find_runs(RunQuery(id_prefix="20261130T"))
        assert [run.run_id for run in found] == ["20261130T0700-ab", "20261130T0600-aa"], "case-sensitive, newest first"
        assert tx.count_runs(RunQuery(id_prefix="2026")) == 4
        assert [run.run_id for run in tx.find_runs(RunQuery(id_prefix="20261130t0800-x%"))] == ["20261130t0800-x%"]
        assert tx.find_runs(RunQuery(id_prefix="20261130t0800-x_")) == [], "no wildcards"
        assert tx.find_runs(RunQuery(id_prefix="2026", limit=1))[0].run_id == "20261130t0800-x%"


def test_latest_state_and_last_success_of_every_node(store: StateStore) -> None:
    for number, outcome in enumerate([NodeStatus.SUCCESS, NodeStatus.FAILED, NodeStatus.WARNED]):
        run_id = f"r{number}"
        insert(store, make_run(run_id, T0 + timedelta(minutes=number)), "a", "b")
        epoch = claim(store, run_id)
        finished = T0 + timedelta(minutes=number, seconds=30)
        with store.transaction() as tx:
            tx.set_node_state(node(run_id, "a", outcome, finished_at=finished, error="x"), 1, epoch)
    with store.read() as tx:
        latest = tx.latest_node_states()
    assert (latest["a"].run_id, latest["a"].status) == ("r2", NodeStatus.WARNED)
    assert (latest["a"].last_success_run_id, latest["a"].last_success_at) == (
        "r2",
        T0 + timedelta(minutes=2, seconds=30),
    )
    assert (latest["b"].status, latest["b"].last_success_at) == (NodeStatus.PENDING, None)
    epoch = claim(store, "r0")  # a late write to an older run does not become the node's latest state
    with store.transaction() as tx:
        tx.set_node_state(node("r0", "a", NodeStatus.FAILED, finished_at=T0), 2, epoch)
    with store.read() as tx:
        assert tx.latest_node_states(["a"])["a"].run_id == "r2"
        history = tx.node_history("a", limit=2)
    assert [(entry.run_id, entry.status) for entry in history] == [("r2", NodeStatus.WARNED), ("r1", NodeStatus.FAILED)]


def test_deleting_runs_keeps_the_latest_states_right(store: StateStore) -> None:
    for number in range(3):
        run_id = f"r{number}"
        insert(store, make_run(run_id, T0 + timedelta(minutes=number)), "a")
        epoch = claim(store, run_id)
        with store.transaction() as tx:
            tx.start_attempt(
                attempt(run_id, "a", 1, AttemptStatus.RUNNING),
                node(run_id, "a", NodeStatus.RUNNING),
                epoch,
                host="h",
                pid=1,
            )
            done = T0 + timedelta(minutes=number, seconds=10)
            tx.finish_attempt(
                attempt(run_id, "a", 1, AttemptStatus.SUCCESS, finished_at=done),
                node(run_id, "a", NodeStatus.SUCCESS, finished_at=done),
                epoch,
            )
            if number < 2:
                tx.finish_run(run_id, RunStatus.SUCCESS, epoch, done)
    with store.transaction() as tx:
        assert tx.delete_runs(["r1", "r2", "missing"]) == ["r1"], "a running run (r2) is kept"
        latest = tx.latest_node_states()["a"]
        assert (latest.run_id, latest.last_success_run_id) == ("r2", "r2")
        assert tx.delete_runs(["r0"]) == ["r0"]
        assert [run.run_id for run in tx.find_runs()] == ["r2"]
        assert tx.attempts("r0") == []


def test_a_newer_schema_is_refused_and_an_older_one_needs_a_writer(state_location: StateLocation) -> None:
    store = open_store(state_location)
    with store.transaction() as tx:
        tx.sql.execute("UPDATE schema_versions SET version = 99 WHERE component = 'runs'")
    store.close()
    with pytest.raises(StoreError, match="runs schema version 99, newer than this orchestrate-ext"):
        open_store(state_location)
    with pytest.raises(StoreError, match="newer than this orchestrate-ext"):
        open_store(state_location, read_only=True)


def test_components_register_and_migrate_once(store: StateStore) -> None:
    extra = Component("extra", ("CREATE TABLE extra_items (id {serial}, seen {time} NOT NULL)",))
    store.register(extra)
    store.register(extra)  # again: nothing to do
    with store.transaction() as tx:
        sql = tx.component_sql(extra)
        sql.execute("INSERT INTO extra_items (seen) VALUES (?)", (sql.time(T0),))
        [(seen,)] = sql.execute("SELECT seen FROM extra_items").fetchall()
        assert sql.read_time(seen) == T0
    assert store.schema_versions()["extra"] == 1
    with store.transaction() as tx, pytest.raises(StoreError, match="not registered"):
        tx.component_sql(Component("other", ()))


def test_a_read_only_store_that_does_not_exist_reads_empty_and_is_not_created(tmp_path: Path) -> None:
    path = tmp_path / "nowhere" / "state.db"
    store = open_store(StateLocation(path=path), read_only=True)
    with store.read() as tx:
        assert tx.find_runs() == [] and tx.latest_node_states() == {}
    with pytest.raises(StoreError, match="read-only"), store.transaction():
        pass
    store.close()
    assert not path.exists() and not path.parent.exists()


def test_a_read_only_sqlite_store_reads_without_writing(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    writer = open_store(StateLocation(path=path))
    insert(writer, make_run(), "a")
    writer.close()
    path.chmod(0o444)
    reader = open_store(StateLocation(path=path), read_only=True)
    with reader.read() as tx:
        assert [run.run_id for run in tx.find_runs()] == ["r1"]
    reader.close()


def _write_runs(location: StateLocation, prefix: str, count: int) -> None:
    store = open_store(location)
    for number in range(count):
        run_id = f"{prefix}{number}"
        insert(store, make_run(run_id), "a")
        epoch = claim(store, run_id, owner=prefix)
        with store.transaction() as tx:
            tx.set_node_state(node(run_id, "a", NodeStatus.SUCCESS, finished_at=T0), 0, epoch)
    store.close()


@pytest.mark.slow
def test_several_processes_write_one_store(state_location: StateLocation) -> None:
    open_store(state_location).close()
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_write_runs, args=(state_location, f"p{n}-", 40)) for n in range(3)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(120)
        assert worker.exitcode == 0
    store = open_store(state_location)
    with store.read() as tx:
        runs = tx.find_runs(RunQuery(limit=1000))
        assert len(runs) == 120
        assert all(tx.node_states(run.run_id)[0].status == NodeStatus.SUCCESS for run in runs)
    store.close()
