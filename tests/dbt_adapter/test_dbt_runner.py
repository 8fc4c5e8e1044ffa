"""Real dbt-core + dbt-duckdb batches: per-node results, errors and timeouts."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import psutil
import pytest

from tests.conftest import run_cli

pytestmark = pytest.mark.slow

SLOW_MODEL = """{{ config(materialized='table', meta={'orchestrate': {'timeout': 2}}) }}
select sum(i * i % 7) as total from range(4000000000) t(i)
"""


@pytest.fixture
def slow_shop(shop: Path) -> Path:
    models = shop / "dbt" / "models"
    (models / "slow.sql").write_text(SLOW_MODEL)
    (models / "after_slow.sql").write_text("select * from {{ ref('slow') }}")
    return shop


def dbt_processes_in(project: Path) -> list[psutil.Process]:
    """dbt processes still running with their working directory inside ``project``."""
    found = []
    for process in psutil.process_iter(["cmdline", "cwd"]):
        cmdline = process.info["cmdline"] or []
        cwd = process.info["cwd"] or ""
        if any(part.endswith("/dbt") for part in cmdline[:2]) and cwd.startswith(str(project)):
            found.append(process)
    return found


def test_a_timeout_stops_dbt_and_fails_only_that_node(slow_shop: Path) -> None:
    result = run_cli("run", "--json", "--select", "slow+", cwd=slow_shop)
    ended = datetime.now(UTC)
    assert result.returncode == 1, result.stderr
    nodes = {node["id"]: node for node in json.loads(result.stdout)["nodes"]}
    assert nodes["model.shop.slow"]["status"] == "failed"
    assert "timed out after 2 s" in nodes["model.shop.slow"]["error"]
    assert nodes["model.shop.after_slow"]["status"] == "upstream_failed"
    started = datetime.fromisoformat(nodes["model.shop.slow"]["started_at"].replace("Z", "+00:00"))
    assert (ended - started).total_seconds() < 14  # the query alone takes ~30 s
    assert dbt_processes_in(slow_shop) == []
    show = json.loads(run_cli("show", json.loads(result.stdout)["run_id"], "--json", cwd=slow_shop).stdout)
    [attempt] = [a for a in show["attempts"] if a["node_id"] == "model.shop.slow"]
    assert attempt["status"] == "timed_out"
    # The grace to stop dbt lies inside the timeout: dbt is asked to stop a quarter of it (0.5 s) before its end.
    took = datetime.fromisoformat(attempt["finished_at"]) - datetime.fromisoformat(attempt["started_at"])
    assert took.total_seconds() < 2, took


def test_dbt_test_failures_are_not_retried_and_block_dependants(shop: Path) -> None:
    seeds = shop / "dbt" / "seeds" / "customers.csv"
    lines = seeds.read_text().splitlines()
    seeds.write_text("\n".join([*lines, lines[1]]) + "\n")  # a duplicate customer breaks unique tests
    result = run_cli("run", "--json", "--select", "+stg_customers+", "--logical-date", "2024-01-31", cwd=shop)
    assert result.returncode == 1
    nodes = {node["id"]: node for node in json.loads(result.stdout)["nodes"]}
    unique = nodes["test.shop.unique_stg_customers_customer_id.c7614daada"]
    assert unique["status"] == "failed"
    assert unique["attempts"] == 1
    assert "Got 1 result" in unique["error"]
    assert nodes["model.shop.stg_customers"]["status"] == "success"
    assert nodes["model.shop.fct_orders"]["status"] == "upstream_failed"


def test_dbt_gets_the_run_s_vars_only_when_the_project_reads_them(shop: Path) -> None:
    import duckdb

    result = run_cli("run", "--select", "customers", "--logical-date", "2024-01-31", cwd=shop)
    assert result.returncode == 0, result.stderr
    batch_logs = sorted((shop / ".orchestrate" / "runs").glob("*/logs/dbt-build.*.jsonl"))
    assert "--vars" not in batch_logs[-1].read_text()  # changing --vars makes dbt re-parse everything

    (shop / "dbt" / "models" / "stamp.sql").write_text(
        "select '{{ var(\"logical_date\") }}' as logical_date, '{{ var('run_id') }}' as run_id"
    )
    result = run_cli("run", "--json", "--select", "stamp", "--logical-date", "2024-01-31T06:00:00Z", cwd=shop)
    assert result.returncode == 0, result.stderr
    run_id = json.loads(result.stdout)["run_id"]
    with duckdb.connect(str(shop / "shop.duckdb"), read_only=True) as connection:
        row = connection.execute("select logical_date, run_id from main.stamp").fetchone()
    assert row == ("2024-01-31T06:00:00Z", run_id)
