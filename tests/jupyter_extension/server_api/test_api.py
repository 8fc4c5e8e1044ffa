"""The REST API's happy paths and its answers to bad requests, on a real server and real runs."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import run_cli

pytestmark = pytest.mark.slow  # a real Jupyter server (and a dbt-parsed project)

REPORT = "notebooks/daily_report.ipynb"
INGEST = "notebooks/ingest_orders.ipynb"


def _metadata(root: Path, notebook: str = REPORT) -> dict[str, Any]:
    return json.loads((root / notebook).read_text(encoding="utf-8"))["metadata"]["orchestrate"]


async def test_graph_is_the_cli_document(api: Any, jp_root_dir: Path) -> None:
    status, graph = await api.get("graph")
    assert status == 200
    cli = run_cli("graph", "--format", "json", cwd=jp_root_dir)
    assert cli.returncode == 0, cli.stderr
    assert graph == json.loads(cli.stdout)
    datasets = {node["id"]: node["datasets"] for node in graph["nodes"]}  # the names lineage events use
    warehouse = f"duckdb://{(jp_root_dir / 'shop.duckdb').resolve()}"
    assert datasets["model.shop.daily_revenue"]["outputs"] == [
        {"namespace": warehouse, "name": "shop.main.daily_revenue"}
    ]
    assert {"namespace": warehouse, "name": "shop.main.daily_revenue"} in datasets["notebook.notebooks/daily_report"][
        "inputs"
    ]
    status, selected = await api.get("graph", select="+daily_revenue")
    assert status == 200
    assert "model.shop.daily_revenue" in {node["id"] for node in selected["nodes"]}
    assert "notebook.notebooks/daily_report" not in {node["id"] for node in selected["nodes"]}
    status, body = await api.get("graph", select="daily_revenu")
    assert status == 400
    assert body["message"] == "selector 'daily_revenu': no node is called 'daily_revenu'; did you mean 'daily_revenue'?"


async def test_info_nodes_and_notebook_form(api: Any) -> None:
    status, info = await api.get("info")
    assert status == 200
    assert info["project"] == "."
    assert {"schedule", "timezone", "parameters", "depends_on", "owner"} <= set(info["settings_keys"])
    assert "Europe/Berlin" in info["timezones"]
    status, nodes = await api.get("nodes")
    assert status == 200
    report = next(node for node in nodes["nodes"] if node["id"] == "notebook.notebooks/daily_report")
    assert report["lab_path"] == REPORT
    assert report["last_status"] is None
    status, form = await api.get("notebook", path=REPORT)
    assert status == 200
    assert form["in_pipeline"] is True
    assert form["metadata"]["depends_on"] == ["daily_revenue"]
    cell = {entry["name"]: entry for entry in form["parameters_cell"]}
    assert cell["top_n"]["value"] == 5
    assert cell["warehouse"]["value"] == "../shop.duckdb"
    assert cell["run_id"]["injected"] is True


ALERTS = """
alerts:
  email:
    smtp_host: localhost
    from: orchestrate@example.com
  routes:
    - name: finance team
      email: [finance@example.com]
      on: [failure]
      match:
        tag: finance
"""


async def test_info_lists_the_alert_routes(api: Any, jp_root_dir: Path) -> None:
    with (jp_root_dir / "orchestrate.yaml").open("a", encoding="utf-8") as config:
        config.write(ALERTS)
    status, info = await api.get("info")
    assert status == 200, info
    assert info["alert_routes"] == [
        {
            "name": "finance team",
            "on": ["failure"],
            "slack": None,
            "email": ["finance@example.com"],
            "match": {"tag": ["finance"]},
        }
    ]
    route = {"slack": "#data", "email": ["ana@example.com"], "on": ["failure", "sla_miss"]}
    status, saved = await api.post("schedules", {"notebook": REPORT, "alerts": [route], "sla": {"finish_by": "07:30"}})
    assert status == 200, saved
    assert _metadata(jp_root_dir)["alerts"] == [route]
    assert _metadata(jp_root_dir)["sla"] == {"finish_by": "07:30"}


async def test_cron_preview_uses_the_time_zone(api: Any) -> None:
    status, preview = await api.get("cron", cron="0 7 * * 1-5", timezone="Europe/Berlin", count="3")
    assert status == 200
    assert len(preview["next"]) == 3
    assert all(moment[11:] in ("07:00:00+01:00", "07:00:00+02:00") for moment in preview["next"])
    status, body = await api.get("cron", cron="0 7 * *", timezone="UTC")
    assert status == 400
    assert "five fields" in body["message"]
    status, body = await api.get("cron", cron="0 7 * * *", timezone="Europe/Berln")
    assert status == 400
    assert "did you mean 'Europe/Berlin'?" in body["message"]


async def test_schedule_round_trip(api: Any, jp_root_dir: Path) -> None:
    notebook = jp_root_dir / REPORT
    cells_before = json.loads(notebook.read_text())["cells"]
    request = {
        "notebook": REPORT,
        "cron": "0 7 * * 1-5",
        "timezone": "Europe/Berlin",
        "parameters": {"top_n": 3, "warehouse": "../shop.duckdb"},
        "depends_on": ["daily_revenue"],
        "owner": "ana@example.com",
        "retries": 2,
        "timeout": "30m",
    }
    status, saved = await api.post("schedules", request)
    assert status == 200, saved
    metadata = _metadata(jp_root_dir)
    assert metadata == {
        "schedule": "0 7 * * 1-5",
        "timezone": "Europe/Berlin",
        "parameters": {"top_n": 3, "warehouse": "../shop.duckdb"},
        "depends_on": ["daily_revenue"],
        "owner": "ana@example.com",
        "retries": 2,
        "timeout": "30m",
        "resources": ["warehouse"],
        "scheduled_as": REPORT,
    }
    assert saved["metadata"] == metadata
    assert json.loads(notebook.read_text())["cells"] == cells_before
    assert run_cli("validate", cwd=jp_root_dir).returncode == 0

    status, listed = await api.get("schedules")
    assert status == 200
    [schedule] = listed["schedules"]
    assert schedule["notebook"] == REPORT
    assert schedule["name"] == "notebooks/daily_report"
    assert schedule["timezone"] == "Europe/Berlin"
    assert schedule["paused"] is False
    assert schedule["next_fire_at"][11:] in ("07:00:00+01:00", "07:00:00+02:00")

    status, paused = await api.post("schedules/pause", {"schedule": "notebooks/daily_report"})
    assert (status, paused["paused"]) == (200, True)
    status, resumed = await api.post("schedules/resume", {"schedule": "notebooks/daily_report"})
    assert (status, resumed["paused"]) == (200, False)
    status, body = await api.post("schedules/pause", {"schedule": "notebooks/daly_report"})
    assert status == 400
    assert "did you mean 'notebooks/daily_report'?" in body["message"]

    status, removed = await api.delete("schedules", notebook=REPORT)
    assert status == 200, removed
    assert not {"schedule", "timezone", "scheduled_as"} & set(_metadata(jp_root_dir))
    assert _metadata(jp_root_dir)["owner"] == "ana@example.com"
    status, listed = await api.get("schedules")
    assert listed["schedules"] == []


BAD_REQUESTS = {
    "unknown dependency": (
        {"depends_on": ["daily_revnue"]},
        "notebook 'notebooks/daily_report.ipynb' depends on 'daily_revnue', which is no dbt node, source or "
        "notebook; did you mean 'daily_revenue'?",
    ),
    "bad cron": ({"cron": "0 7 * *"}, "is not a cron expression with five fields"),
    "bad time zone": ({"cron": "0 7 * * *", "timezone": "Mars/Olympus"}, "'Mars/Olympus' is not a known time zone"),
    "parameter name": ({"parameters": {"1x": 1}}, "parameter name '1x' is not a Python identifier"),
    "keyword parameter": ({"parameters": {"class": 1}}, "parameter name 'class' is a Python keyword"),
    "injected parameter": ({"parameters": {"run_id": "x"}}, "parameter 'run_id' is set by orchestrate-ext"),
    "unknown key": ({"colour": "red"}, "request body: unknown key 'colour'"),
    "wrong type": ({"retries": "two"}, "request body: key 'retries'"),
    "cycle": ({"depends_on": ["daily_report"], "notebook": INGEST}, "the dependency graph has a cycle"),
}


@pytest.mark.parametrize("name", sorted(BAD_REQUESTS))
async def test_bad_schedule_requests_are_400_and_write_nothing(api: Any, jp_root_dir: Path, name: str) -> None:
    change, message = BAD_REQUESTS[name]
    request = {"notebook": REPORT, **change}
    before = {path: path.read_bytes() for path in (jp_root_dir / "notebooks").glob("*.ipynb")}
    status, body = await api.post("schedules", request)
    assert status == 400, body
    assert message in body["message"]
    assert {path: path.read_bytes() for path in before} == before


async def test_not_json_and_not_plain_json(api: Any, jp_root_dir: Path) -> None:
    status, body = await api.post("schedules", '{"notebook": "notebooks/daily_report.ipynb", "parameters": {"x": NaN}}')
    assert status == 400 and "not valid JSON" in body["message"]
    status, body = await api.post("schedules", "[1, 2]")
    assert status == 400 and "must be a JSON object" in body["message"]
    scratch = jp_root_dir / "scratch.ipynb"
    scratch.write_text((jp_root_dir / REPORT).read_text())
    status, body = await api.post("schedules", {"notebook": "scratch.ipynb", "cron": "0 7 * * *"})
    assert status == 400 and "is not part of the pipeline" in body["message"]


@pytest.mark.slow
async def test_run_now_history_logs_and_output(api: Any, jp_root_dir: Path) -> None:
    status, run = await api.post("runs", {"select": "notebooks/ingest_orders"})
    assert status == 201, run
    assert (run["status"], run["selection"], run["trigger"]) == ("running", "notebooks/ingest_orders", "manual")
    finished = await api.wait_for_run(run["run_id"])
    assert finished["status"] == "success", finished
    [node] = finished["nodes"]
    assert node["id"] == "notebook.notebooks/ingest_orders" and node["duration_seconds"] > 0
    [attempt] = finished["attempts"]
    assert attempt["has_log"] and attempt["has_output"]

    status, page = await api.get("runs", status="success", limit="1")
    assert (status, page["total"], [item["run_id"] for item in page["runs"]]) == (200, 1, [run["run_id"]])
    status, page = await api.get("runs", status="failed")
    assert page["total"] == 0
    status, body = await api.get("runs", status="exploded")
    assert status == 400 and "unknown run status 'exploded'" in body["message"]

    status, logs = await api.get(f"runs/{run['run_id']}/logs", node="notebook.notebooks/ingest_orders")
    assert status == 200
    assert logs["attempts"][0]["log"], logs
    status, output = await api.get(f"runs/{run['run_id']}/output", node="notebook.notebooks/ingest_orders")
    assert status == 200
    assert output["type"] == "notebook" and output["writable"] is False
    assert any("parameters" in cell["metadata"].get("tags", []) for cell in output["content"]["cells"])

    status, nodes = await api.get("nodes")
    ingest = next(item for item in nodes["nodes"] if item["id"] == "notebook.notebooks/ingest_orders")
    assert ingest["last_status"] == "success" and ingest["last_success_run_id"] == run["run_id"]

    status, body = await api.post(f"runs/{run['run_id']}/retry")
    assert (status, body["message"]) == (409, f"run {run['run_id']} succeeded; there is nothing to retry")
    status, body = await api.post(f"runs/{run['run_id']}/cancel")
    assert (status, body["message"]) == (409, f"run {run['run_id']} already ended: success")
    status, body = await api.get("runs/20000101T000000-000000")
    assert (status, body["message"]) == (
        404,
        "no run with id '20000101T000000-000000'; list runs with `orchestrate runs`",
    )
    status, body = await api.get(f"runs/{run['run_id']}/logs", node="notebook.notebooks/ingest_ordrs")
    assert status == 400
    assert body["message"].startswith(f"run {run['run_id']} has no node 'notebook.notebooks/ingest_ordrs'")
    status, body = await api.post("runs", {"select": "nothing_like_this"})
    assert status == 400 and "no node is called 'nothing_like_this'" in body["message"]


FAILS_ONCE = {
    "cells": [
        {
            "cell_type": "code",
            "execution_count": None,
            "id": "fails-once",
            "metadata": {},
            "outputs": [],
            "source": [
                "from pathlib import Path\n",
                "marker = Path('failed-once.marker')\n",
                "if not marker.exists():\n",
                "    marker.write_text('x')\n",
                "    raise RuntimeError('the first try fails')\n",
            ],
        }
    ],
    "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
    "nbformat": 4,
    "nbformat_minor": 5,
}


@pytest.mark.slow
async def test_retry_failed_run(api: Any, jp_root_dir: Path) -> None:
    (jp_root_dir / "notebooks" / "fails_once.ipynb").write_text(json.dumps(FAILS_ONCE), encoding="utf-8")
    status, run = await api.post("runs", {"select": "notebooks/fails_once"})
    assert status == 201, run
    failed = await api.wait_for_run(run["run_id"])
    assert failed["status"] == "failed", failed
    assert "the first try fails" in failed["nodes"][0]["error"]
    status, body = await api.post(f"runs/{run['run_id']}/retry")
    assert (status, body["status"]) == (202, "running"), body
    retried = await api.wait_for_run(run["run_id"])
    assert retried["status"] == "success", retried
    assert [attempt["status"] for attempt in retried["attempts"]] == ["failed", "success"]


@pytest.mark.slow
async def test_cancel_a_running_run_then_retry_it(api: Any) -> None:
    status, run = await api.post("runs", {"select": "notebooks/ingest_orders"})
    assert status == 201
    status, body = await api.post(f"runs/{run['run_id']}/cancel")
    assert (status, body["run_id"]) == (202, run["run_id"])
    cancelled = await api.wait_for_run(run["run_id"])
    assert cancelled["status"] == "cancelled", cancelled
    status, body = await api.post(f"runs/{run['run_id']}/retry")
    assert (status, body["status"]) == (202, "running"), body
    retried = await api.wait_for_run(run["run_id"])
    assert retried["status"] == "success", retried


async def test_scheduler_status_says_why_the_last_scheduler_stopped(api: Any, jp_root_dir: Path) -> None:
    from datetime import UTC, datetime

    from orchestrate_ext.scheduling.exits import record_exit

    stopped = datetime(2024, 1, 31, 5, tzinfo=UTC)
    record_exit(jp_root_dir / ".orchestrate", stopped, "the scheduler cannot start: the store is locked", error=True)
    status, body = await api.get("scheduler")
    assert status == 200 and body["running"] is False
    assert body["last_exit"]["reason"] == "the scheduler cannot start: the store is locked"
    assert body["detail"].startswith("The last scheduler stopped at 2024-01-31T05:00:00Z: the scheduler cannot start")
    assert (body["state"], body["reason"]) == ("failed", "the scheduler cannot start: the store is locked")
    (jp_root_dir / ".orchestrate" / "scheduler.log").write_text(
        "".join(f"line {number}\n" for number in range(30)), encoding="utf-8"
    )
    status, body = await api.get("scheduler")
    assert body["log_tail"] == [f"line {number}" for number in range(10, 30)]
    record_exit(jp_root_dir / ".orchestrate", stopped, "stopped by SIGTERM", error=False)
    status, body = await api.get("scheduler")
    assert body["last_exit"]["error"] is False and "stopped at" not in (body["detail"] or "")
    assert (body["state"], body["reason"], body["log_tail"]) == ("stopped", "stopped by SIGTERM", [])
    status, body = await api.delete("scheduler")
    assert status == 409 and "no scheduler is running" in body["message"]


async def test_scheduler_status_and_start(api: Any, jp_root_dir: Path, started_pids: list[int]) -> None:
    status, before = await api.get("scheduler")
    assert status == 200
    assert before["running"] is False
    assert before["command"] == f"orchestrate scheduler --project {jp_root_dir}"
    status, started = await api.post("scheduler")
    assert status == 202, started
    started_pids.append(started["started_pid"])
    deadline = time.monotonic() + 60
    while True:
        status, current = await api.get("scheduler")
        if current["running"]:
            break
        assert time.monotonic() < deadline, current
        await asyncio.sleep(0.5)
    assert current["pid"] == started["started_pid"]
    assert (current["state"], current["since"]) == ("running", current["acquired_at"])
    status, body = await api.post("scheduler")
    assert status == 409 and "already running" in body["message"]
    status, body = await api.delete("scheduler")
    assert status == 202 and body["stopping"] is True, body
    while current["state"] != "stopped":
        assert current["state"] in ("running", "stopping"), current
        assert time.monotonic() < deadline, current
        await asyncio.sleep(0.5)
        status, current = await api.get("scheduler")
    assert (current["state"], current["reason"]) == ("stopped", "stopped by SIGTERM"), current
