"""A plan equals what the following run does: against scripted runners, on both store backends.

Each case plans a run through a read-only store, then carries out the run and compares, node by
node, the plan's action (run, reused of run X) with the run's record (success, reused from X).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from orchestrate_ext.clock import Clock, SystemClock
from orchestrate_ext.graph import Graph, build_graph
from orchestrate_ext.model import NodeStatus, ReusePolicy, StateLocation
from orchestrate_ext.partial_graph import build_partial_graph
from orchestrate_ext.planning import FULL_RUN, Action, Plan, plan_nodes
from orchestrate_ext.store import StateStore, open_store
from orchestrate_ext.testing import FakeClock
from tests.orchestrate_ext.test_graph import node
from tests.orchestrate_ext.test_reuse import LOGICAL, Pipeline, chain


@pytest.fixture
def reader(state_location: StateLocation, store: StateStore) -> Iterator[StateStore]:
    """The test's store opened read-only, as ``orchestrate plan`` opens it (after ``store`` made it)."""
    opened = open_store(state_location, read_only=True)
    yield opened
    opened.close()


def plan(
    pipeline: Pipeline,
    reader: StateStore,
    *,
    select: set[str] | None = None,
    only_changed: bool = True,
    clock: Clock | None = None,
    logical_date: datetime = LOGICAL,
    **parameters: object,
) -> Plan:
    graph = pipeline.executor.graph
    return plan_nodes(
        build_partial_graph(graph.nodes.values()),
        select if select is not None else set(graph.nodes),
        {"dbt": pipeline.dbt, "notebook": pipeline.notebooks},
        reader,
        clock or SystemClock(),
        logical_date,
        state_dir=pipeline.executor.environment.state_dir,
        only_changed=only_changed,
        parameters=parameters,
    )


def run(pipeline: Pipeline, *, select: set[str] | None = None, only_changed: bool = True, **parameters: object) -> str:
    executor = pipeline.executor
    record = executor.create_run(
        select if select is not None else set(executor.graph.nodes),
        LOGICAL,
        only_changed=only_changed,
        parameters=parameters,
    )
    executor.execute(record.run_id)
    return record.run_id


def planned(found: Plan) -> dict[str, tuple[str, str | None]]:
    return {node.id: (node.action.value, node.reuses_run) for node in found.nodes}


def done(pipeline: Pipeline, run_id: str) -> dict[str, tuple[str, str | None]]:
    """What the run did with each node: ``run`` (it succeeded) or ``reused`` (of run X)."""
    found = {}
    for node_id, state in pipeline.states(run_id).items():
        assert state.status in (NodeStatus.SUCCESS, NodeStatus.REUSED), (node_id, state.status)
        found[node_id] = ("reused", state.reused_from) if state.status == NodeStatus.REUSED else ("run", None)
    return found


def plan_then_run(
    pipeline: Pipeline, reader: StateStore, *, clock: Clock | None = None, **options: object
) -> tuple[Plan, str]:
    found = plan(pipeline, reader, clock=clock, **options)  # type: ignore[arg-type]
    run_id = run(pipeline, **options)  # type: ignore[arg-type]
    assert planned(found) == done(pipeline, run_id)
    return found, run_id


def test_a_first_run_plans_every_node_as_run(tmp_path: Path, store: StateStore, reader: StateStore) -> None:
    pipeline = Pipeline(tmp_path, store, chain())
    found, _ = plan_then_run(pipeline, reader)
    reasons = {node.id: node.reason for node in found.nodes}
    assert reasons["seed.raw"] == "no earlier success"
    assert reasons["model.staged"] == "upstream seed.raw runs"
    full, _ = plan_then_run(pipeline, reader, only_changed=False)
    assert {node.reason for node in full.nodes} == {FULL_RUN}


def test_an_unchanged_pipeline_plans_every_node_reused_of_the_run_that_made_it(
    tmp_path: Path, store: StateStore, reader: StateStore
) -> None:
    pipeline = Pipeline(tmp_path, store, chain())
    first = run(pipeline, only_changed=False)
    found, second = plan_then_run(pipeline, reader)
    assert {node.action for node in found.nodes} == {Action.REUSED}
    assert {node.reuses_run for node in found.nodes} == {first}
    states = pipeline.states(second)
    assert {node.id: node.reason for node in found.nodes} == {key: state.reason for key, state in states.items()}
    third = plan(pipeline, reader)
    assert {node.reuses_run for node in third.nodes} == {first}, "a reused result keeps its producer"


@pytest.mark.parametrize("changed", ["seed.raw", "model.staged", "model.other", "notebook.report"])
def test_a_change_plans_the_node_and_what_reads_it_as_run(
    tmp_path: Path, store: StateStore, reader: StateStore, changed: str
) -> None:
    pipeline = Pipeline(tmp_path, store, chain())
    run(pipeline, only_changed=False)
    runner = pipeline.notebooks if changed.startswith("notebook") else pipeline.dbt
    runner.code[changed] = "v2"
    found, _ = plan_then_run(pipeline, reader)
    assert next(node for node in found.nodes if node.id == changed).reason.startswith("code changed since")
    plan_then_run(pipeline, reader)


def test_changed_parameters_plan_every_node_as_run(tmp_path: Path, store: StateStore, reader: StateStore) -> None:
    pipeline = Pipeline(tmp_path, store, chain())
    run(pipeline, only_changed=False, region="eu")
    found, _ = plan_then_run(pipeline, reader, region="us")
    assert {node.action for node in found.nodes} == {Action.RUN}
    plan_then_run(pipeline, reader, region="us")


def test_reuse_never_and_a_failure_since_plan_the_node_as_run(
    tmp_path: Path, store: StateStore, reader: StateStore
) -> None:
    never = Pipeline(tmp_path / "never", store, chain(reuse=ReusePolicy(allowed=False)))
    run(never, only_changed=False)
    found, _ = plan_then_run(never, reader)
    assert {node.id: node.reason for node in found.nodes}["notebook.report"] == "reuse: never"
    failing = Pipeline(tmp_path / "failing", store, chain())
    run(failing, only_changed=False)
    failing.dbt.script["model.staged"] = ["fail"]
    run(failing, only_changed=False)
    failing.dbt.script["model.staged"] = ["ok"]
    found, _ = plan_then_run(failing, reader)
    reasons = {node.id: node.reason for node in found.nodes}
    assert reasons["model.staged"].startswith("it failed after its last success")
    assert reasons["notebook.report"] == "upstream model.staged runs"


def test_a_selection_plans_against_the_results_of_upstream_nodes_outside_it(
    tmp_path: Path, store: StateStore, reader: StateStore
) -> None:
    pipeline = Pipeline(tmp_path, store, chain())
    run(pipeline, only_changed=False)
    plan_then_run(pipeline, reader, select={"notebook.report"})
    run(pipeline, select={"model.staged"}, only_changed=False)  # a new upstream result
    found, _ = plan_then_run(pipeline, reader, select={"notebook.report"})
    assert [node.action for node in found.nodes] == [Action.RUN]


def test_a_node_that_only_waits_for_a_node_that_runs_may_still_be_reused(
    tmp_path: Path, store: StateStore, reader: StateStore
) -> None:
    graph = build_graph(
        [
            node("seed.raw"),
            node("model.other", depends_on=("seed.raw",)),
            node("notebook.after", kind="notebook", depends_on=("seed.raw",), waits_for=("model.other",)),
        ]
    )
    pipeline = Pipeline(tmp_path, store, graph)
    run(pipeline, only_changed=False)
    pipeline.dbt.code["model.other"] = "v2"
    found, _ = plan_then_run(pipeline, reader)
    assert planned(found)["notebook.after"][0] == "reused"


def test_a_result_older_than_max_age_plans_as_run(tmp_path: Path, store: StateStore, reader: StateStore) -> None:
    clock = FakeClock(datetime(2024, 2, 1, tzinfo=UTC))
    pipeline = Pipeline(tmp_path, store, chain(reuse=ReusePolicy(max_age=24 * 3600)), clock=clock)
    run(pipeline, only_changed=False)
    clock.set(clock.now() + timedelta(hours=25))
    found, _ = plan_then_run(pipeline, reader, clock=clock)
    assert "is older than max_age 24h" in {node.id: node.reason for node in found.nodes}["notebook.report"]


def test_broken_nodes_and_what_waits_for_them_are_planned_left_out(tmp_path: Path, reader: StateStore) -> None:
    nodes = [
        node("seed.raw"),
        node("notebook.typo", kind="notebook", depends_on=("sed.raw",)),
        node("notebook.after", kind="notebook", depends_on=("notebook.typo",)),
    ]
    partial = build_partial_graph(nodes)
    found = plan_nodes(
        partial, set(partial.graph.nodes), {}, reader, SystemClock(), LOGICAL, state_dir=tmp_path, only_changed=False
    )
    assert {node.id: node.action for node in found.nodes} == {
        "seed.raw": Action.RUN,
        "notebook.typo": Action.LEFT_OUT,
        "notebook.after": Action.LEFT_OUT,
    }
    reasons = {node.id: node.reason for node in found.nodes}
    assert reasons["notebook.typo"] == partial.broken["notebook.typo"]
    assert reasons["notebook.after"] == "it waits for notebook.typo, which is broken"


def test_a_store_that_does_not_exist_plans_everything_as_run_and_is_not_created(tmp_path: Path) -> None:
    path = tmp_path / ".orchestrate" / "state.db"
    missing = open_store(StateLocation(path=path), read_only=True)
    graph: Graph = chain()
    try:
        found = plan_nodes(
            build_partial_graph(graph.nodes.values()),
            set(graph.nodes),
            {},
            missing,
            SystemClock(),
            LOGICAL,
            state_dir=tmp_path,
            only_changed=True,
        )
    finally:
        missing.close()
    assert {node.action for node in found.nodes} == {Action.RUN}
    assert not path.parent.exists()
