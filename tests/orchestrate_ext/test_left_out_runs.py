"""Runs and retries record the nodes they leave out (`partial_graph.choose`), with scripted runners."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrate_ext.errors import BadInput
from orchestrate_ext.model import Node, NodeStatus, RunStatus
from orchestrate_ext.partial_graph import build_partial_graph, choose
from orchestrate_ext.testing import ScriptedRunner
from tests.orchestrate_ext.test_executor import LOGICAL, get_run, make_executor, node_states
from tests.orchestrate_ext.test_graph import node


def _nodes(c_depends_on: str) -> list[Node]:
    return [
        node("model.p.a"),
        node("model.p.b", depends_on=("a",)),
        node("model.p.c", depends_on=(c_depends_on,)),
        node("model.p.d", depends_on=("c",)),
        node("source.p.raw", kind="source", runnable=False),
    ]


def test_choose_splits_a_selection_and_names_the_broken_cause_of_a_waiting_node() -> None:
    partial = build_partial_graph(_nodes("bb"))
    [typo] = partial.broken.values()
    choice = choose(partial, {"model.p.a", "model.p.c", "model.p.d"})
    assert choice.node_ids == {"model.p.a"}
    assert choice.left_out == {"model.p.c": typo, "model.p.d": "it waits for model.p.c, which is broken"}
    assert choice.warnings == (
        f"model.p.c is left out: {typo}",
        "model.p.d is left out: it waits for model.p.c, which is broken",
    )
    alone = choose(partial, {"model.p.a", "model.p.d"})
    assert alone.warnings == (f"model.p.d is left out: it waits for model.p.c, which is broken (model.p.c: {typo})",)
    with pytest.raises(BadInput, match=r"nothing can run: model\.p\.d is left out because it waits for model\.p\.c"):
        choose(partial, {"model.p.d", "source.p.raw"})
    assert choose(partial, {"source.p.raw"}).node_ids == {"source.p.raw"}, "sources only: nothing left out, no error"


def test_a_retry_adds_what_it_leaves_out_skips_it_with_why_and_keeps_what_succeeded(tmp_path: Path) -> None:
    healthy = build_partial_graph(_nodes("b"))
    runner = ScriptedRunner({"model.p.c": ["fail"]})
    executor, store = make_executor(tmp_path, healthy.graph, {"dbt": runner})
    run = executor.create_run({"model.p.a", "model.p.b", "model.p.c"}, LOGICAL, left_out={"model.p.d": "earlier"})
    assert executor.execute(run.run_id).status == RunStatus.FAILED
    assert get_run(store, run.run_id).left_out == {"model.p.d": "earlier"}

    # c is broken now, and b is gone from the project: the retry runs nothing of c and keeps b's success.
    partial = build_partial_graph([item for item in _nodes("bb") if item.id != "model.p.b"])
    unfinished = {state.node_id for state in node_states(store, run.run_id) if not state.status.is_done}
    choice = choose(partial, unfinished | {"model.p.a"})
    retry, _ = make_executor(tmp_path, choice.graph, {"dbt": ScriptedRunner()})
    finished = retry.execute(run.run_id, left_out=choice.left_out)
    assert finished.status == RunStatus.SUCCESS
    assert finished.left_out == {"model.p.c": partial.broken["model.p.c"], "model.p.d": "earlier"}
    states = {state.node_id: (state.status, state.error) for state in node_states(store, run.run_id)}
    assert states == {
        "model.p.a": (NodeStatus.SUCCESS, None),
        "model.p.b": (NodeStatus.SUCCESS, None),
        "model.p.c": (NodeStatus.SKIPPED, f"left out: {partial.broken['model.p.c']}"),
    }
