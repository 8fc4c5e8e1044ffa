from __future__ import annotations

import pytest

from orchestrate_ext.errors import ConfigError, CycleError, NodeNotFound
from orchestrate_ext.graph import build_graph
from orchestrate_ext.model import Node


def node(node_id: str, **fields: object) -> Node:
    kind = str(fields.pop("kind", "dbt"))
    name = str(fields.pop("name", node_id.split(".")[-1]))
    return Node(id=node_id, kind=kind, resource_type=str(fields.pop("resource_type", "model")), name=name, **fields)  # type: ignore[arg-type]


def test_references_resolve_by_id_name_and_alias() -> None:
    graph = build_graph(
        [
            node("model.shop.orders"),
            node("source.shop.raw.orders", kind="source", name="raw.orders", runnable=False),
            node(
                "notebook.reports/daily",
                kind="notebook",
                name="reports/daily",
                aliases=("reports/daily.ipynb",),
                depends_on=("orders",),
            ),
            node("notebook.reports/weekly", kind="notebook", depends_on=("reports/daily.ipynb", "model.shop.orders")),
        ]
    )
    assert graph.parents["notebook.reports/daily"] == ("model.shop.orders",)
    assert graph.parents["notebook.reports/weekly"] == ("model.shop.orders", "notebook.reports/daily")
    assert graph.order.index("model.shop.orders") < graph.order.index("notebook.reports/daily")


def test_unknown_reference_names_the_notebook_and_the_closest_match() -> None:
    with pytest.raises(NodeNotFound) as caught:
        build_graph(
            [
                node("model.shop.orders"),
                node("notebook.reports/daily", kind="notebook", path="reports/daily.ipynb", depends_on=("ordrs",)),
            ]
        )
    message = str(caught.value)
    assert "notebook 'reports/daily.ipynb' depends on 'ordrs'" in message
    assert "did you mean 'orders'?" in message


def test_ambiguous_reference_asks_for_the_full_id() -> None:
    with pytest.raises(NodeNotFound, match=r"matches several nodes .*model.a.orders, model.b.orders.*full id"):
        build_graph([node("model.a.orders"), node("model.b.orders"), node("model.a.x", depends_on=("orders",))])


def test_cycle_is_reported_with_its_nodes() -> None:
    with pytest.raises(CycleError) as caught:
        build_graph(
            [
                node("model.p.a", depends_on=("c",)),
                node("model.p.b", depends_on=("a",)),
                node("model.p.c", depends_on=("b",)),
                node("model.p.d"),
            ]
        )
    cycle = caught.value.cycle
    assert cycle[0] == cycle[-1]
    assert set(cycle) == {"model.p.a", "model.p.b", "model.p.c"}
    assert " -> ".join(cycle) in str(caught.value)


def test_duplicate_ids_are_rejected_with_both_paths() -> None:
    with pytest.raises(ConfigError, match=r"a\.sql and b\.sql"):
        build_graph([node("model.p.a", path="a.sql"), node("model.p.a", path="b.sql")])


def test_produced_source_makes_its_readers_wait_for_the_producer() -> None:
    graph = build_graph(
        [
            node("notebook.ingest", kind="notebook", produces=("raw.orders",)),
            node("source.p.raw.orders", kind="source", name="raw.orders", runnable=False),
            node("model.p.stg", depends_on=("source.p.raw.orders",)),
        ]
    )
    assert graph.parents["source.p.raw.orders"] == ("notebook.ingest",)
    everything = set(graph.nodes)
    assert graph.runnable_parents("model.p.stg", everything) == {"notebook.ingest"}


def test_gates_make_dependants_wait_for_a_models_tests_but_not_each_other() -> None:
    graph = build_graph(
        [
            node("model.p.a", gated_by=("test.p.t1", "test.p.t2")),
            node("test.p.t1", resource_type="test", depends_on=("model.p.a",)),
            node("test.p.t2", resource_type="test", depends_on=("model.p.a",)),
            node("model.p.b", depends_on=("model.p.a",)),
        ]
    )
    assert graph.parents["model.p.b"] == ("model.p.a", "test.p.t1", "test.p.t2")
    assert graph.parents["test.p.t1"] == ("model.p.a",)
    json_node = next(item for item in graph.to_json()["nodes"] if item["id"] == "model.p.b")
    assert json_node["depends_on"] == ["model.p.a"]
    assert json_node["waits_for"] == ["test.p.t1", "test.p.t2"]


@pytest.mark.parametrize("seed", range(30))
def test_the_order_is_graphlibs(seed: int) -> None:
    """The order worked out on plain dicts is the one graphlib's sorter gives on the sorted graph."""
    import graphlib
    import random

    from orchestrate_ext.graph import _topological_order

    chance = random.Random(seed)
    names = list(dict.fromkeys(f"n{chance.randint(0, 999)}" for _ in range(chance.randint(1, 60))))
    chance.shuffle(names)
    parents = {name: set(chance.sample(names[:i], k=min(i, chance.randint(0, 3)))) for i, name in enumerate(names)}
    expected = graphlib.TopologicalSorter({key: sorted(deps) for key, deps in sorted(parents.items())}).static_order()
    assert _topological_order(parents) == tuple(expected)
