"""The example project, run for real (dbt-core + dbt-duckdb + papermill) through the CLI."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest

from tests.conftest import copy_example, run_cli

pytestmark = pytest.mark.slow

REPORT = "notebook.notebooks/daily_report"
MART = "model.shop.daily_revenue"


def when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """One real run of a fresh copy of the example, as a new user makes it (parse included)."""
    project = copy_example(tmp_path_factory.mktemp("e2e") / "shop")
    result = run_cli("run", "--json", "--logical-date", "2024-01-31", cwd=project)
    assert result.returncode == 0, result.stderr
    return project, json.loads(result.stdout)


def test_every_node_succeeds_and_the_report_runs_after_its_mart(finished_run: tuple[Path, dict]) -> None:
    _, document = finished_run
    assert document["status"] == "success"
    nodes = {node["id"]: node for node in document["nodes"]}
    assert {node["status"] for node in nodes.values()} == {"success"}
    kinds = {node["kind"] for node in nodes.values()}
    assert kinds == {"dbt", "notebook"}
    assert len(nodes) == 38  # 2 seeds, 5 models, 1 snapshot, 28 tests, 2 notebooks
    assert when(nodes[REPORT]["started_at"]) > when(nodes[MART]["finished_at"])
    ingest = nodes["notebook.notebooks/ingest_orders"]
    assert when(nodes["model.shop.stg_orders"]["started_at"]) > when(ingest["finished_at"])
    for node in nodes.values():
        assert node["attempts"] == 1
        assert node["started_at"].endswith("Z")


def test_output_notebook_is_parameterized_and_the_input_untouched(finished_run: tuple[Path, dict]) -> None:
    project, document = finished_run
    show = run_cli("show", document["run_id"], "--json", cwd=project)
    assert show.returncode == 0, show.stderr
    attempts = {attempt["node_id"]: attempt for attempt in json.loads(show.stdout)["attempts"]}
    output = Path(attempts[REPORT]["output_path"])
    assert output.is_file() and output.parent.is_relative_to(project / ".orchestrate" / "runs")
    executed = json.loads(output.read_text())
    injected = "".join(
        "".join(cell["source"])
        for cell in executed["cells"]
        if "injected-parameters" in cell["metadata"].get("tags", [])
    )
    assert 'logical_date = "2024-01-31T00:00:00Z"' in injected
    assert f'run_id = "{document["run_id"]}"' in injected
    assert "top_n = 5" in injected
    source = json.loads((project / "notebooks" / "daily_report.ipynb").read_text())
    assert all("injected-parameters" not in cell["metadata"].get("tags", []) for cell in source["cells"])
    assert (project / "notebooks" / "reports" / "output" / "daily_report_2024-01-31.md").is_file()


def test_history_survives_the_process(finished_run: tuple[Path, dict]) -> None:
    project, document = finished_run
    runs = run_cli("runs", "--json", cwd=project)
    assert runs.returncode == 0
    [entry] = json.loads(runs.stdout)
    assert entry["run_id"] == document["run_id"]
    assert entry["status"] == "success"
    assert entry["logical_date"] == "2024-01-31T00:00:00Z"
    assert entry["started_at"] and entry["finished_at"]


def test_logs_show_each_node_s_own_output(finished_run: tuple[Path, dict]) -> None:
    project, document = finished_run
    dbt_log = run_cli("logs", document["run_id"], MART, cwd=project)
    assert dbt_log.returncode == 0
    assert "daily_revenue" in dbt_log.stdout and "stg_orders" not in dbt_log.stdout.replace("fct_orders", "")
    notebook_log = run_cli("logs", document["run_id"], REPORT, cwd=project)
    assert "wrote reports/output/daily_report_2024-01-31.md" in notebook_log.stdout
    missing = run_cli("logs", document["run_id"], "daily_revnue", cwd=project)
    assert missing.returncode == 2
    assert "has no node 'daily_revnue'" in missing.stderr


def test_a_failing_model_blocks_only_its_descendants_and_retry_finishes_the_run(shop: Path) -> None:
    model = shop / "dbt" / "models" / "marts" / "fct_orders.sql"
    good_sql = model.read_text()
    model.write_text(good_sql.replace("from", "from no_such_table_here,", 1))
    failed = run_cli("run", "--logical-date", "2024-01-31", cwd=shop)  # as `orchestrate run > run.log`
    assert failed.returncode == 1
    run_id = failed.stdout.split("run ", 1)[1].split()[0]
    assert f"run {run_id} failed in" in failed.stdout, "the summary goes to stdout"
    assert "FAILED model.shop.fct_orders after 2 attempt(s)" in failed.stdout
    assert "✓ model.shop.stg_orders success" in failed.stderr, "the progress goes to stderr"
    assert "✓ model.shop.stg_orders" not in failed.stdout
    shown = run_cli("show", run_id, "--json", cwd=shop)
    document = json.loads(shown.stdout)
    nodes = {node["id"]: node for node in document["nodes"]}
    assert nodes["model.shop.fct_orders"]["status"] == "failed"
    assert "no_such_table_here" in nodes["model.shop.fct_orders"]["error"]
    assert nodes["model.shop.fct_orders"]["attempts"] == 2  # meta: orchestrate.retries = 1
    assert nodes[MART]["status"] == "upstream_failed"
    assert nodes[REPORT]["status"] == "upstream_failed"
    assert nodes["snapshot.shop.customers_snapshot"]["status"] == "success"
    assert nodes["model.shop.stg_orders"]["status"] == "success"

    model.write_text(good_sql)  # the fix makes the manifest stale: dbt parse runs again
    retried = run_cli("retry", document["run_id"], "--json", cwd=shop)
    assert retried.returncode == 0, retried.stderr
    after = {node["id"]: node for node in json.loads(retried.stdout)["nodes"]}
    assert {node["status"] for node in after.values()} == {"success"}
    assert after["model.shop.fct_orders"]["attempts"] == 3
    assert after["model.shop.stg_orders"]["attempts"] == 1
    assert after[REPORT]["attempts"] == 1
