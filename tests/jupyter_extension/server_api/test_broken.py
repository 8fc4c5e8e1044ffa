"""One broken notebook does not lock the API: it is reported as broken while the rest keeps working.

Also: a copied notebook carries its original's schedule, which is held (not fired) until it is saved
for the copy's own path, and parameters the notebook does not have are refused.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import run_cli

REPORT = "notebooks/daily_report.ipynb"
INGEST = "notebooks/ingest_orders.ipynb"
TYPO = (
    "notebook 'notebooks/daily_report.ipynb' depends on 'daily_revnue', which is no dbt node, source or notebook; "
    "did you mean 'daily_revenue'?"
)

pytestmark = pytest.mark.slow  # a real Jupyter server (and a dbt-parsed project)


def _edit_metadata(root: Path, notebook: str, **changes: Any) -> None:
    path = root / notebook
    document = json.loads(path.read_text(encoding="utf-8"))
    document["metadata"]["orchestrate"].update(changes)
    path.write_text(json.dumps(document, indent=1), encoding="utf-8")


def _metadata(root: Path, notebook: str) -> dict[str, Any]:
    return json.loads((root / notebook).read_text(encoding="utf-8"))["metadata"]["orchestrate"]


async def test_a_typo_in_one_notebook_leaves_the_rest_working(api: Any, jp_root_dir: Path) -> None:
    _edit_metadata(jp_root_dir, INGEST, schedule="0 5 * * *", timezone="UTC")
    _edit_metadata(jp_root_dir, REPORT, depends_on=["daily_revnue"], schedule="0 7 * * *")
    assert run_cli("validate", cwd=jp_root_dir).returncode == 2  # the command line still refuses the project

    status, graph = await api.get("graph")
    assert status == 200, graph
    ids = {node["id"] for node in graph["nodes"]}
    assert {"model.shop.daily_revenue", "notebook.notebooks/daily_report", "notebook.notebooks/ingest_orders"} <= ids
    report = next(node for node in graph["nodes"] if node["id"] == "notebook.notebooks/daily_report")
    assert report["depends_on"] == []

    status, nodes = await api.get("nodes")
    assert status == 200
    by_id = {node["id"]: node for node in nodes["nodes"]}
    assert by_id["notebook.notebooks/daily_report"]["problem"] == TYPO
    assert by_id["notebook.notebooks/ingest_orders"]["problem"] is None
    assert by_id["model.shop.daily_revenue"]["problem"] is None

    status, listed = await api.get("schedules")
    assert status == 200, listed
    schedules = {item["name"]: item for item in listed["schedules"]}
    assert schedules["notebooks/ingest_orders"]["problem"] is None
    assert schedules["notebooks/daily_report"]["problem"] == TYPO

    # The dialog opens for every notebook, the broken one included.
    status, form = await api.get("notebook", path=REPORT)
    assert (status, form["problem"], form["metadata"]["depends_on"]) == (200, TYPO, ["daily_revnue"])
    status, form = await api.get("notebook", path=INGEST)
    assert (status, form["problem"]) == (200, None)

    # Another notebook can be saved; so can the broken one, once its reference is fixed.
    status, saved = await api.post("schedules", {"notebook": INGEST, "owner": "ana@example.com"})
    assert status == 200, saved
    status, body = await api.post("schedules", {"notebook": REPORT, "depends_on": ["daily_revnue", "stg_orders"]})
    assert (status, body["message"]) == (400, TYPO)
    status, saved = await api.post("schedules", {"notebook": REPORT, "depends_on": ["daily_revenue"]})
    assert status == 200, saved
    status, nodes = await api.get("nodes")
    assert all(node["problem"] is None for node in nodes["nodes"])
    assert run_cli("validate", cwd=jp_root_dir).returncode == 0


async def test_a_notebook_whose_metadata_is_invalid_is_broken_not_fatal(api: Any, jp_root_dir: Path) -> None:
    _edit_metadata(jp_root_dir, REPORT, retries="many")
    status, nodes = await api.get("nodes")
    assert status == 200, nodes
    problem = next(node["problem"] for node in nodes["nodes"] if node["id"] == "notebook.notebooks/daily_report")
    assert "notebook 'notebooks/daily_report.ipynb' metadata" in problem and "retries" in problem
    status, body = await api.post("runs", {"select": "notebooks/daily_report"})
    assert status == 400
    assert body["message"].startswith("nothing can run: notebook.notebooks/daily_report is left out because")


@pytest.mark.slow
async def test_run_now_leaves_the_broken_notebook_out_and_runs_the_rest(api: Any, jp_root_dir: Path) -> None:
    _edit_metadata(jp_root_dir, REPORT, depends_on=["daily_revnue"])
    status, run = await api.post("runs", {"select": "notebooks/ingest_orders notebooks/daily_report"})
    assert status == 201, run
    assert run["left_out"] == [{"id": "notebook.notebooks/daily_report", "reason": TYPO}]
    finished = await api.wait_for_run(run["run_id"])
    assert finished["status"] == "success", finished
    assert [node["id"] for node in finished["nodes"]] == ["notebook.notebooks/ingest_orders"]
    # Reopened later (the run detail) or listed, the run still says what it left out and why.
    assert finished["left_out"] == [{"id": "notebook.notebooks/daily_report", "reason": TYPO}]
    status, listed = await api.get("runs")
    assert status == 200, listed
    assert [(item["run_id"], item["left_out"]) for item in listed["runs"]] == [(run["run_id"], finished["left_out"])]


async def test_a_copied_notebook_does_not_fire_its_originals_schedule(api: Any, jp_root_dir: Path) -> None:
    request = {"notebook": REPORT, "cron": "0 7 * * 1-5", "timezone": "Europe/Berlin"}
    status, saved = await api.post("schedules", request)
    assert status == 200, saved
    copy = "notebooks/daily_report-Copy1.ipynb"
    shutil.copy(jp_root_dir / REPORT, jp_root_dir / copy)

    status, listed = await api.get("schedules")
    assert status == 200, listed
    schedules = {item["name"]: item for item in listed["schedules"]}
    assert schedules["notebooks/daily_report"]["copy_of"] is None
    held = schedules["notebooks/daily_report-Copy1"]
    assert (held["copy_of"], held["paused"], held["next_fire_at"], held["notebook"]) == (REPORT, True, None, copy)
    cli = run_cli("schedules", "--json", cwd=jp_root_dir)  # what the scheduler fires
    assert [item["name"] for item in json.loads(cli.stdout)] == ["notebooks/daily_report"]
    validate = run_cli("validate", cwd=jp_root_dir)
    assert "notebook 'notebooks/daily_report-Copy1.ipynb' has the schedule of" in validate.stderr
    status, form = await api.get("notebook", path=copy)
    assert form["copy_of"] == REPORT

    # Saving the copy's schedule (the dialog's confirmation) starts it.
    status, saved = await api.post("schedules", {"notebook": copy, "cron": "0 8 * * 1-5"})
    assert status == 200, saved
    assert _metadata(jp_root_dir, copy)["scheduled_as"] == copy
    cli = run_cli("schedules", "--json", cwd=jp_root_dir)
    assert sorted(item["name"] for item in json.loads(cli.stdout)) == [
        "notebooks/daily_report",
        "notebooks/daily_report-Copy1",
    ]


async def test_a_parameter_the_notebook_does_not_have_is_refused(api: Any, jp_root_dir: Path) -> None:
    before = (jp_root_dir / REPORT).read_bytes()
    status, body = await api.post("schedules", {"notebook": REPORT, "parameters": {"top_n": 3, "top_m": 4}})
    assert status == 400
    assert body["message"] == (
        "notebook 'notebooks/daily_report.ipynb' has no parameter 'top_m' in its parameters cell "
        "(it has top_n, warehouse); add `top_m = ...` to the cell tagged 'parameters', or remove the parameter"
    )
    assert (jp_root_dir / REPORT).read_bytes() == before
