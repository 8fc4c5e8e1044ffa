"""Every resource type of a manifest as graph nodes, waiting for what `dbt build` makes it wait for."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dbt_adapter.nodes import nodes_from_manifest
from orchestrate_ext.graph import Graph, build_graph
from orchestrate_ext.model import Node
from tests.dbt_adapter.manifests import ManifestDoc


def graph_of(doc: ManifestDoc, folder: Path, extra: list[Node] | None = None) -> Graph:
    manifest = doc.read(folder)
    return build_graph([*nodes_from_manifest(manifest, folder / "dbt", folder), *(extra or [])])


def kitchen(doc: ManifestDoc) -> None:
    doc.add("seed", "raw", path="seeds/raw.csv")
    doc.add("source", "events", unique_id="source.shop.raw.events", path="models/sources.yml")
    doc.add("model", "orders", ["seed.shop.raw"])
    doc.add("model", "customers", ["source.shop.raw.events"], config={"meta": {"owner": "ana@example.com"}})
    doc.add("model", "eph", ["model.shop.orders"], config={"materialized": "ephemeral"})
    doc.add("model", "wide", ["model.shop.eph", "model.shop.customers"])
    doc.add("snapshot", "snap", ["model.shop.orders"], path="snapshots/snap.sql")
    doc.add("analysis", "explore", ["model.shop.orders"], path="analyses/explore.sql")
    doc.add("unit_test", "wide_ok", ["model.shop.wide"], unique_id="unit_test.shop.wide.wide_ok", path="models/s.yml")
    doc.add("semantic_model", "orders_sm", ["model.shop.orders"], path="models/s.yml")
    doc.add("metric", "revenue", ["semantic_model.shop.orders_sm"], path="models/s.yml")
    doc.add("saved_query", "by_day", ["metric.shop.revenue"], path="models/s.yml", exports=[{"name": "by_day_x"}])
    doc.add("exposure", "dash", ["model.shop.wide"], path="models/s.yml", owner={"name": "Bo", "email": "bo@x.org"})
    doc.test("unique_orders_id", "model.shop.orders", attached_node="model.shop.orders")
    doc.test("not_null_customers", "model.shop.customers", attached_node="model.shop.customers")
    doc.test("rel_wide", "model.shop.customers", "model.shop.orders", attached_node="model.shop.orders")


def test_every_resource_type_is_a_node(tmp_path: Path) -> None:
    doc = ManifestDoc()
    kitchen(doc)
    graph = graph_of(doc, tmp_path)
    runnable = {node.resource_type for node in graph.nodes.values() if node.runnable}
    shown = {node.resource_type for node in graph.nodes.values() if not node.runnable}
    assert runnable == {"seed", "model", "snapshot", "test", "unit_test", "saved_query", "exposure"}
    assert shown == {"source", "model", "analysis", "semantic_model", "metric"}
    assert not graph.nodes["model.shop.eph"].runnable
    exports = [{"name": "by_day_x", "export_as": None, "schema": None, "alias": None}]
    assert graph.nodes["saved_query.shop.by_day"].settings["details"] == {"exports": exports}
    assert graph.nodes["exposure.shop.dash"].owner == "bo@x.org"
    assert graph.nodes["source.shop.raw.events"].kind == "source"
    assert graph.nodes["model.shop.orders"].path == "dbt/models/orders.sql"


def test_a_unit_test_runs_before_its_model_after_what_the_model_waits_for(tmp_path: Path) -> None:
    doc = ManifestDoc()
    kitchen(doc)
    graph = graph_of(doc, tmp_path)
    unit = "unit_test.shop.wide.wide_ok"
    assert unit in graph.parents["model.shop.wide"]
    assert set(graph.declared[unit]) == {"model.shop.eph", "model.shop.customers"}
    waits = graph.ancestors([unit])
    assert {"test.shop.unique_orders_id", "test.shop.not_null_customers", "test.shop.rel_wide"} <= waits


def test_saved_queries_and_exposures_do_not_wait_for_tests(tmp_path: Path) -> None:
    doc = ManifestDoc()
    kitchen(doc)
    doc.add("exposure", "direct", ["model.shop.orders"], path="models/s.yml")
    graph = graph_of(doc, tmp_path)
    for node_id in ("saved_query.shop.by_day", "exposure.shop.direct"):
        tests = {other for other in graph.ancestors([node_id]) if other.startswith("test.")}
        assert tests == set(), node_id
    assert "test.shop.unique_orders_id" in graph.ancestors(["model.shop.wide"])


def test_tests_do_not_wait_for_other_tests(tmp_path: Path) -> None:
    doc = ManifestDoc()
    kitchen(doc)
    graph = graph_of(doc, tmp_path)
    assert set(graph.parents["test.shop.rel_wide"]) == {"model.shop.customers", "model.shop.orders"}


def test_a_notebook_reading_a_model_waits_for_its_tests(tmp_path: Path) -> None:
    doc = ManifestDoc()
    kitchen(doc)
    notebook = Node(
        id="notebook.report", kind="notebook", resource_type="notebook", name="report", depends_on=("orders",)
    )
    graph = graph_of(doc, tmp_path, [notebook])
    assert "test.shop.unique_orders_id" in graph.parents["notebook.report"]


def test_tests_inherit_owner_tags_and_routes_unless_they_have_their_own(tmp_path: Path) -> None:
    doc = ManifestDoc()
    routes = [{"on": ["failure"], "email": ["orders-team@example.com"]}]
    doc.add(
        "model", "orders", tags=["finance"], config={"meta": {"owner": "ana@x.org", "orchestrate": {"alerts": routes}}}
    )
    doc.test("plain", "model.shop.orders", attached_node="model.shop.orders")
    doc.test(
        "own",
        "model.shop.orders",
        attached_node="model.shop.orders",
        tags=["dq"],
        meta={"owner": "qa@x.org", "orchestrate": {"alerts": [{"on": ["failure"], "email": ["qa@x.org"]}]}},
    )
    doc.add("unit_test", "u", ["model.shop.orders"], unique_id="unit_test.shop.orders.u", path="models/s.yml")
    graph = graph_of(doc, tmp_path)
    for inheriting in ("test.shop.plain", "unit_test.shop.orders.u"):
        node = graph.nodes[inheriting]
        assert (node.owner, node.tags, node.settings["alerts"]) == ("ana@x.org", frozenset({"finance"}), routes)
    own = graph.nodes["test.shop.own"]
    assert (own.owner, own.tags, own.settings["alerts"][0]["email"]) == ("qa@x.org", frozenset({"dq"}), ["qa@x.org"])


def test_a_source_with_freshness_gets_a_check_that_gates_its_readers(tmp_path: Path) -> None:
    doc = ManifestDoc()
    rule = {"warn_after": {"count": 12, "period": "hour"}, "error_after": {"count": None, "period": None}}
    doc.add("source", "orders", unique_id="source.shop.raw.orders", path="models/sources.yml", freshness=rule)
    doc.add("source", "plain", unique_id="source.shop.raw.plain", path="models/sources.yml", freshness=None)
    doc.add("model", "stg", ["source.shop.raw.orders"])
    notebook = Node(
        id="notebook.nb", kind="notebook", resource_type="notebook", name="nb", depends_on=("source:raw.orders",)
    )
    graph = graph_of(doc, tmp_path, [notebook])
    check = "freshness.source.shop.raw.orders"
    assert graph.nodes[check].kind == "dbt_freshness" and graph.nodes[check].runnable
    assert graph.nodes[check].settings["freshness"] == "warn after 12 hour"
    assert "freshness.source.shop.raw.plain" not in graph.nodes
    assert check in graph.parents["model.shop.stg"] and check in graph.parents["notebook.nb"]


def _linker_test_ancestors(models: list[list[int]], tests: list[tuple[int, ...]]) -> dict[str, set[str]]:
    """The tests upstream of each node in dbt-core's own build graph (Linker.add_test_edges)."""
    import networkx as nx
    from dbt.compilation import Linker

    graph: Any = nx.DiGraph()
    nodes: dict[str, Any] = {}
    children: dict[str, list[str]] = {}
    for number, parents in enumerate(models):
        model = f"model.p.m{number}"
        deps = [f"model.p.m{p}" for p in parents]
        nodes[model] = SimpleNamespace(resource_type="model", depends_on_nodes=deps)
        graph.add_node(model)
        for dep in deps:
            graph.add_edge(dep, model)
            children.setdefault(dep, []).append(model)
    for number, parents in enumerate(tests):
        test = f"test.p.t{number}"
        deps = sorted({f"model.p.m{p}" for p in parents})
        nodes[test] = SimpleNamespace(resource_type="test", depends_on_nodes=deps)
        graph.add_node(test)
        for dep in deps:
            graph.add_edge(dep, test)
            children.setdefault(dep, []).append(test)
    linker = Linker()
    linker.graph = graph
    linker.add_test_edges_1(SimpleNamespace(nodes=nodes, child_map=children))
    return {node: {a for a in nx.ancestors(linker.graph, node) if a.startswith("test.")} for node in nodes}


@st.composite
def projects(draw: Any) -> tuple[list[list[int]], list[tuple[int, ...]]]:
    count = draw(st.integers(min_value=2, max_value=9))
    models = [
        sorted(draw(st.sets(st.integers(min_value=0, max_value=number - 1), max_size=3))) if number else []
        for number in range(count)
    ]
    tests = draw(
        st.lists(
            st.sets(st.integers(min_value=0, max_value=count - 1), min_size=1, max_size=3).map(tuple),
            max_size=6,
        )
    )
    return models, tests


@pytest.mark.slow  # imports dbt-core's compiler (seconds), and draws many graphs
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(project=projects())
def test_nodes_wait_for_exactly_the_tests_dbt_build_makes_them_wait_for(
    tmp_path: Path, project: tuple[list[list[int]], list[tuple[int, ...]]]
) -> None:
    models, tests = project
    doc = ManifestDoc(project="p")
    for number, parents in enumerate(models):
        doc.add("model", f"m{number}", [f"model.p.m{p}" for p in parents])
    for number, parents in enumerate(tests):
        doc.test(f"t{number}", *sorted({f"model.p.m{p}" for p in parents}))
    graph = graph_of(doc, tmp_path)
    expected = _linker_test_ancestors(models, tests)
    ours = {node: {a for a in graph.ancestors([node]) if a.startswith("test.")} for node in expected}
    assert ours == expected


def test_invalid_orchestrate_meta_breaks_only_its_node_when_discovery_is_tolerant(tmp_path: Path) -> None:
    from orchestrate_ext.errors import ConfigError
    from orchestrate_ext.partial_graph import build_partial_graph

    doc = ManifestDoc()
    doc.add("model", "orders")
    doc.add("model", "wide", ["model.shop.orders"], config={"meta": {"orchestrate": {"retries": "many"}}})
    doc.add("model", "after_wide", ["model.shop.wide"])
    manifest = doc.read(tmp_path)
    with pytest.raises(ConfigError, match=r"model\.shop\.wide"):
        nodes_from_manifest(manifest, tmp_path / "dbt", tmp_path)
    problems: dict[str, str] = {}
    nodes = nodes_from_manifest(manifest, tmp_path / "dbt", tmp_path, problems=problems)
    assert set(problems) == {"model.shop.wide"} and "retries" in problems["model.shop.wide"]
    partial = build_partial_graph(nodes, problems)
    assert set(partial.left_out(partial.graph.nodes)) == {"model.shop.wide", "model.shop.after_wide"}
    assert "model.shop.orders" in partial.runnable().nodes
