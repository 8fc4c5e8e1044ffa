"""``GET /orchestrate/api/plan`` on a real server: the CLI's plan, behind Jupyter's auth, with no side effect."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import run_cli

pytestmark = pytest.mark.slow  # a real Jupyter server (and a dbt-parsed project)

DAY = "2024-01-31"


async def test_the_plan_is_the_cli_plan_and_creates_no_store(api: Any, jp_root_dir: Path) -> None:
    status, plan = await api.get("plan", select="+daily_revenue", only_changed="true", logical_date=DAY)
    assert status == 200, plan
    assert plan["only_changed"] is True
    assert plan["logical_date"] == "2024-01-31T00:00:00Z"
    cli = run_cli("plan", "+daily_revenue", "--only-changed", "--logical-date", DAY, "--json", cwd=jp_root_dir)
    assert cli.returncode == 0, cli.stderr
    assert plan["nodes"] == json.loads(cli.stdout)
    nodes = {node["id"]: node for node in plan["nodes"]}
    assert nodes["model.shop.daily_revenue"]["action"] == "run"
    assert nodes["seed.shop.customers"]["reason"] == "no earlier success"
    assert "notebook.notebooks/daily_report" not in nodes
    assert not (jp_root_dir / ".orchestrate").exists(), "a plan never creates the state store"


async def test_a_broken_notebook_is_planned_left_out(api: Any, jp_root_dir: Path) -> None:
    report = jp_root_dir / "notebooks" / "daily_report.ipynb"
    notebook = json.loads(report.read_text())
    notebook["metadata"]["orchestrate"]["depends_on"] = ["daily_revenu"]
    report.write_text(json.dumps(notebook))
    status, plan = await api.get("plan", only_changed="false")
    assert status == 200, plan
    left_out = [node for node in plan["nodes"] if node["action"] == "left_out"]
    assert [node["id"] for node in left_out] == ["notebook.notebooks/daily_report"]
    assert "did you mean 'daily_revenue'?" in left_out[0]["reason"]


async def test_bad_queries_answer_400_naming_the_value(api: Any, jp_root_dir: Path) -> None:
    status, body = await api.get("plan", select="daily_revenu")
    assert status == 400
    assert body["message"] == "selector 'daily_revenu': no node is called 'daily_revenu'; did you mean 'daily_revenue'?"
    status, body = await api.get("plan", only_changed="yes")
    assert status == 400
    assert body["field"] == "only_changed" and body["detail"] == "must be true or false, not 'yes'"
    status, body = await api.get("plan", logical_date="31/01/2024")
    assert status == 400
    assert body["message"].startswith("logical_date:")
    assert not (jp_root_dir / ".orchestrate").exists()
