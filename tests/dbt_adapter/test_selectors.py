"""Selectors that pick exactly a batch, checked against dbt-core's own fqn matching."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dbt_adapter.manifest import ManifestNode
from dbt_adapter.selectors import Arguments, SelectorIndex


def node(unique_id: str, fqn: tuple[str, ...], path: str, resource_type: str = "model", **extra: Any) -> ManifestNode:
    return ManifestNode(
        unique_id=unique_id,
        resource_type=resource_type,
        name=fqn[-1],
        package_name=fqn[0],
        original_file_path=path,
        fqn=fqn,
        depends_on=(),
        tags=(),
        meta={},
        **extra,
    )


FOLDER_LIKE_A_MODEL = {
    "model.shop.orders": node("model.shop.orders", ("shop", "orders"), "models/orders.sql"),
    "model.shop.order_totals": node(
        "model.shop.order_totals", ("shop", "orders", "order_totals"), "models/orders/order_totals.sql"
    ),
    "unit_test.shop.orders.checks": node(
        "unit_test.shop.orders.checks", ("shop", "orders", "checks"), "models/schema.yml", "unit_test"
    ),
    "model.shop.stg_a": node("model.shop.stg_a", ("shop", "staging", "stg_a"), "models/staging/stg_a.sql"),
    "model.shop.stg_b": node("model.shop.stg_b", ("shop", "staging", "stg_b"), "models/staging/stg_b.sql"),
    "test.shop.not_null_stg_a": node(
        "test.shop.not_null_stg_a", ("shop", "staging", "not_null_stg_a"), "models/staging/schema.yml", "test"
    ),
}


def dbt_matches(nodes: dict[str, ManifestNode], term: str) -> set[str]:
    """What dbt-core selects with ``term`` among ``nodes`` (fqn through dbt's own matcher)."""
    from dbt.graph.selector_methods import QualifiedNameSelectorMethod

    found = set(nodes)
    for part in term.split(","):
        method, _, value = part.partition(":")
        if method == "fqn":
            found = {
                uid
                for uid in found
                if QualifiedNameSelectorMethod.node_is_match(
                    None, value, list(nodes[uid].fqn), nodes[uid].version is not None
                )  # type: ignore[arg-type]
            }
        elif method == "resource_type":
            found = {uid for uid in found if nodes[uid].resource_type == value}
        elif method == "path":
            found = {uid for uid in found if nodes[uid].original_file_path == value}
        elif method == "package":
            found = {uid for uid in found if nodes[uid].package_name == value}
        else:
            raise AssertionError(f"unexpected term {term}")
    return found


@pytest.mark.parametrize("selector", ["shop.orders", "shop.staging", "shop", "orders", "shop.orders.checks"])
def test_matches_as_dbt_matches(selector: str) -> None:
    index = SelectorIndex(FOLDER_LIKE_A_MODEL)
    assert index.matches(selector) == dbt_matches(FOLDER_LIKE_A_MODEL, f"fqn:{selector}")


def test_a_model_named_like_a_folder_gets_an_exact_term() -> None:
    index = SelectorIndex(FOLDER_LIKE_A_MODEL)
    assert dbt_matches(FOLDER_LIKE_A_MODEL, "fqn:shop.orders") == {
        "model.shop.orders",
        "model.shop.order_totals",
        "unit_test.shop.orders.checks",
    }
    term = index.term("model.shop.orders")
    assert term == "fqn:shop.orders,resource_type:model,path:models/orders.sql"
    for unique_id in FOLDER_LIKE_A_MODEL:
        assert dbt_matches(FOLDER_LIKE_A_MODEL, index.term(unique_id)) == {unique_id}
    assert index.term("model.shop.stg_a") == "fqn:shop.staging.stg_a"


def test_a_whole_folder_is_one_term_and_everything_is_no_term() -> None:
    index = SelectorIndex(FOLDER_LIKE_A_MODEL)
    staging = {uid for uid in FOLDER_LIKE_A_MODEL if "staging" in FOLDER_LIKE_A_MODEL[uid].fqn}
    assert index.cover(staging) == ["fqn:shop.staging"]
    assert index.arguments(set(FOLDER_LIKE_A_MODEL)) == Arguments()
    everything_but_one = set(FOLDER_LIKE_A_MODEL) - {"model.shop.stg_b"}
    assert index.arguments(everything_but_one) == Arguments(exclude=("fqn:shop.staging.stg_b",))
    assert Arguments(exclude=("x",)).argv() == ["--exclude", "x"]


def test_dont_care_nodes_may_be_selected() -> None:
    index = SelectorIndex(FOLDER_LIKE_A_MODEL)
    wanted = {"model.shop.orders", "model.shop.order_totals"}
    assert index.cover(wanted, dont_care={"unit_test.shop.orders.checks"}) == ["fqn:shop.orders"]


def test_versioned_models() -> None:
    nodes = {
        "model.shop.dim.v1": node("model.shop.dim.v1", ("shop", "dim", "v1"), "models/dim_v1.sql", version="1"),
        "model.shop.dim.v2": node("model.shop.dim.v2", ("shop", "dim", "v2"), "models/dim_v2.sql", version="2"),
        "model.shop.dim_v2": node("model.shop.dim_v2", ("shop", "dim_v2"), "models/legacy/dim_v2.sql"),
    }
    index = SelectorIndex(nodes)
    for selector in ("shop.dim", "shop.dim.v2", "shop.dim_v2", "dim"):
        assert index.matches(selector) == dbt_matches(nodes, f"fqn:{selector}"), selector
    for unique_id in nodes:
        assert dbt_matches(nodes, index.term(unique_id)) == {unique_id}


_SEGMENTS = st.sampled_from(["shop", "orders", "staging", "a", "b"])


@st.composite
def trees(draw: Any) -> dict[str, ManifestNode]:
    paths = draw(st.lists(st.lists(_SEGMENTS, min_size=1, max_size=3), min_size=1, max_size=12))
    found: dict[str, ManifestNode] = {}
    for number, folders in enumerate(paths):
        package = draw(st.sampled_from(["shop", "utils"]))
        fqn = (package, *folders)
        kind = draw(st.sampled_from(["model", "test", "unit_test"]))
        path = "models/" + "/".join([*folders[:-1], f"{folders[-1]}.sql"]) if kind == "model" else "models/s.yml"
        unique_id = f"{kind}.{package}.n{number}"
        found[unique_id] = node(unique_id, fqn, path, kind)
    return found


@pytest.mark.slow  # many examples
@settings(max_examples=200, deadline=None)
@given(nodes=trees(), data=st.data())
def test_a_cover_selects_exactly_the_batch(nodes: dict[str, ManifestNode], data: Any) -> None:
    wanted = data.draw(st.sets(st.sampled_from(sorted(nodes)), min_size=1))
    index = SelectorIndex(nodes)
    unique = {uid for uid in nodes if len(dbt_matches(nodes, index.term(uid))) == 1}
    if unique != set(nodes):  # two nodes nothing tells apart (same fqn, type, file, package): dbt cannot either
        return
    arguments = index.arguments(wanted)
    selected = set(nodes)
    if arguments.select:
        selected = set().union(*(dbt_matches(nodes, term) for term in arguments.select))
    for term in arguments.exclude:
        selected -= dbt_matches(nodes, term)
    assert selected == wanted
