"""A full disk under the SQLite store: one clear error naming the store and the fix, and a store that still works.

SQLite reports a full disk and a database at its ``max_page_count`` the same way (SQLITE_FULL, "database or
disk is full") and rolls the transaction back itself; the limit makes the real error come on any machine.
A run whose write meets a full disk is marked failed with the cause when the store can still take that
small write, and says so when it cannot.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest

from orchestrate_ext.clock import SystemClock
from orchestrate_ext.config import Defaults
from orchestrate_ext.errors import StoreError
from orchestrate_ext.execution.claims import RunClaim
from orchestrate_ext.execution.executor import Executor
from orchestrate_ext.execution.liveness import ProcessIdentity, ProcessLiveness
from orchestrate_ext.execution.store_failure import record_store_failure
from orchestrate_ext.graph import Graph, build_graph
from orchestrate_ext.interfaces import BatchReporter, NodeOutcome, NodeTask, RunContext
from orchestrate_ext.model import AttemptStatus, NodeStatus, RunStatus, StateLocation
from orchestrate_ext.store import open_store
from orchestrate_ext.store.sqlite import SQLiteStore
from orchestrate_ext.testing import ScriptedRunner
from tests.orchestrate_ext.store.records import insert, make_run
from tests.orchestrate_ext.test_graph import node


def test_a_full_disk_names_the_store_and_the_fix_and_loses_nothing_written_before(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    store = open_store(StateLocation(path=path))
    assert isinstance(store, SQLiteStore)
    insert(store, make_run("kept"), "a")
    pages = store._db.execute("PRAGMA page_count").fetchone()[0]
    store._db.execute(f"PRAGMA max_page_count = {pages + 2}")
    nodes = [f"model.p.node_{i:05d}_{'x' * 80}" for i in range(2000)]
    with pytest.raises(StoreError) as raised:
        insert(store, make_run("too_big"), *nodes)
    message = str(raised.value)
    assert str(path) in message
    assert "disk is full" in message
    assert "state.path" in message
    assert "cannot rollback" not in message
    store._db.execute("PRAGMA max_page_count = 1073741823")  # space again
    insert(store, make_run("after"), "a")
    with store.read() as tx:
        assert sorted(run.run_id for run in tx.find_runs()) == ["after", "kept"]


class FillingRunner(ScriptedRunner):
    """Plays ``ok`` for every node but ``model.p.b``, whose try fills the store's disk and then reports an error
    too big for what is left (a megabyte of output): the write of its end fails with SQLITE_FULL."""

    def __init__(self, store: SQLiteStore, spare_pages: int) -> None:
        super().__init__()
        self.store = store
        self.spare_pages = spare_pages
        self.filled = 0

    def _play(self, context: RunContext, task: NodeTask, reporter: BatchReporter, cancel: threading.Event) -> bool:
        if task.node.id != "model.p.b":
            return super()._play(context, task, reporter, cancel)
        self.filled += 1
        reporter.started(task.node.id)
        with self.store._lock:
            pages = self.store._db.execute("PRAGMA page_count").fetchone()[0]
            self.store._db.execute(f"PRAGMA max_page_count = {pages + self.spare_pages}")
        reporter.finished(task.node.id, NodeOutcome(AttemptStatus.FAILED, "x" * 1_000_000))
        return True


def chain() -> Graph:
    return build_graph([node("model.p.a"), node("model.p.b", depends_on=("a",)), node("model.p.c", depends_on=("b",))])


def test_a_run_whose_write_meets_a_full_disk_is_marked_failed_with_the_cause(tmp_path: Path) -> None:
    store = open_store(StateLocation(path=tmp_path / "state.db"))
    assert isinstance(store, SQLiteStore)
    graph = chain()
    runner = FillingRunner(store, spare_pages=8)
    executor = Executor(
        graph, {"dbt": runner}, store, SystemClock(), state_dir=tmp_path, concurrency=2, defaults=Defaults()
    )
    run = executor.create_run(set(graph.nodes), datetime(2024, 1, 31, tzinfo=UTC))
    with pytest.raises(StoreError) as raised:
        executor.execute(run.run_id)
    message = str(raised.value)
    assert "disk is full" in message and str(store.path) in message
    assert f"The run {run.run_id} is marked failed." in message
    assert "cannot rollback" not in message
    with store.read() as tx:
        assert tx.get_run(run.run_id).status == RunStatus.FAILED
        states = {state.node_id: state for state in tx.node_states(run.run_id)}
    assert states["model.p.a"].status == NodeStatus.SUCCESS
    assert states["model.p.b"].status == NodeStatus.FAILED
    assert "the run stopped: the state store" in (states["model.p.b"].error or "")
    assert states["model.p.c"].status == NodeStatus.CANCELLED
    assert (runner.nodes_run(), runner.filled) == (["model.p.a"], 1), "b ran once, c never"
    with store.read() as tx:
        assert [(a.node_id, a.status) for a in tx.attempts(run.run_id)] == [
            ("model.p.a", AttemptStatus.SUCCESS),
            ("model.p.b", AttemptStatus.FAILED),
        ]


def test_when_the_failure_cannot_be_recorded_either_the_message_says_so(tmp_path: Path) -> None:
    store = open_store(StateLocation(path=tmp_path / "state.db"))
    assert isinstance(store, SQLiteStore)
    insert(store, make_run("r"), "a")
    supervisor_claim = RunClaim(store, "r", 1, ProcessIdentity.current(), ProcessLiveness())
    store.close()  # nothing can be written any more
    cause = StoreError(f"the state store {store.path} cannot be written: its disk is full")
    error = record_store_failure(supervisor_claim, cause, datetime(2024, 1, 31, tzinfo=UTC))
    message = str(error)
    assert message.startswith(str(cause))
    assert "The run r could not be marked failed either" in message
    assert "orchestrate retry r" in message
