"""The dbt command lines a batch becomes (no dbt run: the slow tests run them)."""

from __future__ import annotations

import json
from pathlib import Path

from dbt_adapter.hooks import with_hooks
from dbt_adapter.invocation import Invocation
from dbt_adapter.nodes import nodes_from_manifest
from dbt_adapter.project import DBT_MAIN, DbtConfig, DbtProject
from dbt_adapter.runner import DbtRunner
from orchestrate_ext.graph import build_graph
from orchestrate_ext.interfaces import NodeTask, Workspace
from orchestrate_ext.launcher import WORKER_PYTHON
from orchestrate_ext.selection import select
from tests.dbt_adapter.manifests import ManifestDoc


def setup(tmp_path: Path, **config: object) -> tuple[DbtProject, ManifestDoc]:
    project_dir = tmp_path / "dbt"
    project_dir.mkdir()
    (project_dir / "dbt_project.yml").write_text("name: shop\nprofile: shop\nversion: '1.0'\n")
    (project_dir / "profiles.yml").write_text("shop:\n  target: dev\n  outputs:\n    dev: {type: duckdb}\n")
    workspace = Workspace(tmp_path, tmp_path / "orchestrate.yaml", tmp_path / ".orchestrate")
    project = DbtProject.from_config(workspace, DbtConfig.model_validate({"project_dir": "dbt", **config}), environ={})
    doc = ManifestDoc()
    doc.add("seed", "raw", path="seeds/raw.csv")
    doc.add("model", "orders", ["seed.shop.raw"])
    doc.add("model", "totals", ["model.shop.orders"], path="models/orders/totals.sql", fqn=["shop", "orders", "totals"])
    doc.add("unit_test", "u", ["model.shop.totals"], unique_id="unit_test.shop.totals.u", fqn=["shop", "totals", "u"])
    rule = {"warn_after": {"count": 1, "period": "day"}}
    doc.add("source", "a", unique_id="source.shop.raw.a", source_name="raw", freshness=rule)
    doc.add("source", "b", unique_id="source.shop.raw.b", source_name="raw", freshness=rule)
    return project, doc


def plan(project: DbtProject, doc: ManifestDoc, tmp_path: Path, ids: list[str], kind: str = "dbt") -> list[list[str]]:
    manifest = doc.read(tmp_path)
    nodes = {node.id: node for node in nodes_from_manifest(manifest, project.project_dir, tmp_path)}
    tasks = [NodeTask(nodes[node_id], 1, tmp_path / f"{node_id}.log", None) for node_id in ids]
    runner = DbtRunner(project, lambda: manifest, kind=kind)
    return [invocation.argv for invocation in runner._plan(tasks, {})]


def test_every_command_gets_the_resolved_profiles_dir_and_target_path(tmp_path: Path) -> None:
    project, _ = setup(tmp_path, vars={"country": "de"}, target="dev")
    argv = project.argv("parse", variables={"logical_date": "2024-01-31"})
    assert argv[:3] == [WORKER_PYTHON, "-c", DBT_MAIN], "dbt as the Python of the machine running it runs it"
    assert argv[3:6] == ["parse", "--project-dir", str(tmp_path / "dbt")]
    assert argv[argv.index("--profiles-dir") + 1] == str(tmp_path / "dbt")
    assert argv[argv.index("--target-path") + 1] == str(tmp_path / "dbt" / "target")
    assert argv[argv.index("--target") + 1] == "dev"
    assert json.loads(argv[argv.index("--vars") + 1]) == {"country": "de", "logical_date": "2024-01-31"}


def test_the_whole_project_is_one_build_without_a_selection(tmp_path: Path) -> None:
    project, doc = setup(tmp_path)
    everything = ["seed.shop.raw", "model.shop.orders", "model.shop.totals", "unit_test.shop.totals.u"]
    [argv] = plan(project, doc, tmp_path, everything)
    assert "build" in argv and "--select" not in argv and "--exclude" not in argv
    assert argv[argv.index("--log-level") + 1] == "info"


def test_a_unit_test_without_its_model_runs_with_dbt_test(tmp_path: Path) -> None:
    project, doc = setup(tmp_path)
    build, test = plan(project, doc, tmp_path, ["model.shop.orders", "unit_test.shop.totals.u"])
    assert build[build.index("--select") + 1 :][:1] == ["fqn:shop.orders,path:models/orders.sql"]
    assert test[3] == "test" and test[test.index("--select") + 1] == "fqn:shop.totals.u"


def test_warn_blocks_asks_dbt_to_fail_warn_tests(tmp_path: Path) -> None:
    project, doc = setup(tmp_path, warn_blocks=True)
    [argv] = plan(project, doc, tmp_path, ["model.shop.orders"])
    assert json.loads(argv[argv.index("--warn-error-options") + 1]) == {"error": ["LogTestResult"]}


def test_freshness_checks_are_one_dbt_source_freshness(tmp_path: Path) -> None:
    project, doc = setup(tmp_path)
    checks = ["freshness.source.shop.raw.a", "freshness.source.shop.raw.b"]
    [everything] = plan(project, doc, tmp_path, checks, kind="dbt_freshness")
    assert everything[3:5] == ["source", "freshness"] and "--select" not in everything
    [one] = plan(project, doc, tmp_path, checks[:1], kind="dbt_freshness")
    assert one[one.index("--select") + 1 :][:1] == ["source:shop.raw.a"]


def test_a_duckdb_lock_error_says_what_to_do() -> None:
    from dbt_adapter.outcomes import with_lock_hint, with_message

    lock = 'IO Error: Could not set lock on file "shop.duckdb": Conflicting lock is held in python3 (PID 42)'
    assert "resources: [warehouse]" in with_lock_hint(lock)
    assert with_lock_hint("Catalog Error: no table") == "Catalog Error: no table"
    assert "resources: [warehouse]" in str(with_message("error", lock, warn_blocks=False).error)


def hooked(doc: ManifestDoc) -> None:
    """Project hooks as dbt writes them into manifest.nodes (``operation``, tagged with the hook type)."""
    for kind, index in (("on-run-start", 1), ("on-run-start", 0), ("on-run-end", 0)):
        name = f"shop-{kind}-{index}"
        doc.add("operation", name, unique_id=f"operation.shop.{name}", tags=[kind], index=index)


def invocations(project: DbtProject, doc: ManifestDoc, tmp_path: Path, ids: list[str]) -> list[Invocation]:
    manifest = doc.read(tmp_path)
    nodes = nodes_from_manifest(manifest, project.project_dir, tmp_path)
    by_id = {node.id: node for node in with_hooks(nodes, manifest, project.project_dir, "dbt/dbt_project.yml")}
    tasks = [NodeTask(by_id[node_id], 1, tmp_path / f"{node_id}.log", None) for node_id in ids]
    return DbtRunner(project, lambda: manifest)._plan(tasks, {})


def test_a_project_without_hooks_runs_dbt_as_before(tmp_path: Path) -> None:
    project, doc = setup(tmp_path)
    [build] = invocations(project, doc, tmp_path, ["model.shop.orders"])
    assert build.hooks is None, "no hook filter: the process is exactly what it was"


def test_hooks_go_with_the_first_and_last_invocation_of_their_batch_and_no_other(tmp_path: Path) -> None:
    project, doc = setup(tmp_path)
    hooked(doc)
    start0, start1, end = (
        "operation.shop.shop-on-run-start-0",
        "operation.shop.shop-on-run-start-1",
        "operation.shop.shop-on-run-end-0",
    )
    build, test = invocations(
        project, doc, tmp_path, [start0, start1, "model.shop.orders", "unit_test.shop.totals.u", end]
    )
    assert (build.hooks, [task.node.id for task in build.tasks][:2]) == ("on-run-start", [start0, start1])
    assert (test.hooks, test.tasks[-1].node.id) == ("on-run-end", end)
    [middle] = invocations(project, doc, tmp_path, ["model.shop.totals"])
    assert middle.hooks == "", "a batch without hook nodes runs no hook"
    [both] = invocations(project, doc, tmp_path, [start0, start1, "model.shop.orders", end])
    assert both.hooks == "on-run-end,on-run-start"
    [alone] = invocations(project, doc, tmp_path, [end])
    assert alone.hooks == "hooks-only,on-run-end" and "--select" not in alone.argv
    assert "build" in alone.argv


def test_hook_nodes_order_dbt_nodes_without_blocking_them(tmp_path: Path) -> None:
    project, doc = setup(tmp_path)
    hooked(doc)
    manifest = doc.read(tmp_path)
    nodes = with_hooks(nodes_from_manifest(manifest, project.project_dir, tmp_path), manifest, project.project_dir, "p")
    graph = build_graph(nodes)
    start0, start1, end = (
        "operation.shop.shop-on-run-start-0",
        "operation.shop.shop-on-run-start-1",
        "operation.shop.shop-on-run-end-0",
    )
    assert graph.parents[start1] == (start0,), "dbt's order: by index"
    assert start1 in graph.parents["model.shop.orders"]
    assert not graph.nodes[start1].failure_blocks, "dbt runs the nodes after a failed on-run-start"
    assert graph.nodes[start0].failure_blocks, "dbt skips the hooks after a failed one"
    assert graph.nodes[end].runs_after_failures
    assert {"model.shop.orders", "model.shop.totals", "unit_test.shop.totals.u"} <= set(graph.parents[end])
    assert "freshness.source.shop.raw.a" not in graph.parents[end], "dbt build does not check freshness"
    assert select(graph, "orders") == {"model.shop.orders", start0, start1, end}, "hooks come with any dbt node"
    assert select(graph, "kind:dbt_freshness") & {start0, end} == set()
