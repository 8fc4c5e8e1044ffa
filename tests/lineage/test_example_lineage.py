"""The example project run for real with lineage on, against a loopback OpenLineage collector."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import duckdb
import pytest

from orchestrate_ext.lineage.facts import run_uuid
from tests.conftest import copy_example, run_cli
from tests.lineage.collector import Collector
from tests.lineage.spec import SPEC_DIR_ENV, spec_dir, validator

pytestmark = pytest.mark.slow

NODES = 38  # 2 seeds, 5 models, 1 snapshot, 28 tests, 2 notebooks


def _with_lineage(project: Path, url: str) -> None:
    with (project / "orchestrate.yaml").open("a") as config:
        config.write(f"lineage:\n  namespace: shop-ns\n  transport:\n    type: http\n    url: {url}\n    timeout: 2s\n")


def _relations(project: Path) -> set[str]:
    with duckdb.connect(str(project / "shop.duckdb"), read_only=True) as connection:
        rows = connection.execute("SELECT table_catalog, table_schema, table_name FROM information_schema.tables")
        return {".".join(row) for row in rows.fetchall()}


def _deliver(project: Path) -> None:
    result = run_cli("lineage", "deliver", "--timeout", "30", cwd=project)
    assert result.returncode == 0, result.stderr + result.stdout


@pytest.fixture(scope="module")
def lineage_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any], list[dict[str, Any]]]:
    project = copy_example(tmp_path_factory.mktemp("lineage") / "shop")
    with Collector() as collector:
        _with_lineage(project, collector.url)
        result = run_cli("run", "--json", "--logical-date", "2024-01-31", cwd=project)
        assert result.returncode == 0, result.stderr
        _deliver(project)  # what the run's last moments left in the outbox (usually nothing)
        return project, json.loads(result.stdout), collector.received()


def test_one_start_and_one_terminal_event_per_node_linked_to_the_run(
    lineage_run: tuple[Path, dict[str, Any], list[dict[str, Any]]],
) -> None:
    _, document, events = lineage_run
    pairs = Counter((event["job"]["name"], event["eventType"]) for event in events)
    node_ids = {node["id"] for node in document["nodes"]}
    assert len(node_ids) == NODES
    expected = {("shop", "START"): 1, ("shop", "COMPLETE"): 1}
    for node_id in node_ids:
        expected[(f"shop.{node_id}", "START")] = 1
        expected[(f"shop.{node_id}", "COMPLETE")] = 1
    assert dict(pairs) == expected
    parent = run_uuid(document["run_id"])
    for event in events:
        assert event["job"]["namespace"] == "shop-ns"
        if event["job"]["name"] == "shop":
            assert event["run"]["runId"] == parent
            continue
        facet = event["run"]["facets"]["parent"]
        assert facet["run"]["runId"] == parent
        assert (facet["job"]["namespace"], facet["job"]["name"]) == ("shop-ns", "shop")
        assert event["run"]["facets"]["nominalTime"]["nominalStartTime"].startswith("2024-01-31")


def test_dataset_names_match_the_warehouse_relations(
    lineage_run: tuple[Path, dict[str, Any], list[dict[str, Any]]],
) -> None:
    project, _, events = lineage_run
    relations = _relations(project)
    namespace = f"duckdb://{(project / 'shop.duckdb').resolve()}"
    by_job = {event["job"]["name"]: event for event in events if event["eventType"] == "COMPLETE"}
    named = [dataset for event in events for dataset in [*event["inputs"], *event["outputs"]]]
    assert named
    for dataset in named:
        assert dataset["namespace"] == namespace
        assert dataset["name"] in relations, f"{dataset['name']} is no relation of {sorted(relations)}"
    outputs = {name: [d["name"] for d in event["outputs"]] for name, event in by_job.items()}
    assert outputs["shop.model.shop.daily_revenue"] == ["shop.main.daily_revenue"]
    assert outputs["shop.notebook.notebooks/ingest_orders"] == ["shop.main.orders"]
    report = by_job["shop.notebook.notebooks/daily_report"]
    assert "shop.main.daily_revenue" in [d["name"] for d in report["inputs"]]
    model = by_job["shop.model.shop.daily_revenue"]
    location = model["job"]["facets"]["sourceCodeLocation"]
    assert location["url"].startswith("file://") and location["url"].endswith("daily_revenue.sql")


def test_the_graph_names_datasets_as_the_events_do(
    lineage_run: tuple[Path, dict[str, Any], list[dict[str, Any]]],
) -> None:
    project, _, events = lineage_run
    result = run_cli("graph", "--format", "json", cwd=project)
    assert result.returncode == 0, result.stderr
    graph = {node["id"]: node["datasets"] for node in json.loads(result.stdout)["nodes"]}
    for event in events:
        if event["job"]["name"] == "shop" or event["eventType"] != "START":
            continue
        node_id = event["job"]["name"].removeprefix("shop.")
        for side in ("inputs", "outputs"):
            named = [{"namespace": d["namespace"], "name": d["name"]} for d in event[side]]
            assert named == graph[node_id][side], node_id


def test_every_event_validates_against_the_openlineage_schema(
    lineage_run: tuple[Path, dict[str, Any], list[dict[str, Any]]],
) -> None:
    folder = spec_dir()
    if folder is None:
        pytest.skip(f"set {SPEC_DIR_ENV} to a checkout of OpenLineage's spec/ folder (no PyPI package ships it)")
    validate = validator(folder)
    _, _, events = lineage_run
    for event in events:
        assert event["schemaURL"].startswith("https://openlineage.io/spec/2-0-2/OpenLineage.json")
        validate(event)


def test_collector_down_then_back(tmp_path: Path) -> None:
    """With the collector down the run succeeds and its events wait in the outbox; they arrive, once each,
    when the collector is back."""
    project = copy_example(tmp_path / "shop")
    with Collector() as probe:
        port = probe.port  # free, and closed again: nothing listens there during the run
    _with_lineage(project, f"http://127.0.0.1:{port}")
    result = run_cli("run", "--json", cwd=project)
    assert result.returncode == 0, result.stderr
    status = run_cli("lineage", "status", cwd=project)
    assert f"pending: {2 * NODES + 2}" in status.stdout, status.stdout
    with Collector(port) as collector:
        _deliver(project)
        events = collector.received()
    assert len(events) == 2 * NODES + 2
    assert len({(event["run"]["runId"], event["eventType"]) for event in events}) == len(events)
    assert "sent: 78" in run_cli("lineage", "status", cwd=project).stdout
