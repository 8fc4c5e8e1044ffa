"""Exclusive resources held across runs: runs wait for each other, say so, and never deadlock (both backends)."""

from __future__ import annotations

import itertools
import socket
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from orchestrate_ext.clock import SystemClock
from orchestrate_ext.config import Defaults
from orchestrate_ext.events import NodeChanged
from orchestrate_ext.execution.executor import Executor
from orchestrate_ext.graph import Graph, build_graph
from orchestrate_ext.model import NodeStatus, RunRecord, RunStatus
from orchestrate_ext.store import StateStore
from orchestrate_ext.testing import ScriptedRunner, wait_until
from tests.orchestrate_ext.test_graph import node

LOGICAL = datetime(2024, 1, 31, tzinfo=UTC)


class Recorder:
    """A run listener that keeps every node change."""

    def __init__(self) -> None:
        self.changes: list[NodeChanged] = []
        self.lock = threading.Lock()

    def run_started(self, run: RunRecord, node_ids: list[str]) -> None:
        pass

    def node_changed(self, change: NodeChanged) -> None:
        with self.lock:
            self.changes.append(change)

    def run_finished(self, run: RunRecord) -> None:
        pass


def warehouse_graph() -> Graph:
    return build_graph(
        [
            node("model.p.a", resources=("warehouse",)),
            node("model.p.b", depends_on=("a",), resources=("warehouse",)),
            node("notebook.free", kind="notebook"),
        ]
    )


def executor(store: StateStore, tmp_path: Path, runners: dict[str, ScriptedRunner], recorder: Recorder) -> Executor:
    return Executor(
        warehouse_graph(),
        runners,
        store,
        SystemClock(),
        state_dir=tmp_path,
        concurrency=4,
        defaults=Defaults(),
        listeners=[recorder],
    )


def test_two_runs_take_turns_on_a_resource_and_the_waiting_one_says_for_whom(store: StateStore, tmp_path: Path) -> None:
    dbt = ScriptedRunner(seconds=0.3, batchable=True)
    notebooks = ScriptedRunner()
    recorder = Recorder()
    engine = executor(store, tmp_path, {"dbt": dbt, "notebook": notebooks}, recorder)
    first = engine.create_run(set(engine.graph.nodes), LOGICAL)
    second = engine.create_run(set(engine.graph.nodes), LOGICAL)
    finished: dict[str, RunRecord] = {}
    threads = [
        threading.Thread(target=lambda run_id=run.run_id: finished.__setitem__(run_id, engine.execute(run_id)))
        for run in (first, second)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert {run.status for run in finished.values()} == {RunStatus.SUCCESS}
    with store.read() as tx:
        tries = [
            attempt
            for run in (first, second)
            for attempt in tx.attempts(run.run_id)
            if attempt.node_id != "notebook.free"
        ]
    spans = sorted((attempt.started_at, attempt.finished_at) for attempt in tries)
    for (_, end), (start, _) in itertools.pairwise(spans):
        assert end is not None and start >= end, "two holders of the warehouse at once"
    waits = [change for change in recorder.changes if change.status == NodeStatus.WAITING]
    assert waits, "the run that came second waited"
    assert all(
        change.waiting_for and change.waiting_for.startswith("waiting for warehouse (held by run ") for change in waits
    )
    assert {change.node_id for change in recorder.changes if change.status == NodeStatus.SUCCESS} >= {"notebook.free"}
    with store.read() as tx:
        assert tx.resource_holders() == []


def test_a_hold_left_by_a_dead_process_is_dropped(store: StateStore, tmp_path: Path) -> None:
    recorder = Recorder()
    engine = executor(store, tmp_path, {"dbt": ScriptedRunner(batchable=True), "notebook": ScriptedRunner()}, recorder)
    ghost = engine.create_run({"model.p.a"}, LOGICAL)
    dead_owner = f"{socket.gethostname()}:999999:1.00"  # no such process here
    now = datetime.now(UTC)
    with store.transaction() as tx:
        epoch = tx.claim_run(ghost.run_id, dead_owner, now)
        assert (
            tx.request_resources(ghost.run_id, "model.p.a", ["warehouse"], owner=dead_owner, epoch=epoch or 0, now=now)
            is None
        )
    run = engine.create_run(set(engine.graph.nodes), LOGICAL)
    finished = engine.execute(run.run_id)
    assert finished.status == RunStatus.SUCCESS


def test_cancelling_a_waiting_run_leaves_the_line(store: StateStore, tmp_path: Path) -> None:
    holder_runner = ScriptedRunner(batchable=True)
    holder_runner.gate.clear()
    recorder = Recorder()
    engine = executor(store, tmp_path, {"dbt": holder_runner, "notebook": ScriptedRunner()}, recorder)
    holding = engine.create_run({"model.p.a"}, LOGICAL)
    waiting = engine.create_run({"model.p.a"}, LOGICAL)
    cancel_holding, cancel_waiting = threading.Event(), threading.Event()
    results: dict[str, RunRecord] = {}
    first = threading.Thread(
        target=lambda: results.__setitem__("holding", engine.execute(holding.run_id, cancel_holding))
    )
    first.start()
    wait_until(lambda: any(change.status == NodeStatus.RUNNING for change in recorder.changes))
    second = threading.Thread(
        target=lambda: results.__setitem__("waiting", engine.execute(waiting.run_id, cancel_waiting))
    )
    second.start()
    wait_until(lambda: any(change.status == NodeStatus.WAITING for change in recorder.changes))
    cancel_waiting.set()
    second.join(30)
    assert results["waiting"].status == RunStatus.CANCELLED
    with store.read() as tx:
        [state] = tx.node_states(waiting.run_id)
        assert state.status == NodeStatus.CANCELLED
    holder_runner.gate.set()
    first.join(30)
    assert results["holding"].status == RunStatus.SUCCESS


class HoldWatchingRunner(ScriptedRunner):
    """Records, for every try it runs, who held which resource at that moment (from the store)."""

    def __init__(self, store: StateStore) -> None:
        super().__init__(batchable=True)
        self.store = store
        self.seen: list[tuple[str, set[tuple[str, str]]]] = []

    def run(self, context, tasks, reporter, cancel):  # type: ignore[no-untyped-def]
        with self.store.read() as tx:
            held = {(holder.resource, holder.run_id) for holder in tx.resource_holders()}
        self.seen.append((context.run_id, held))
        super().run(context, tasks, reporter, cancel)


def test_a_granted_request_keeps_its_hold_while_its_batch_runs(store: StateStore, tmp_path: Path) -> None:
    runner = HoldWatchingRunner(store)
    runner.gate.clear()
    recorder = Recorder()
    engine = executor(store, tmp_path, {"dbt": runner, "notebook": ScriptedRunner()}, recorder)
    holding = engine.create_run({"model.p.a"}, LOGICAL)
    waiting = engine.create_run({"model.p.a"}, LOGICAL)
    threads = [threading.Thread(target=engine.execute, args=(run.run_id,)) for run in (holding, waiting)]
    threads[0].start()
    wait_until(lambda: any(change.status == NodeStatus.RUNNING for change in recorder.changes))
    threads[1].start()
    wait_until(lambda: any(change.status == NodeStatus.WAITING for change in recorder.changes))
    runner.gate.set()
    for thread in threads:
        thread.join(30)
    assert [run_id for run_id, _ in runner.seen] == [holding.run_id, waiting.run_id]
    for run_id, held in runner.seen:
        assert held == {("warehouse", run_id)}, "each run held the warehouse, alone, while it ran"


class _HoldsOnB(ScriptedRunner):
    """A dbt batch ``[a, b]`` whose ``a`` ends at once and whose ``b`` runs until ``gate`` is set."""

    def _play(self, context: Any, task: Any, reporter: Any, cancel: threading.Event) -> bool:
        if task.node.id == "model.p.b":
            self.gate.clear()
        return super()._play(context, task, reporter, cancel)


@pytest.mark.parametrize("same_run", [True, False])
def test_a_wait_names_the_node_that_holds_the_resource_now(store: StateStore, tmp_path: Path, same_run: bool) -> None:
    """Issue 18: a hold is taken under the first node of a dbt batch; the wait named that node long after it
    had finished while the rest of its batch held the warehouse."""
    graph = build_graph(
        [
            node("model.p.a", resources=("warehouse",)),
            node("model.p.b", depends_on=("a",), resources=("warehouse",)),
            node("notebook.report", kind="notebook", resources=("warehouse",)),
        ]
    )
    dbt, recorder = _HoldsOnB(batchable=True), Recorder()
    engine = Executor(
        graph,
        {"dbt": dbt, "notebook": ScriptedRunner()},
        store,
        SystemClock(),
        state_dir=tmp_path,
        concurrency=4,
        defaults=Defaults(),
        listeners=[recorder],
    )
    if same_run:
        runs = [engine.create_run(set(graph.nodes), LOGICAL)]
    else:
        runs = [engine.create_run({"model.p.a", "model.p.b"}, LOGICAL), engine.create_run({"notebook.report"}, LOGICAL)]
    threads = [threading.Thread(target=engine.execute, args=(run.run_id,)) for run in runs]
    threads[0].start()
    wait_until(lambda: any(c.node_id == "model.p.a" and c.status == NodeStatus.SUCCESS for c in recorder.changes))
    for thread in threads[1:]:
        thread.start()
    holder = "model.p.b in this run" if same_run else f"run {runs[0].run_id} node model.p.b"
    try:
        wait_until(
            lambda: any(
                c.node_id == "notebook.report" and c.waiting_for == f"waiting for warehouse (held by {holder})"
                for c in list(recorder.changes)
            ),
            timeout=10,
        )
    finally:
        dbt.gate.set()
        for thread in threads:
            thread.join(30)
    texts = {c.waiting_for for c in recorder.changes if c.node_id == "notebook.report" and c.waiting_for}
    assert same_run or not any("model.p.a" in text for text in texts), texts  # the other run's a had ended
