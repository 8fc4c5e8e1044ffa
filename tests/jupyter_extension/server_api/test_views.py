"""What the new views read: node history and SLA markers, failed tries, ticks, backfills, HTML outputs,
and errors that name the dialog's field."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.jupyter_extension.seed import Seeded, Try, seed_run

pytestmark = pytest.mark.slow  # a real Jupyter server (and a dbt-parsed project)

REPORT = "notebooks/daily_report.ipynb"
REPORT_ID = "notebook.notebooks/daily_report"
INGEST_ID = "notebook.notebooks/ingest_orders"


def _edit_metadata(root: Path, notebook: str, **changes: Any) -> None:
    path = root / notebook
    document = json.loads(path.read_text(encoding="utf-8"))
    document["metadata"]["orchestrate"].update(changes)
    path.write_text(json.dumps(document, indent=1), encoding="utf-8")


async def test_nodes_carry_their_sla_markers_and_recent_statuses(api: Any, jp_root_dir: Path) -> None:
    _edit_metadata(jp_root_dir, REPORT, sla={"freshness": "1h"})
    _edit_metadata(jp_root_dir, "notebooks/ingest_orders.ipynb", sla={"max_duration": "1m"})
    seed_run(jp_root_dir, "success", [Seeded(REPORT_ID, "success", (Try("success", -7300, -7200),))], start=-7300)
    seed_run(jp_root_dir, "failed", [Seeded(REPORT_ID, "failed", (Try("failed", -600, -500, error="x"),))], start=-600)
    seed_run(
        jp_root_dir,
        "running",
        [Seeded(INGEST_ID, "running", (Try("running", -300),))],
        start=-300,
        end=None,
    )
    status, nodes = await api.get("nodes")
    assert status == 200, nodes
    by_id = {node["id"]: node for node in nodes["nodes"]}
    report = by_id[REPORT_ID]
    status, recent = await api.get("nodes/history", node=REPORT_ID)
    assert status == 200, recent
    assert [item["status"] for item in recent["recent"]] == ["failed", "success"]
    status, body = await api.get("nodes/history", node="notebook.notebooks/daily_reprt")
    assert status == 400 and "did you mean 'notebook.notebooks/daily_report'?" in body["message"]
    assert report["sla"] == {"freshness": 3600.0}
    assert report["markers"] == [{"kind": "stale", "message": "last success 2 h ago; freshness 1 h"}]
    ingest = by_id[INGEST_ID]
    assert [marker["kind"] for marker in ingest["markers"]] == ["overdue"]
    assert "at most 1 min" in ingest["markers"][0]["message"]
    assert by_id["model.shop.daily_revenue"]["markers"] == []


async def test_finish_by_marks_the_latest_run_overdue_in_the_schedules_zone(api: Any, jp_root_dir: Path) -> None:
    # The server reads the real clock: a daily fire 10 min ago and a finish_by 5 min after it hold at any
    # time of day (a midnight fire with a deadline "5 min ago" failed from 00:00 to 00:05 Berlin time).
    fired = datetime.now(UTC).astimezone(ZoneInfo("Europe/Berlin")) - timedelta(minutes=10)
    deadline = (fired + timedelta(minutes=5)).strftime("%H:%M")
    cron = f"{fired.minute} {fired.hour} * * *"
    _edit_metadata(jp_root_dir, REPORT, sla={"finish_by": deadline}, schedule=cron, timezone="Europe/Berlin")
    seed_run(jp_root_dir, "failed", [Seeded(REPORT_ID, "failed", (Try("failed", -60, -50),))], start=-60, logical=-3600)
    status, nodes = await api.get("nodes")
    report = next(node for node in nodes["nodes"] if node["id"] == REPORT_ID)
    assert status == 200
    assert report["markers"] and report["markers"][0]["kind"] == "overdue", report
    assert f"not done by {deadline} Europe/Berlin" in report["markers"][0]["message"]


async def test_runs_list_counts_failed_tries_and_a_retry_has_no_negative_duration(api: Any, jp_root_dir: Path) -> None:
    retried = seed_run(
        jp_root_dir,
        "success",
        [Seeded(INGEST_ID, "success", (Try("failed", -300, -290, error="boom"), Try("success", -200, -190)))],
        start=-300,
        interrupted=-290,
        resumed=-200,
        end=-190,
    )
    retrying = seed_run(
        jp_root_dir,
        "running",
        [Seeded(INGEST_ID, "running", (Try("failed", -60, -35, error="boom"), Try("running", -5)))],
        start=-60,
        interrupted=-35,
        resumed=-5,
        end=None,
    )
    status, page = await api.get("runs")
    assert status == 200
    by_id = {run["run_id"]: run for run in page["runs"]}
    assert (by_id[retried]["failed_tries"], by_id[retried]["tries"]) == (1, 2)
    status, run = await api.get(f"runs/{retrying}")
    assert (run["finished_at"], run["duration_seconds"], run["resumptions"]) == (None, None, 1)


async def test_ticks_of_a_schedule(api: Any, jp_root_dir: Path) -> None:
    status, saved = await api.post("schedules", {"notebook": REPORT, "cron": "0 7 * * *", "timezone": "UTC"})
    assert status == 200, saved
    status, ticks = await api.get("ticks", schedule="notebooks/daily_report")
    assert (status, ticks) == (200, {"ticks": []})
    status, body = await api.get("ticks", schedule="notebooks/daly_report")
    assert status == 400 and "did you mean 'notebooks/daily_report'?" in body["message"]


async def test_bad_backfills_are_400(api: Any, jp_root_dir: Path) -> None:
    await api.post("schedules", {"notebook": REPORT, "cron": "0 7 * * *", "timezone": "Europe/Berlin"})
    cases = {
        "unknown": ({"schedule": "nope", "start": "2024-01-01", "end": "2024-01-02"}, "no schedule is called 'nope'"),
        "reversed": (
            {"schedule": "notebooks/daily_report", "start": "2024-01-05", "end": "2024-01-01"},
            "is before --start",
        ),
        "not a date": (
            {"schedule": "notebooks/daily_report", "start": "yesterday", "end": "2024-01-01"},
            "--start",
        ),
        "parallel": (
            {"schedule": "notebooks/daily_report", "start": "2024-01-01", "end": "2024-01-02", "parallel": 0},
            "parallel",
        ),
    }
    for name, (body, message) in cases.items():
        status, answer = await api.post("backfills", body)
        assert status == 400, (name, answer)
        assert message in answer["message"], (name, answer)


@pytest.mark.slow
async def test_a_backfill_runs_one_run_per_date(api: Any, jp_root_dir: Path) -> None:
    await api.post("schedules", {"notebook": "notebooks/ingest_orders.ipynb", "cron": "0 7 * * *", "timezone": "UTC"})
    body = {"schedule": "notebooks/ingest_orders", "start": "2024-01-01", "end": "2024-01-02", "parallel": 2}
    status, started = await api.post("backfills", body)
    assert status == 202, started
    assert (started["dates"], started["first"], started["last"]) == (
        2,
        "2024-01-01T07:00:00Z",
        "2024-01-02T07:00:00Z",
    )
    deadline = time.monotonic() + 180
    while True:
        status, page = await api.get("runs", trigger="backfill")
        done = [run for run in page["runs"] if run["status"] != "running"]
        if len(done) == 2:
            break
        assert time.monotonic() < deadline, (page, Path(started["log"]).read_text())
        await asyncio.sleep(1)
    assert sorted(run["logical_date"] for run in done) == ["2024-01-01T07:00:00Z", "2024-01-02T07:00:00Z"]
    assert {run["status"] for run in done} == {"success"}


async def test_an_output_notebook_downloads_as_html(api: Any, jp_root_dir: Path, jp_fetch: Any) -> None:
    run_id = seed_run(
        jp_root_dir, "success", [Seeded(REPORT_ID, "success", (Try("success", -100, -90, output_of=REPORT),))]
    )
    response = await jp_fetch("orchestrate", "api", "runs", run_id, "output.html", params={"node": REPORT_ID})
    assert response.code == 200
    assert response.headers["Content-Type"].startswith("text/html")
    assert response.headers["Content-Disposition"] == "attachment; filename*=UTF-8''daily_report.try1.html"
    html = response.body.decode()
    assert html.lstrip().lower().startswith("<!doctype html>") and "Daily revenue report<" in html
    status, body = await api.get(f"runs/{run_id}/output.html", node="notebook.notebooks/ingest_orders")
    assert status == 400 and "has no node" in body["message"]


async def test_a_metadata_error_names_the_dialogs_field(api: Any) -> None:
    status, body = await api.post("schedules", {"notebook": REPORT, "cron": "0 7 31 2 *", "timezone": "UTC"})
    assert status == 400
    assert body["field"] == "cron"
    assert body["detail"] == "'0 7 31 2 *' never matches a date (e.g. the 31st of February); fix the day fields"
    assert body["message"].startswith("notebook 'notebooks/daily_report.ipynb' metadata: key 'orchestrate.schedule")


async def test_deleting_runs_removes_finished_ones_with_their_files(api: Any, jp_root_dir: Path) -> None:
    old = seed_run(jp_root_dir, "failed", [Seeded(REPORT_ID, "failed", (Try("failed", -100, -90, log="x\n"),))])
    still = [Seeded(REPORT_ID, "running", (Try("running", -10, log="y\n"),))]
    running = seed_run(jp_root_dir, "running", still, end=None)
    folders = {run_id: jp_root_dir / ".orchestrate" / "runs" / run_id for run_id in (old, running)}
    assert all(folder.is_dir() for folder in folders.values())
    status, answer = await api.post("runs/delete", {"run_ids": [old, running, "20000101T000000-0000000000"]})
    assert status == 200, answer
    assert answer["deleted"] == [old]
    assert {item["run_id"]: item["reason"] for item in answer["kept"]} == {
        running: "still running; cancel it first",
        "20000101T000000-0000000000": "no such run",
    }
    assert not folders[old].exists() and folders[running].is_dir()
    status, body = await api.get(f"runs/{old}")
    assert status == 404
    for bad in ({"run_ids": []}, {"run_ids": "x"}, {"runs": [old]}, {"run_ids": ["../../etc"]}):
        status, body = await api.post("runs/delete", bad)
        assert status in (200, 400), body
        if status == 200:
            assert body["deleted"] == [] and body["kept"][0]["reason"] == "no such run"


async def test_run_parameters_are_checked(api: Any) -> None:
    status, body = await api.post("runs", {"select": "notebooks/daily_report", "parameters": {"run_id": "x"}})
    assert status == 400 and "set by orchestrate-ext" in body["message"]
    status, body = await api.post("runs", {"select": "notebooks/daily_report", "parameters": [1]})
    assert status == 400 and "'parameters' must be an object" in body["message"]


@pytest.mark.slow
async def test_run_a_notebook_now_with_parameters(api: Any, jp_root_dir: Path) -> None:
    body = {"select": "notebooks/ingest_orders", "logical_date": "2024-01-31T06:00:00Z", "parameters": {"days": 3}}
    status, run = await api.post("runs", body)
    assert status == 201, run
    assert (run["parameters"], run["logical_date"]) == ({"days": 3}, "2024-01-31T06:00:00Z")
    finished = await api.wait_for_run(run["run_id"])
    assert finished["status"] == "success", finished
    status, output = await api.get(f"runs/{run['run_id']}/output", node=INGEST_ID)
    cells = output["content"]["cells"]
    injected = next(cell for cell in cells if "injected-parameters" in cell["metadata"].get("tags", []))
    assert "days = 3" in "".join(injected["source"])
