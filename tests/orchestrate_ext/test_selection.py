from __future__ import annotations

import pytest

from orchestrate_ext.errors import SelectorError
from orchestrate_ext.graph import Graph, build_graph
from orchestrate_ext.selection import select
from tests.orchestrate_ext.test_graph import node


@pytest.fixture
def graph() -> Graph:
    return build_graph(
        [
            node("seed.p.customers", resource_type="seed", path="dbt/seeds/customers.csv"),
            node("model.p.stg", path="dbt/models/staging/stg.sql", depends_on=("customers",)),
            node("model.p.mart", path="dbt/models/marts/mart.sql", depends_on=("stg",), tags=frozenset({"finance"})),
            node("notebook.nb/report", kind="notebook", name="nb/report", path="nb/report.ipynb", depends_on=("mart",)),
            node("model.p.other", path="dbt/models/other.sql"),
        ]
    )


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("stg", {"model.p.stg"}),
        ("model.p.stg", {"model.p.stg"}),
        ("+stg", {"model.p.stg", "seed.p.customers"}),
        ("stg+", {"model.p.stg", "model.p.mart", "notebook.nb/report"}),
        ("+mart+", {"seed.p.customers", "model.p.stg", "model.p.mart", "notebook.nb/report"}),
        ("tag:finance", {"model.p.mart"}),
        ("path:models/staging", {"model.p.stg"}),
        ("path:dbt/models", {"model.p.stg", "model.p.mart", "model.p.other"}),
        ("kind:notebook", {"notebook.nb/report"}),
        ("stg other", {"model.p.stg", "model.p.other"}),
        ("st*", {"model.p.stg"}),
    ],
)
def test_selectors(graph: Graph, expression: str, expected: set[str]) -> None:
    assert select(graph, expression) == expected


def test_empty_selection_is_everything(graph: Graph) -> None:
    assert select(graph, None) == set(graph.nodes)
    assert select(graph, "  ") == set(graph.nodes)


def test_path_matches_whole_folders_only(graph: Graph) -> None:
    with pytest.raises(SelectorError, match="no node lives under 'models/stag'"):
        select(graph, "path:models/stag")


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("mrt", "no node is called 'mrt'; did you mean 'mart'?"),
        ("tag:finanse", "no node has the tag 'finanse'; did you mean 'finance'?"),
        ("kind:python", "no node of kind 'python'"),
        ("colour:red", "unknown method 'colour'"),
        ("+", "names nothing"),
    ],
)
def test_bad_selectors_say_what_is_wrong(graph: Graph, expression: str, message: str) -> None:
    with pytest.raises(SelectorError, match=message.replace("(", r"\(").replace("?", r"\?")):
        select(graph, expression)
