"""The executor against scripted runners: ordering, batching, retries, failure propagation."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest

from orchestrate_ext.clock import SystemClock
from orchestrate_ext.config import Defaults
from orchestrate_ext.execution.executor import Executor
from orchestrate_ext.graph import Graph, build_graph
from orchestrate_ext.model import (
    AttemptRecord,
    AttemptStatus,
    NodeRunRecord,
    NodeStatus,
    RunRecord,
    RunStatus,
    StateLocation,
)
from orchestrate_ext.store import StateStore, open_store
from orchestrate_ext.testing import ScriptedRunner
from tests.orchestrate_ext.test_graph import node

LOGICAL = datetime(2024, 1, 31, tzinfo=UTC)


def make_executor(
    tmp_path: Path,
    graph: Graph,
    runners: dict[str, ScriptedRunner],
    *,
    concurrency: int = 4,
    retries: int = 0,
) -> tuple[Executor, StateStore]:
    store = open_store(StateLocation(path=tmp_path / "state.db"))
    executor = Executor(
        graph,
        runners,
        store,
        SystemClock(),
        state_dir=tmp_path,
        concurrency=concurrency,
        defaults=Defaults(retries=retries, retry_backoff=0.01),
    )
    return executor, store


def statuses(store: StateStore, run_id: str) -> dict[str, str]:
    return {state.node_id: state.status.value for state in node_states(store, run_id)}


def node_states(store: StateStore, run_id: str) -> list[NodeRunRecord]:
    with store.read() as tx:
        return tx.node_states(run_id)


def attempts(store: StateStore, run_id: str, node_id: str | None = None) -> list[AttemptRecord]:
    with store.read() as tx:
        return tx.attempts(run_id, node_id)


def get_run(store: StateStore, run_id: str) -> RunRecord:
    with store.read() as tx:
        return tx.get_run(run_id)


def run_all(executor: Executor, graph: Graph) -> str:
    run = executor.create_run(set(graph.nodes), LOGICAL)
    executor.execute(run.run_id)
    return run.run_id


def diamond() -> Graph:
    """a -> b, a -> c, b+c -> d; e independent; n (notebook) after d."""
    return build_graph(
        [
            node("model.p.a"),
            node("model.p.b", depends_on=("a",)),
            node("model.p.c", depends_on=("a",)),
            node("model.p.d", depends_on=("b", "c")),
            node("model.p.e"),
            node("notebook.n", kind="notebook", depends_on=("d",)),
        ]
    )


def test_everything_runs_in_dependency_order(tmp_path: Path) -> None:
    graph = diamond()
    dbt, notebooks = ScriptedRunner(), ScriptedRunner()
    executor, store = make_executor(tmp_path, graph, {"dbt": dbt, "notebook": notebooks})
    run_id = run_all(executor, graph)
    assert set(statuses(store, run_id).values()) == {"success"}
    assert get_run(store, run_id).status == RunStatus.SUCCESS
    tries = {attempt.node_id: attempt for attempt in attempts(store, run_id)}
    for child, parent in [("model.p.b", "model.p.a"), ("model.p.d", "model.p.c"), ("notebook.n", "model.p.d")]:
        assert tries[child].started_at >= tries[parent].finished_at  # type: ignore[operator]


def test_adjacent_ready_batchable_nodes_go_in_one_batch(tmp_path: Path) -> None:
    graph = diamond()
    dbt, notebooks = ScriptedRunner(batchable=True), ScriptedRunner()
    executor, _ = make_executor(tmp_path, graph, {"dbt": dbt, "notebook": notebooks})
    run_all(executor, graph)
    assert dbt.batches == [["model.p.a", "model.p.e", "model.p.b", "model.p.c", "model.p.d"]]


def test_a_batch_stops_where_a_node_of_another_kind_comes_between(tmp_path: Path) -> None:
    graph = build_graph(
        [
            node("model.p.a"),
            node("notebook.n", kind="notebook", depends_on=("a",)),
            node("model.p.b", depends_on=("notebook.n",)),
        ]
    )
    dbt = ScriptedRunner(batchable=True)
    executor, _ = make_executor(tmp_path, graph, {"dbt": dbt, "notebook": ScriptedRunner()})
    run_all(executor, graph)
    assert dbt.batches == [["model.p.a"], ["model.p.b"]]


def test_a_batch_holds_only_nodes_that_pass_the_same_secrets_through(tmp_path: Path) -> None:
    """A batch is one process: a secret passed through to one dbt model must not reach the others."""
    graph = build_graph(
        [
            node("model.p.a"),
            node("model.p.b", env_passthrough=("WAREHOUSE_TOKEN",)),
            node("model.p.c"),
            node("model.p.d", depends_on=("a", "c")),
            node("model.p.e", depends_on=("b",), env_passthrough=("WAREHOUSE_TOKEN",)),
        ]
    )
    dbt = ScriptedRunner(batchable=True)
    executor, store = make_executor(tmp_path, graph, {"dbt": dbt})
    run_id = run_all(executor, graph)
    assert set(statuses(store, run_id).values()) == {"success"}
    assert sorted(sorted(batch) for batch in dbt.batches) == [
        ["model.p.a", "model.p.c", "model.p.d"],
        ["model.p.b", "model.p.e"],
    ]


def test_failure_marks_downstream_upstream_failed_and_lets_other_branches_finish(tmp_path: Path) -> None:
    graph = diamond()
    executor, store = make_executor(
        tmp_path, graph, {"dbt": ScriptedRunner({"model.p.b": ["fail"]}), "notebook": ScriptedRunner()}
    )
    run_id = run_all(executor, graph)
    assert statuses(store, run_id) == {
        "model.p.a": "success",
        "model.p.e": "success",
        "model.p.b": "failed",
        "model.p.c": "success",
        "model.p.d": "upstream_failed",
        "notebook.n": "upstream_failed",
    }
    states = {state.node_id: state for state in node_states(store, run_id)}
    assert states["model.p.b"].error == "model.p.b failed"
    assert states["model.p.d"].error == "upstream model.p.b failed"
    assert states["notebook.n"].error == "upstream model.p.d upstream failed"
    assert get_run(store, run_id).status == RunStatus.FAILED


def test_a_warning_lets_dependants_run_and_the_run_succeed(tmp_path: Path) -> None:
    graph = diamond()
    dbt, notebooks = ScriptedRunner({"model.p.b": ["warn"]}), ScriptedRunner()
    executor, store = make_executor(tmp_path, graph, {"dbt": dbt, "notebook": notebooks})
    run_id = run_all(executor, graph)
    found = statuses(store, run_id)
    assert found.pop("model.p.b") == "warned"
    assert set(found.values()) == {"success"}
    assert get_run(store, run_id).status == RunStatus.SUCCESS
    warned = next(state for state in node_states(store, run_id) if state.node_id == "model.p.b")
    assert warned.error == "3 rows found"
    assert [attempt.status for attempt in attempts(store, run_id, "model.p.b")] == [AttemptStatus.SUCCESS]


def test_the_run_documents_count_the_warned_nodes(tmp_path: Path) -> None:
    from orchestrate_ext.reports import run_document, runs_document
    from orchestrate_ext.store.records import RunQuery

    graph = diamond()
    dbt, notebooks = ScriptedRunner({"model.p.b": ["warn", "ok"]}), ScriptedRunner()
    executor, store = make_executor(tmp_path, graph, {"dbt": dbt, "notebook": notebooks})
    warned_run = run_all(executor, graph)
    clean_run = run_all(executor, graph)
    with store.read() as tx:
        document = run_document(tx, warned_run)
        listed = {entry["run_id"]: entry["warnings"] for entry in runs_document(tx, RunQuery())}
    assert (document["status"], document["warnings"]) == ("success", 1)
    assert {node["id"]: node["status"] for node in document["nodes"]}["model.p.b"] == "warned"
    assert listed == {warned_run: 1, clean_run: 0}


def test_a_warned_node_is_not_run_again_by_a_retry_of_its_run(tmp_path: Path) -> None:
    graph = diamond()
    dbt, notebooks = ScriptedRunner({"model.p.b": ["warn"], "model.p.e": ["fail", "ok"]}), ScriptedRunner()
    executor, store = make_executor(tmp_path, graph, {"dbt": dbt, "notebook": notebooks})
    run_id = run_all(executor, graph)
    assert get_run(store, run_id).status == RunStatus.FAILED
    executor.execute(run_id)
    assert dbt.tries["model.p.b"] == 1
    assert statuses(store, run_id)["model.p.b"] == "warned"
    assert get_run(store, run_id).status == RunStatus.SUCCESS


def test_retries_use_fresh_attempts_until_one_succeeds(tmp_path: Path) -> None:
    graph = build_graph([node("model.p.a", retries=2), node("model.p.b", depends_on=("a",))])
    runner = ScriptedRunner({"model.p.a": ["fail", "fail", "ok"]})
    executor, store = make_executor(tmp_path, graph, {"dbt": runner})
    run_id = run_all(executor, graph)
    assert statuses(store, run_id) == {"model.p.a": "success", "model.p.b": "success"}
    tries = [(a.try_number, a.status.value) for a in attempts(store, run_id, "model.p.a")]
    assert tries == [(1, "failed"), (2, "failed"), (3, "success")]


def test_retries_run_out(tmp_path: Path) -> None:
    graph = build_graph([node("model.p.a")])
    executor, store = make_executor(tmp_path, graph, {"dbt": ScriptedRunner({"model.p.a": ["fail"]})}, retries=1)
    run_id = run_all(executor, graph)
    assert statuses(store, run_id) == {"model.p.a": "failed"}
    assert len(attempts(store, run_id, "model.p.a")) == 2


def test_backoff_grows_exponentially(tmp_path: Path) -> None:
    graph = build_graph([node("model.p.a", retries=2, retry_backoff=0.2)])
    executor, store = make_executor(tmp_path, graph, {"dbt": ScriptedRunner({"model.p.a": ["fail", "fail", "ok"]})})
    run_id = run_all(executor, graph)
    a1, a2, a3 = attempts(store, run_id, "model.p.a")
    first_wait = (a2.started_at - a1.finished_at).total_seconds()  # type: ignore[operator]
    second_wait = (a3.started_at - a2.finished_at).total_seconds()  # type: ignore[operator]
    # Lower bounds only: a wait can never be shorter than its backoff, while a loaded machine
    # can make it longer by any amount. A constant backoff would leave the second wait near 0.2 s.
    assert first_wait >= 0.2
    assert second_wait >= 0.4


def test_retry_of_a_run_reruns_only_what_failed_or_never_ran(tmp_path: Path) -> None:
    graph = diamond()
    dbt = ScriptedRunner({"model.p.b": ["fail", "ok"]})
    executor, store = make_executor(tmp_path, graph, {"dbt": dbt, "notebook": ScriptedRunner()})
    run_id = run_all(executor, graph)
    assert statuses(store, run_id)["model.p.d"] == "upstream_failed"
    dbt.batches.clear()
    finished = executor.execute(run_id)
    assert finished.status == RunStatus.SUCCESS
    assert sorted(node_id for batch in dbt.batches for node_id in batch) == ["model.p.b", "model.p.d"]
    assert [a.try_number for a in attempts(store, run_id, "model.p.b")] == [1, 2]


def test_concurrency_limit_is_respected(tmp_path: Path) -> None:
    graph = build_graph([node(f"notebook.n{i}", kind="notebook") for i in range(6)])
    runner = ScriptedRunner(seconds=0.1)
    executor, store = make_executor(tmp_path, graph, {"notebook": runner}, concurrency=2)
    run_id = run_all(executor, graph)
    assert runner.most_running == 2
    assert set(statuses(store, run_id).values()) == {"success"}


def test_nodes_sharing_a_resource_never_run_together(tmp_path: Path) -> None:
    graph = build_graph([node(f"notebook.n{i}", kind="notebook", resources=("warehouse",)) for i in range(3)])
    runner = ScriptedRunner(seconds=0.05)
    executor, _ = make_executor(tmp_path, graph, {"notebook": runner}, concurrency=3)
    run_all(executor, graph)
    assert runner.most_running == 1


def test_a_runner_that_raises_fails_its_nodes_with_the_error(tmp_path: Path) -> None:
    graph = build_graph([node("model.p.a"), node("model.p.b", depends_on=("a",)), node("model.p.c")])
    runner = ScriptedRunner({"model.p.a": ["raise"]}, batchable=True)
    executor, store = make_executor(tmp_path, graph, {"dbt": runner})
    run_id = run_all(executor, graph)
    states = {state.node_id: state for state in node_states(store, run_id)}
    assert states["model.p.a"].status == NodeStatus.FAILED
    assert states["model.p.a"].error == "RuntimeError: the runner broke"
    assert states["model.p.b"].status == NodeStatus.UPSTREAM_FAILED


def test_a_node_started_but_never_reported_is_failed_not_lost(tmp_path: Path) -> None:
    graph = build_graph([node("model.p.a")])
    executor, store = make_executor(tmp_path, graph, {"dbt": ScriptedRunner({"model.p.a": ["silent"]})})
    run_id = run_all(executor, graph)
    [attempt] = attempts(store, run_id, "model.p.a")
    assert attempt.status == AttemptStatus.FAILED
    assert "without reporting a result" in (attempt.error or "")


def test_a_node_skipped_by_its_runner_waits_and_runs_when_its_parent_recovers(tmp_path: Path) -> None:
    graph = build_graph([node("model.p.a", retries=1), node("model.p.b", depends_on=("a",))])
    # The runner fails a, then skips b in the same batch (as dbt does); a's retry succeeds, so b runs after all.
    runner = ScriptedRunner({"model.p.a": ["fail", "ok"], "model.p.b": ["skip", "ok"]}, batchable=True)
    executor, store = make_executor(tmp_path, graph, {"dbt": runner})
    run_id = run_all(executor, graph)
    assert statuses(store, run_id) == {"model.p.a": "success", "model.p.b": "success"}
    assert len(attempts(store, run_id, "model.p.b")) == 1


def test_cancel_stops_waiting_nodes(tmp_path: Path) -> None:
    graph = build_graph([node("model.p.a"), node("model.p.b", depends_on=("a",))])
    cancel = threading.Event()

    class CancellingRunner(ScriptedRunner):
        def run(self, context, tasks, reporter, cancel_event):  # type: ignore[no-untyped-def]
            super().run(context, tasks, reporter, cancel_event)
            cancel.set()

    executor, store = make_executor(tmp_path, graph, {"dbt": CancellingRunner()})
    run = executor.create_run(set(graph.nodes), LOGICAL)
    finished = executor.execute(run.run_id, cancel)
    assert finished.status == RunStatus.CANCELLED
    assert statuses(store, run.run_id) == {"model.p.a": "success", "model.p.b": "cancelled"}


@pytest.mark.parametrize("selection", [{"model.p.b"}, {"model.p.b", "model.p.d"}])
def test_unselected_parents_are_taken_as_done(tmp_path: Path, selection: set[str]) -> None:
    graph = diamond()
    executor, store = make_executor(tmp_path, graph, {"dbt": ScriptedRunner(), "notebook": ScriptedRunner()})
    run = executor.create_run(selection, LOGICAL)
    executor.execute(run.run_id)
    assert statuses(store, run.run_id) == dict.fromkeys(sorted(selection), "success")


def hooks_graph() -> Graph:
    """start -> a -> notebook -> b; end after a and b (dbt's on-run-start and on-run-end hooks)."""
    return build_graph(
        [
            node("op.start", failure_blocks=False),
            node("model.p.a", waits_for=("op.start",)),
            node("notebook.n", kind="notebook", depends_on=("a",)),
            node("model.p.b", depends_on=("notebook.n",), waits_for=("op.start",)),
            node("op.end", waits_for=("model.p.a", "model.p.b"), runs_after_failures=True),
        ]
    )


def test_a_failed_failure_blocks_false_node_lets_its_dependants_run(tmp_path: Path) -> None:
    graph = hooks_graph()
    dbt = ScriptedRunner({"op.start": ["fail"]}, batchable=True)
    executor, store = make_executor(tmp_path, graph, {"dbt": dbt, "notebook": ScriptedRunner()})
    run_id = run_all(executor, graph)
    assert statuses(store, run_id) == {
        "op.start": "failed",
        "model.p.a": "success",
        "notebook.n": "success",
        "model.p.b": "success",
        "op.end": "success",
    }
    assert dbt.batches == [["op.start", "model.p.a"], ["model.p.b", "op.end"]], "ordered, in the nodes' batches"


def test_a_runs_after_failures_node_runs_after_a_failure_and_not_again_after_a_retry(tmp_path: Path) -> None:
    graph = hooks_graph()
    dbt = ScriptedRunner({"model.p.a": ["fail", "ok"]}, batchable=True)
    executor, store = make_executor(tmp_path, graph, {"dbt": dbt, "notebook": ScriptedRunner()})
    run_id = run_all(executor, graph)
    assert statuses(store, run_id) == {
        "op.start": "success",
        "model.p.a": "failed",
        "notebook.n": "upstream_failed",
        "model.p.b": "upstream_failed",
        "op.end": "success",
    }
    assert dbt.batches[-1] == ["op.end"], "alone: nothing after the failure runs"
    dbt.batches.clear()
    executor.execute(run_id)  # `orchestrate retry`: model.p.a succeeds now
    assert set(statuses(store, run_id).values()) == {"success"}
    assert dbt.batches == [["model.p.a"], ["model.p.b"]], "op.start and op.end once per run"


def test_after_a_failed_hook_the_later_ones_are_upstream_failed_and_the_nodes_still_run(tmp_path: Path) -> None:
    graph = build_graph(
        [
            node("op.start0"),
            node("op.start1", waits_for=("op.start0",), failure_blocks=False),
            node("model.p.a", waits_for=("op.start1",)),
            node("op.end0", waits_for=("model.p.a", "op.start1"), runs_after_failures=True),
            node("op.end1", waits_for=("op.end0",)),
        ]
    )
    # as dbt reports it: the hook after a failed one is skipped
    dbt = ScriptedRunner({"op.start0": ["fail", "ok"], "op.start1": ["skip", "ok"]}, batchable=True)
    executor, store = make_executor(tmp_path, graph, {"dbt": dbt})
    run_id = run_all(executor, graph)
    assert statuses(store, run_id) == {
        "op.start0": "failed",
        "op.start1": "upstream_failed",
        "model.p.a": "success",
        "op.end0": "success",
        "op.end1": "success",
    }
    assert dbt.batches == [["op.start0", "op.start1", "model.p.a", "op.end0", "op.end1"]]
    dbt.batches.clear()
    executor.execute(run_id)  # `orchestrate retry`: the start hooks that did not succeed; the end hooks did
    assert set(statuses(store, run_id).values()) == {"success"}
    assert dbt.batches == [["op.start0", "op.start1"]]
