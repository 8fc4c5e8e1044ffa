"""State-aware runs against scripted runners, on both store backends: what runs, what is reused and why."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from orchestrate_ext.clock import SystemClock
from orchestrate_ext.config import Defaults
from orchestrate_ext.execution.executor import Executor
from orchestrate_ext.graph import Graph, build_graph
from orchestrate_ext.model import NodeRunRecord, NodeStatus, ReusePolicy, RunStatus
from orchestrate_ext.store import StateStore
from orchestrate_ext.testing import FakeClock, ScriptedRunner
from tests.orchestrate_ext.test_graph import node

LOGICAL = datetime(2024, 1, 31, tzinfo=UTC)


def chain(*, reuse: ReusePolicy | None = None) -> Graph:
    """raw -> staged -> report (a notebook) and raw -> other: two branches from one seed."""
    return build_graph(
        [
            node("seed.raw"),
            node("model.staged", depends_on=("seed.raw",)),
            node("model.other", depends_on=("seed.raw",)),
            node("notebook.report", kind="notebook", depends_on=("model.staged",), reuse=reuse or ReusePolicy()),
        ]
    )


class Pipeline:
    def __init__(self, tmp_path: Path, store: StateStore, graph: Graph, *, clock: object = None) -> None:
        self.dbt = ScriptedRunner(batchable=True)
        self.notebooks = ScriptedRunner()
        self.store = store
        self.executor = Executor(
            graph,
            {"dbt": self.dbt, "notebook": self.notebooks},
            store,
            clock or SystemClock(),  # type: ignore[arg-type]
            state_dir=tmp_path,
            concurrency=2,
            defaults=Defaults(),
        )

    def run(self, *, only_changed: bool = True, logical_date: datetime = LOGICAL, **parameters: object) -> str:
        self.dbt.calls.clear()
        self.notebooks.calls.clear()
        record = self.executor.create_run(
            set(self.executor.graph.nodes), logical_date, only_changed=only_changed, parameters=parameters
        )
        self.executor.execute(record.run_id)
        return record.run_id

    def ran(self) -> set[str]:
        return set(self.dbt.nodes_run()) | set(self.notebooks.nodes_run())

    def states(self, run_id: str) -> dict[str, NodeRunRecord]:
        with self.store.read() as tx:
            return {state.node_id: state for state in tx.node_states(run_id)}

    def run_status(self, run_id: str) -> RunStatus:
        with self.store.read() as tx:
            return tx.get_run(run_id).status


def test_nothing_changed_reuses_every_node_and_says_since_when(tmp_path: Path, store: StateStore) -> None:
    pipeline = Pipeline(tmp_path, store, chain())
    first = pipeline.run(only_changed=False)
    assert pipeline.ran() == set(pipeline.executor.graph.nodes)
    second = pipeline.run()
    assert pipeline.ran() == set()
    states = pipeline.states(second)
    assert {state.status for state in states.values()} == {NodeStatus.REUSED}
    assert pipeline.run_status(second) == RunStatus.SUCCESS
    report = states["notebook.report"]
    assert report.reused_from == first and report.reason == f"code unchanged, inputs unchanged since {first}"
    assert report.result == pipeline.states(first)["notebook.report"].result == f"{first}:1"
    third = pipeline.run()
    assert pipeline.states(third)["notebook.report"].reused_from == first, "a reused result keeps its producer"


def test_a_changed_node_runs_with_everything_downstream_and_nothing_else(tmp_path: Path, store: StateStore) -> None:
    pipeline = Pipeline(tmp_path, store, chain())
    first = pipeline.run(only_changed=False)
    pipeline.dbt.code["model.staged"] = "v2"
    second = pipeline.run()
    assert pipeline.ran() == {"model.staged", "notebook.report"}
    states = pipeline.states(second)
    assert states["model.staged"].reason == f"code changed since {first}"
    assert states["notebook.report"].reason == "upstream model.staged ran"
    assert states["seed.raw"].status == states["model.other"].status == NodeStatus.REUSED
    pipeline.run()
    assert pipeline.ran() == set(), "the new results are reused by the next run"


def test_a_batch_runs_the_downstream_of_a_changed_node_in_the_same_invocation(
    tmp_path: Path, store: StateStore
) -> None:
    pipeline = Pipeline(tmp_path, store, chain())
    pipeline.run(only_changed=False)
    pipeline.dbt.code["seed.raw"] = "v2"
    second = pipeline.run()
    assert pipeline.dbt.batches[-1] == ["seed.raw", "model.other", "model.staged"]
    states = pipeline.states(second)
    assert states["model.other"].reason == "upstream seed.raw runs"
    assert pipeline.ran() == set(pipeline.executor.graph.nodes)


def test_changed_parameters_make_nodes_run(tmp_path: Path, store: StateStore) -> None:
    pipeline = Pipeline(tmp_path, store, chain())
    pipeline.run(only_changed=False, region="eu")
    second = pipeline.run(region="us")
    assert pipeline.ran() == set(pipeline.executor.graph.nodes)
    reason = pipeline.states(second)["seed.raw"].reason or ""
    assert reason.startswith("inputs changed since") and reason.endswith(": parameter region")  # the actual cause
    pipeline.run(region="us")
    assert pipeline.ran() == set()


def test_a_failed_node_is_never_reused_and_its_downstream_runs(tmp_path: Path, store: StateStore) -> None:
    pipeline = Pipeline(tmp_path, store, chain())
    good = pipeline.run(only_changed=False)
    pipeline.dbt.script["model.staged"] = ["fail"]
    failed = pipeline.run(only_changed=False)
    assert pipeline.run_status(failed) == RunStatus.FAILED
    pipeline.dbt.script["model.staged"] = ["ok"]
    pipeline.dbt.tries.clear()
    third = pipeline.run()
    assert pipeline.ran() == {"model.staged", "notebook.report"}
    assert pipeline.states(third)["model.staged"].reason == f"it failed after its last success ({good})"


def test_reuse_never_runs_the_node_and_its_downstream(tmp_path: Path, store: StateStore) -> None:
    pipeline = Pipeline(tmp_path, store, chain(reuse=ReusePolicy(allowed=False)))
    pipeline.run(only_changed=False)
    second = pipeline.run()
    assert pipeline.ran() == {"notebook.report"}
    assert pipeline.states(second)["notebook.report"].reason == "reuse: never"


def test_a_success_older_than_max_age_is_not_reused(tmp_path: Path, store: StateStore) -> None:
    clock = FakeClock(datetime(2024, 2, 1, 6, tzinfo=UTC))
    aging = Pipeline(tmp_path / "aging", store, chain(reuse=ReusePolicy(max_age=24 * 3600)), clock=clock)
    aging.run(only_changed=False)
    clock.advance(hours=23)
    aging.run()
    assert aging.ran() == set()
    clock.advance(hours=2)
    third = aging.run()
    assert aging.ran() == {"notebook.report"}
    assert "is older than max_age 24h" in aging.states(third)["notebook.report"].reason


def test_without_only_changed_everything_runs_and_records_fingerprints(tmp_path: Path, store: StateStore) -> None:
    pipeline = Pipeline(tmp_path, store, chain())
    pipeline.run(only_changed=False)
    second = pipeline.run(only_changed=False)
    assert pipeline.ran() == set(pipeline.executor.graph.nodes)
    states = pipeline.states(second)
    assert all(state.fingerprint and state.result == f"{second}:1" for state in states.values())
    assert all(state.reason is None for state in states.values())


def test_a_selection_reads_the_results_of_upstream_nodes_outside_it(tmp_path: Path, store: StateStore) -> None:
    pipeline = Pipeline(tmp_path, store, chain())
    pipeline.run(only_changed=False)
    only_report = {"notebook.report"}
    record = pipeline.executor.create_run(only_report, LOGICAL, only_changed=True)
    pipeline.executor.execute(record.run_id)
    assert pipeline.states(record.run_id)["notebook.report"].status == NodeStatus.REUSED
    staged_alone = pipeline.executor.create_run({"model.staged"}, LOGICAL, only_changed=False)
    pipeline.executor.execute(staged_alone.run_id)  # a new result of staged, which the report has not read
    record = pipeline.executor.create_run(only_report, LOGICAL, only_changed=True)
    pipeline.notebooks.calls.clear()
    pipeline.executor.execute(record.run_id)
    assert pipeline.notebooks.nodes_run() == ["notebook.report"]
    reason = pipeline.states(record.run_id)["notebook.report"].reason or ""
    assert reason.startswith("inputs changed since") and reason.endswith(": an upstream result")  # not every cause


def test_defaults_only_changed_applies_unless_a_run_says_otherwise(tmp_path: Path, store: StateStore) -> None:
    pipeline = Pipeline(tmp_path, store, chain())
    pipeline.executor.environment = pipeline.executor.environment.__class__(
        **{**pipeline.executor.environment.__dict__, "defaults": Defaults(only_changed=True)}
    )
    pipeline.run(only_changed=False)
    record = pipeline.executor.create_run(set(pipeline.executor.graph.nodes), LOGICAL + timedelta(0))
    assert record.only_changed
    with store.read() as tx:
        assert tx.get_run(record.run_id).only_changed


def test_reuse_settings_parse_never_and_max_age_and_refuse_anything_else() -> None:
    from orchestrate_ext.errors import ConfigError
    from orchestrate_ext.node_settings import NodeSettings, parse_settings

    assert parse_settings(NodeSettings, {"reuse": "never"}, "x").reuse_policy() == ReusePolicy(allowed=False)
    assert parse_settings(NodeSettings, {"reuse": {"max_age": "24h"}}, "x").reuse_policy() == ReusePolicy(
        max_age=86400.0
    )
    assert parse_settings(NodeSettings, {}, "x").reuse_policy() == ReusePolicy()
    with pytest.raises(ConfigError, match=r"notebook 'a\.ipynb' metadata.*orchestrate\.reuse"):
        parse_settings(NodeSettings, {"reuse": "sometimes"}, "notebook 'a.ipynb' metadata")


def test_a_batch_takes_no_node_whose_inputs_were_all_reused(tmp_path: Path, store: StateStore) -> None:
    graph = build_graph([node("seed.a"), node("model.b", depends_on=("seed.a",)), node("seed.c")])
    pipeline = Pipeline(tmp_path, store, graph)
    pipeline.run(only_changed=False)
    pipeline.dbt.code["seed.c"] = "v2"
    second = pipeline.run()
    assert pipeline.ran() == {"seed.c"}, "model.b reads only seed.a, which is reused"
    assert pipeline.states(second)["model.b"].status == NodeStatus.REUSED


def test_what_a_change_reruns_runs_in_one_batch_once_everything_else_is_reused(
    tmp_path: Path, store: StateStore
) -> None:
    graph = build_graph(
        [
            node("seed.a", gated_by=("test.a",)),
            node("test.a", depends_on=("seed.a",), gated=False),
            node("seed.b", gated_by=("test.b",)),
            node("test.b", depends_on=("seed.b",), gated=False),
            node("model.c", depends_on=("seed.a", "seed.b")),
        ]
    )
    pipeline = Pipeline(tmp_path, store, graph)
    pipeline.run(only_changed=False)
    pipeline.dbt.batches.clear()
    pipeline.dbt.code["seed.a"] = "v2"
    pipeline.run()
    assert pipeline.dbt.batches == [["seed.a", "test.a", "model.c"]], "test.b is reused before the batch forms"


def test_a_fingerprint_recorded_without_parts_still_matches_and_names_no_cause() -> None:
    """Fingerprints recorded before they had parts (``<code>.<inputs>``) keep being reused."""
    from orchestrate_ext.execution.reuse import changed_parts, combine
    from orchestrate_ext.interfaces import NodeFingerprint

    now = combine(NodeFingerprint("c0de", '{"top_n": 5}'), [("model.a", "r1:1")])
    old = ".".join(now.split(".")[:2])
    assert now.startswith(old + ".") and changed_parts(now, old) is None
    other = combine(NodeFingerprint("c0de", '{"top_n": 6}'), [("model.a", "r1:1")])
    assert changed_parts(other, now) == ["parameter top_n"]
    logical = combine(NodeFingerprint("c0de", '{"logical_date": "2024-02-01", "top_n": 5}'), [("model.a", "r2:1")])
    first = combine(NodeFingerprint("c0de", '{"logical_date": "2024-01-31", "top_n": 5}'), [("model.a", "r1:1")])
    assert changed_parts(logical, first) == ["the logical date", "an upstream result"]
