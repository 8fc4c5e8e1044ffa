"""Bad input: a clear message that names the file, node or value, and exit code 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import run_cli

pytestmark = pytest.mark.slow  # one `orchestrate` process per case, on a dbt-parsed project


def set_notebook_metadata(project: Path, notebook: str, **values: object) -> None:
    path = project / "notebooks" / notebook
    document = json.loads(path.read_text())
    document["metadata"]["orchestrate"].update(values)
    path.write_text(json.dumps(document))


def assert_bad_input(result, *fragments: str) -> None:  # type: ignore[no-untyped-def]
    assert result.returncode == 2, (result.stdout, result.stderr)
    for fragment in fragments:
        assert fragment in result.stderr


def test_validate_accepts_the_example(shop: Path) -> None:
    result = run_cli("validate", cwd=shop)
    assert result.returncode == 0, result.stderr
    assert "39 nodes (36 dbt, 2 notebook, 1 source)" in result.stdout


def test_missing_config(tmp_path: Path) -> None:
    assert_bad_input(run_cli("validate", cwd=tmp_path), "no orchestrate.yaml in", "orchestrate init")


def test_unknown_config_key(shop: Path) -> None:
    config = shop / "orchestrate.yaml"
    config.write_text(config.read_text().replace("concurrency: 4", "concurency: 4"))
    assert_bad_input(run_cli("validate", cwd=shop), str(config), "unknown key 'concurency'", "'concurrency'")


def test_wrong_type_in_config(shop: Path) -> None:
    config = shop / "orchestrate.yaml"
    config.write_text(config.read_text().replace("retries: 0", "retries: often"))
    assert_bad_input(run_cli("validate", cwd=shop), "key 'defaults.retries'", "'often'")


def test_unknown_reference_in_a_notebook(shop: Path) -> None:
    set_notebook_metadata(shop, "daily_report.ipynb", depends_on=["daly_revenue"])
    assert_bad_input(
        run_cli("graph", cwd=shop),
        "notebook 'notebooks/daily_report.ipynb' depends on 'daly_revenue'",
        "did you mean 'daily_revenue'?",
    )


def test_bad_notebook_metadata(shop: Path) -> None:
    set_notebook_metadata(shop, "daily_report.ipynb", retries="twice")
    assert_bad_input(
        run_cli("validate", cwd=shop), "notebook 'notebooks/daily_report.ipynb' metadata", "orchestrate.retries"
    )


def test_cycle_through_a_produced_source(shop: Path) -> None:
    set_notebook_metadata(shop, "ingest_orders.ipynb", depends_on=["daily_revenue"])
    result = run_cli("validate", cwd=shop)
    assert_bad_input(result, "cycle", "notebook.notebooks/ingest_orders", "source.shop.raw.orders", "daily_revenue")


@pytest.mark.parametrize(
    ("selection", "message"),
    [("daily_revnue", "did you mean 'daily_revenue'?"), ("tag:nope", "no node has the tag 'nope'"), ("x:y", "'x'")],
)
def test_bad_selector(shop: Path, selection: str, message: str) -> None:
    assert_bad_input(run_cli("run", "--select", selection, cwd=shop), message)


def test_bad_logical_date(shop: Path) -> None:
    assert_bad_input(run_cli("run", "--logical-date", "yesterday", cwd=shop), "'yesterday' is not an ISO-8601")


@pytest.mark.parametrize("command", ["show", "retry"])
def test_unknown_run_id(shop: Path, command: str) -> None:
    assert_bad_input(run_cli(command, "20240101T000000-abcdef", cwd=shop), "no run with id '20240101T000000-abcdef'")


def test_unsupported_manifest_schema(shop: Path) -> None:
    manifest = shop / "dbt" / "target" / "manifest.json"
    document = json.loads(manifest.read_text())
    document["metadata"]["dbt_schema_version"] = "https://schemas.getdbt.com/dbt/manifest/v99.json"
    stat = manifest.stat()
    manifest.write_text(json.dumps(document))
    import os

    os.utime(manifest, (stat.st_atime, stat.st_mtime))
    assert_bad_input(run_cli("validate", cwd=shop), "manifest schema v99", "v10 to v12")


@pytest.mark.slow
def test_broken_dbt_project_reports_dbt_s_error(shop: Path) -> None:
    (shop / "dbt" / "models" / "marts" / "broken.sql").write_text("select * from {{ ref('no_such_model') }}")
    assert_bad_input(run_cli("validate", cwd=shop), "`dbt parse` failed", "no_such_model")


def test_graph_formats(shop: Path) -> None:
    as_json = json.loads(run_cli("graph", "--format", "json", "-s", "+daily_report", cwd=shop).stdout)
    ids = {node["id"] for node in as_json["nodes"]}
    assert "notebook.notebooks/ingest_orders" in ids and "model.shop.stg_customers" in ids
    assert all({"id", "kind", "resource_type", "depends_on"} <= node.keys() for node in as_json["nodes"])
    source = next(node for node in as_json["nodes"] if node["kind"] == "source")
    assert source["depends_on"] == ["notebook.notebooks/ingest_orders"]
    mermaid = run_cli("graph", "--format", "mermaid", cwd=shop).stdout
    assert mermaid.startswith("flowchart LR") and "n_model_shop_fct_orders --> n_model_shop_daily_revenue" in mermaid
    dot = run_cli("graph", "--format", "dot", cwd=shop).stdout
    assert '"model.shop.fct_orders" -> "model.shop.daily_revenue";' in dot


def test_init_writes_a_config_that_validates(shop: Path) -> None:
    (shop / "orchestrate.yaml").unlink()
    created = run_cli("init", cwd=shop)
    assert created.returncode == 0, created.stderr
    text = (shop / "orchestrate.yaml").read_text()
    assert "project_dir: dbt" in text and "notebooks/*.ipynb" in text
    assert run_cli("validate", cwd=shop).returncode == 0
    assert_bad_input(run_cli("init", cwd=shop), "already exists")
