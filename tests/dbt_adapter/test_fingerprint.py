"""A dbt node's fingerprint from a hand-made manifest: what changes it, and what does not."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from dbt_adapter.fingerprint import LoadedAt, RunValues, digest_manifest
from dbt_adapter.source_freshness import read_results

VALUES = RunValues(run_vars={}, project_vars={}, target="shop/dev")


def _macro(name: str, sql: str, calls: tuple[str, ...] = (), package: str = "shop") -> dict[str, Any]:
    return {
        "name": name,
        "package_name": package,
        "macro_sql": sql,
        "depends_on": {"macros": list(calls)},
        "created_at": 1.0,
    }


def _model(name: str, sql: str, parents: tuple[str, ...] = (), macros: tuple[str, ...] = ()) -> dict[str, Any]:
    return {
        "unique_id": f"model.shop.{name}",
        "resource_type": "model",
        "name": name,
        "package_name": "shop",
        "original_file_path": f"models/{name}.sql",
        "fqn": ["shop", name],
        "raw_code": sql,
        "checksum": {"name": "sha256", "checksum": f"sha-of-{sql}"},
        "config": {"materialized": "table", "meta": {}, "tags": [], "docs": {"show": True}},
        "depends_on": {"nodes": list(parents), "macros": list(macros)},
        "description": "",
        "columns": {},
        "created_at": 1.0,
    }


def manifest() -> dict[str, Any]:
    return {
        "metadata": {"adapter_type": "duckdb"},
        "macros": {
            "macro.shop.cents": _macro("cents", "{{ column }} * 100", ("macro.shop.round_to",)),
            "macro.shop.round_to": _macro("round_to", "round({{ x }}, {{ var('digits') }})"),
            "macro.shop.unused": _macro("unused", "select 1"),
            "macro.dbt.materialization_table_default": _macro("materialization_table_default", "create", (), "dbt"),
            "macro.dbt_duckdb.materialization_table_duckdb": _macro("materialization_table_duckdb", "ctas"),
            "macro.dbt.materialization_view_default": _macro("materialization_view_default", "view", (), "dbt"),
        },
        "sources": {
            "source.shop.raw.orders": {
                "unique_id": "source.shop.raw.orders",
                "resource_type": "source",
                "name": "orders",
                "source_name": "raw",
                "package_name": "shop",
                "relation_name": '"shop"."main"."orders"',
                "loaded_at_field": "loaded_at",
                "freshness": {"warn_after": {"count": 1, "period": "day"}, "error_after": {}},
                "config": {},
            },
            "source.shop.raw.customers": {
                "unique_id": "source.shop.raw.customers",
                "resource_type": "source",
                "name": "customers",
                "source_name": "raw",
                "package_name": "shop",
                "relation_name": '"shop"."main"."customers"',
                "loaded_at_field": None,
                "freshness": None,
                "config": {},
            },
        },
        "nodes": {
            "model.shop.stg_orders": _model(
                "stg_orders",
                "select {{ cents('amount') }} from {{ source('raw', 'orders') }}",
                ("source.shop.raw.orders",),
                ("macro.shop.cents",),
            ),
            "model.shop.stg_customers": _model(
                "stg_customers", "select * from {{ source('raw', 'customers') }}", ("source.shop.raw.customers",)
            ),
            "model.shop.daily": _model(
                "daily",
                "select '{{ var(\"logical_date\") }}', '{{ var('run_id') }}' from {{ ref('stg_orders') }}",
                ("model.shop.stg_orders",),
            ),
            "seed.shop.big": {
                "unique_id": "seed.shop.big",
                "resource_type": "seed",
                "name": "big",
                "package_name": "shop",
                "original_file_path": "seeds/big.csv",
                "raw_code": "",
                "checksum": {"name": "path", "checksum": "seeds/big.csv"},
                "config": {"materialized": "seed"},
                "depends_on": {"nodes": [], "macros": []},
            },
        },
        "unit_tests": {
            "unit_test.shop.stg_orders.cents": {
                "unique_id": "unit_test.shop.stg_orders.cents",
                "resource_type": "unit_test",
                "name": "cents",
                "package_name": "shop",
                "model": "stg_orders",
                "given": [{"input": "source('raw', 'orders')", "rows": [{"amount": 1}]}],
                "expect": {"rows": [{"amount": 100}]},
                "config": {},
                "depends_on": {"nodes": ["model.shop.stg_orders"], "macros": []},
            }
        },
    }


def codes(raw: dict[str, Any], project_dir: Path | None = None) -> dict[str, str]:
    return {uid: resource.code for uid, resource in digest_manifest(raw, project_dir).resources.items()}


def changed(before: dict[str, str], after: dict[str, str]) -> set[str]:
    return {uid for uid in before if before[uid] != after[uid]}


def test_a_new_parse_descriptions_docs_meta_and_tags_do_not_change_the_code() -> None:
    before = codes(manifest())
    raw = manifest()
    for item in [*raw["nodes"].values(), *raw["macros"].values()]:
        item["created_at"] = 99.0
    model = raw["nodes"]["model.shop.stg_orders"]
    model.update(description="Orders, documented", original_file_path="models/staging/stg_orders.sql")
    model["fqn"] = ["shop", "staging", "stg_orders"]
    model["config"].update(meta={"orchestrate": {"owner": "ada"}}, tags=["nightly"], docs={"show": False})
    model["columns"] = {"id": {"name": "id", "description": "the order", "data_type": None, "constraints": []}}
    assert changed(before, codes(raw)) == set()


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda raw: raw["nodes"]["model.shop.stg_orders"]["checksum"].update(checksum="new"), {"stg_orders"}),
        (lambda raw: raw["nodes"]["model.shop.stg_orders"]["config"].update(materialized="view"), {"stg_orders"}),
        (lambda raw: raw["nodes"]["model.shop.daily"]["columns"].update(day={"data_type": "date"}), {"daily"}),
        (lambda raw: raw["macros"]["macro.shop.cents"].update(macro_sql="{{ column }} * 1000"), {"stg_orders"}),
        (lambda raw: raw["macros"]["macro.shop.round_to"].update(macro_sql="round({{ x }})"), {"stg_orders"}),
        (lambda raw: raw["macros"]["macro.shop.unused"].update(macro_sql="select 2"), set()),
        (
            lambda raw: raw["macros"]["macro.dbt_duckdb.materialization_table_duckdb"].update(macro_sql="ctas2"),
            {"stg_orders", "stg_customers", "daily"},
        ),
        (
            lambda raw: raw["macros"]["macro.dbt.materialization_view_default"].update(macro_sql="v2"),
            {"stg_orders", "stg_customers", "daily", "big", "cents"},  # dbt's own macros: all of them
        ),
        (lambda raw: raw["sources"]["source.shop.raw.customers"].update(relation_name='"x"."y"'), {"stg_customers"}),
        (lambda raw: raw["unit_tests"]["unit_test.shop.stg_orders.cents"]["expect"].update(rows=[]), {"cents"}),
    ],
)
def test_what_changes_a_node_s_code(change: Any, expected: set[str]) -> None:
    before = codes(manifest())
    raw = manifest()
    change(raw)
    assert {uid.rsplit(".", 1)[-1] for uid in changed(before, codes(raw))} == expected


def test_dbt_s_own_macros_added_by_compiling_a_node_do_not_change_its_code() -> None:
    before = codes(manifest())
    raw = manifest()
    raw["nodes"]["model.shop.daily"]["depends_on"]["macros"] = ["macro.dbt.materialization_view_default"]
    raw["nodes"]["model.shop.daily"].update(compiled=True, compiled_code="select 1", extra_ctes=[])
    assert changed(before, codes(raw)) == set()


def test_an_installed_package_s_macros_are_the_project_s() -> None:
    raw = manifest()
    raw["macros"]["macro.dbt_utils.star"] = _macro("star", "*", package="dbt_utils")
    raw["nodes"]["model.shop.daily"]["depends_on"]["macros"] = ["macro.dbt_utils.star"]
    before = digest_manifest(raw, None, frozenset({"dbt_utils"})).resources
    raw["macros"]["macro.dbt_utils.star"]["macro_sql"] = "**"
    after = digest_manifest(raw, None, frozenset({"dbt_utils"})).resources
    assert {uid for uid in before if before[uid].code != after[uid].code} == {"model.shop.daily"}


def test_a_macro_cycle_ends() -> None:
    raw = manifest()
    raw["macros"]["macro.shop.round_to"]["depends_on"]["macros"] = ["macro.shop.cents"]
    assert codes(raw)["model.shop.stg_orders"]


def test_a_large_seed_s_code_is_its_file_s_content(tmp_path: Path) -> None:
    (tmp_path / "seeds").mkdir()
    seed = tmp_path / "seeds" / "big.csv"
    seed.write_text("id\n1\n")
    before = codes(manifest(), tmp_path)["seed.shop.big"]
    seed.write_text("id\n2\n")
    assert codes(manifest(), tmp_path)["seed.shop.big"] != before


def inputs(uid: str, values: RunValues = VALUES, loaded: dict[str, LoadedAt] | None = None) -> dict[str, Any] | None:
    found = digest_manifest(manifest()).fingerprint(uid, values, loaded)
    return None if found is None else json.loads(found.inputs)


def test_the_vars_a_node_reads_are_inputs_through_its_macros_too_but_not_run_id() -> None:
    values = RunValues(
        run_vars={"logical_date": "2024-01-31", "run_id": "r1"},
        project_vars={"digits": 1, "shop": {"digits": 2}},
        target="shop/dev",
    )
    assert inputs("model.shop.daily", values) == {"target": "shop/dev", "vars": {"logical_date": "2024-01-31"}}
    assert inputs("model.shop.stg_orders", values) == {"target": "shop/dev", "vars": {"digits": 2}}
    assert inputs("model.shop.stg_customers", values) == {"target": "shop/dev", "vars": {}}
    overridden = RunValues({"digits": 3}, {"shop": {"digits": 2}}, "shop/prod")
    assert inputs("model.shop.stg_orders", overridden) == {"target": "shop/prod", "vars": {"digits": 3}}


def test_checked_sources_add_their_newest_row_and_an_unchecked_one_makes_the_node_run() -> None:
    digest = digest_manifest(manifest())
    assert digest.sources_to_check(["model.shop.stg_orders", "model.shop.stg_customers"]) == {
        "source.shop.raw.orders": "source:shop.raw.orders"
    }, "a source without a freshness rule has no new-data signal from dbt"
    newest = {"source.shop.raw.orders": LoadedAt("2024-01-31T06:00:00", "pass")}
    assert inputs("model.shop.stg_orders", loaded=newest) == {
        "target": "shop/dev",
        "vars": {"digits": None},
        "sources": {"source.shop.raw.orders": "2024-01-31T06:00:00"},
    }
    assert inputs("model.shop.stg_orders", loaded={}) is None
    assert inputs("model.shop.stg_customers", loaded={}) is not None
    assert inputs("model.shop.daily", loaded={}) is not None, "downstream nodes see new rows through stg_orders"


def test_a_freshness_check_is_reused_only_against_a_new_check() -> None:
    digest = digest_manifest(manifest())
    source = "source.shop.raw.orders"
    assert digest.freshness_fingerprint(source, VALUES, None) is None
    passing = digest.freshness_fingerprint(source, VALUES, {source: LoadedAt("2024-01-31", "pass")})
    warning = digest.freshness_fingerprint(source, VALUES, {source: LoadedAt("2024-01-31", "warn")})
    assert passing is not None and warning is not None and passing != warning
    raw = manifest()
    raw["sources"][source]["freshness"]["warn_after"]["count"] = 2
    assert digest_manifest(raw).freshness_fingerprint(source, VALUES, {source: LoadedAt("2024-01-31", "pass")}) != (
        passing
    )


def test_an_unknown_node_has_no_fingerprint() -> None:
    assert digest_manifest(copy.deepcopy(manifest())).fingerprint("model.shop.gone", VALUES, None) is None


def test_freshness_results_skip_runtime_errors_and_other_sources(tmp_path: Path) -> None:
    path = tmp_path / "sources.json"
    path.write_text(
        json.dumps(
            {
                "results": [
                    {"unique_id": "source.a", "status": "pass", "max_loaded_at": "2024-01-31T06:00:00+00:00"},
                    {"unique_id": "source.b", "status": "runtime error", "error": "no table"},
                    {"unique_id": "source.c", "status": "warn", "max_loaded_at": "2024-01-30T06:00:00+00:00"},
                ]
            }
        )
    )
    assert read_results(path, {"source.a", "source.b"}) == {"source.a": LoadedAt("2024-01-31T06:00:00+00:00", "pass")}
    path.write_text("{not json")
    assert read_results(path, {"source.a"}) == {}
