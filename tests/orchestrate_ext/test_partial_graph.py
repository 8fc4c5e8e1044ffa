"""The graph that keeps the rest of the project usable while one node is broken."""

from __future__ import annotations

import pytest

from orchestrate_ext.errors import ConfigError
from orchestrate_ext.partial_graph import build_partial_graph
from tests.orchestrate_ext.test_graph import node


def _shop() -> list:  # type: ignore[type-arg]
    return [
        node("model.shop.orders"),
        node("model.shop.daily_revenue", depends_on=("orders",), gated_by=("test.shop.revenue_positive",)),
        node("test.shop.revenue_positive", resource_type="test", depends_on=("daily_revenue",)),
        node("notebook.reports/daily", kind="notebook", path="reports/daily.ipynb", depends_on=("daily_revnue",)),
        node("notebook.reports/weekly", kind="notebook", path="reports/weekly.ipynb", depends_on=("reports/daily",)),
        node("notebook.reports/other", kind="notebook", path="reports/other.ipynb", depends_on=("orders",)),
    ]


def test_a_typo_breaks_its_node_and_blocks_what_is_downstream_only() -> None:
    partial = build_partial_graph(_shop())
    assert set(partial.graph.nodes) == {item.id for item in _shop()}
    assert partial.broken == {
        "notebook.reports/daily": "notebook 'reports/daily.ipynb' depends on 'daily_revnue', which is no dbt node, "
        "source or notebook; did you mean 'daily_revenue'?"
    }
    assert partial.graph.parents["notebook.reports/daily"] == ()
    assert partial.blocked() == {"notebook.reports/weekly": "notebook.reports/daily"}
    runnable = partial.runnable()
    assert set(runnable.nodes) == {
        "model.shop.orders",
        "model.shop.daily_revenue",
        "test.shop.revenue_positive",
        "notebook.reports/other",
    }
    assert runnable.parents["notebook.reports/other"] == ("model.shop.orders",)
    assert runnable.order.index("model.shop.orders") < runnable.order.index("notebook.reports/other")


def test_a_healthy_project_is_the_same_graph_as_build_graph() -> None:
    from orchestrate_ext.graph import build_graph

    nodes = [item for item in _shop() if item.id != "notebook.reports/daily"]
    nodes = [item for item in nodes if item.id != "notebook.reports/weekly"]
    partial = build_partial_graph(nodes)
    assert partial.broken == {}
    assert partial.runnable() == build_graph(nodes)


def test_waits_for_and_ungated_nodes_are_as_in_build_graph() -> None:
    from orchestrate_ext.graph import build_graph

    nodes = [
        node("model.shop.a", gated_by=("test.shop.on_a",)),
        node("model.shop.b"),
        node("test.shop.on_a", resource_type="test", depends_on=("a",), gated=False),
        node("test.shop.a_b", resource_type="test", depends_on=("a", "b"), gated=False),
        node("model.shop.c", depends_on=("a", "b"), waits_for=("test.shop.a_b",)),
        node("exposure.shop.d", resource_type="exposure", depends_on=("a",), gated=False),
    ]
    partial = build_partial_graph(nodes)
    assert partial.broken == {}
    assert partial.runnable() == build_graph(nodes)
    assert set(partial.graph.parents["model.shop.c"]) == {
        "model.shop.a",
        "model.shop.b",
        "test.shop.a_b",
        "test.shop.on_a",
    }
    assert partial.graph.parents["exposure.shop.d"] == ("model.shop.a",)
    broken = build_partial_graph([*nodes[:4], node("model.shop.c", waits_for=("test.shop.nope",))])
    assert "waits for 'test.shop.nope'" in broken.broken["model.shop.c"]


def test_a_cycle_breaks_every_node_on_it_and_the_order_still_exists() -> None:
    partial = build_partial_graph(
        [
            node("model.p.base"),
            node("notebook.a", kind="notebook", path="a.ipynb", depends_on=("notebook.b", "base")),
            node("notebook.b", kind="notebook", path="b.ipynb", depends_on=("notebook.a",)),
            node("notebook.c", kind="notebook", path="c.ipynb", depends_on=("base",)),
        ]
    )
    assert set(partial.broken) == {"notebook.a", "notebook.b"}
    assert all("the dependency graph has a cycle" in message for message in partial.broken.values())
    assert len(partial.graph.order) == 4
    assert set(partial.runnable().nodes) == {"model.p.base", "notebook.c"}


def test_problems_a_plugin_reports_break_the_node_too() -> None:
    partial = build_partial_graph(
        [node("model.p.base"), node("notebook.a", kind="notebook", depends_on=("base",))],
        {"notebook.a": "notebook 'a.ipynb' metadata: key 'orchestrate.retries': must be a whole number"},
    )
    assert partial.broken == {
        "notebook.a": "notebook 'a.ipynb' metadata: key 'orchestrate.retries': must be a whole number"
    }
    assert set(partial.runnable().nodes) == {"model.p.base"}


def test_duplicate_ids_still_raise() -> None:
    with pytest.raises(ConfigError, match="two nodes have the id"):
        build_partial_graph([node("model.p.a"), node("model.p.a")])


def test_left_out_names_broken_and_blocked_nodes_of_the_selection_with_their_reasons() -> None:
    partial = build_partial_graph(_shop())
    chosen = {"notebook.reports/daily", "notebook.reports/weekly", "model.shop.orders"}
    assert partial.left_out(chosen) == {
        "notebook.reports/daily": partial.broken["notebook.reports/daily"],
        "notebook.reports/weekly": "it waits for notebook.reports/daily, which is broken",
    }
    assert partial.left_out({"model.shop.orders"}) == {}


def test_a_plugin_that_gave_no_nodes_is_named_in_the_references_into_it() -> None:
    notebooks = [item for item in _shop() if item.kind == "notebook"]
    alone = node("notebook.reports/alone", kind="notebook", path="reports/alone.ipynb")
    partial = build_partial_graph([*notebooks, alone], unloaded={"dbt": "`dbt parse` failed: syntax error"})
    assert partial.unloaded == {"dbt": "`dbt parse` failed: syntax error"}
    other = partial.broken["notebook.reports/other"]
    assert "depends on 'orders'" in other
    assert other.endswith("(nothing of `dbt:` could be loaded: `dbt parse` failed: syntax error)")
    assert set(partial.runnable().nodes) == {"notebook.reports/alone"}


def test_a_node_that_runs_after_failures_is_not_left_out_with_a_broken_parent() -> None:
    partial = build_partial_graph(
        [
            node("op.start", failure_blocks=False),
            node("notebook.typo", kind="notebook", depends_on=("ordrs",), waits_for=("op.start",)),
            node("model.p.after", depends_on=("notebook.typo",), waits_for=("op.start",)),
            node("model.p.fine", waits_for=("op.start",)),
            node("op.end", waits_for=("model.p.after", "model.p.fine"), runs_after_failures=True),
        ]
    )
    assert partial.blocked() == {"model.p.after": "notebook.typo"}
    runnable = partial.runnable()
    assert set(runnable.nodes) == {"op.start", "model.p.fine", "op.end"}
    assert runnable.parents["op.end"] == ("model.p.fine",), "it waits for what still runs"
