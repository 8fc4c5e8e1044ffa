"""The example when runs meet: two runs at once, a parallel backfill, and a team's PostgreSQL state.

Real dbt + DuckDB + papermill through the CLI. DuckDB allows one writing
process per file, so these pass only because the `warehouse` resource is held
across runs and processes.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest

from tests.conftest import run_cli

pytestmark = pytest.mark.slow

NIGHTLY = 'schedules:\n  - name: nightly\n    cron: "0 6 * * *"\n    timezone: Europe/Berlin\n'


def when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def warehouse_spans(project: Path, run_id: str) -> list[tuple[datetime, datetime]]:
    """When each try that held the warehouse ran (dbt nodes and the notebooks that declare it)."""
    show = run_cli("show", run_id, "--json", cwd=project)
    assert show.returncode == 0, show.stderr
    return [
        (when(attempt["started_at"]), when(attempt["finished_at"]))
        for attempt in json.loads(show.stdout)["attempts"]
        if attempt["finished_at"]
    ]


def test_two_runs_at_once_take_turns_on_the_warehouse_and_both_succeed(shop: Path) -> None:
    orchestrate = Path(sys.executable).with_name("orchestrate")
    runs = [
        subprocess.Popen(
            [str(orchestrate), "run", "--json", "--logical-date", day],
            cwd=shop,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for day in ("2024-01-30", "2024-01-31")
    ]
    outputs = [run.communicate(timeout=600) for run in runs]
    for run, (stdout, stderr) in zip(runs, outputs, strict=True):
        assert run.returncode == 0, stderr[-3000:]
        assert json.loads(stdout)["status"] == "success"
    assert any("waiting for warehouse (held by run " in stderr for _, stderr in outputs), "the wait is shown"
    first, second = (warehouse_spans(shop, json.loads(stdout)["run_id"]) for stdout, _ in outputs)
    together = [(a, b) for a in first for b in second if a[0] < b[1] and b[0] < a[1]]
    assert together == [], "the two runs used the DuckDB file at the same time"


def test_the_readme_parallel_backfill_succeeds(shop: Path) -> None:
    config = shop / "orchestrate.yaml"
    config.write_text(config.read_text() + NIGHTLY)
    result = run_cli(
        "backfill", "nightly", "--start", "2024-03-01", "--end", "2024-03-02", "--parallel", "2", "--json", cwd=shop
    )
    assert result.returncode == 0, result.stderr[-3000:]
    items = json.loads(result.stdout)
    assert [item["status"] for item in items] == ["success", "success"]


def test_the_example_runs_on_postgresql_and_writes_no_sqlite_file(shop: Path, postgres_schema_url: str) -> None:
    config = shop / "orchestrate.yaml"
    config.write_text(config.read_text() + f"state:\n  url: {postgres_schema_url}\n")
    result = run_cli("run", "--json", "--logical-date", "2024-01-31", cwd=shop)
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads(result.stdout)["status"] == "success"
    assert not list(shop.rglob("*.db")), "no state.db next to the project"
    runs = json.loads(run_cli("runs", "--json", cwd=shop).stdout)
    assert [run["status"] for run in runs] == ["success"]
    info = json.loads(run_cli("state", "info", "--json", cwd=shop).stdout)
    assert info["backend"] == "postgresql" and info["rows"]["run_nodes"] == 38
