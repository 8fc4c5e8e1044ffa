"""The views an analyst expects (issue 13), in a real browser, with the README's screenshots.

The graph (legend, search, lineage, tests collapsed into their model, SLA
markers, a node's last statuses), a run's page (parameters, tries, timeline,
HTML download), the ticks of a schedule, the backfill form, Run… with a
logical date, running a notebook with parameters from its toolbar, and
deleting runs. ``document_view`` writes each main view's screenshots.
"""

from __future__ import annotations

import re
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tests.jupyter_extension.lab_e2e.lab import (
    INGEST,
    REPORT,
    REPORT_ID,
    Lab,
    document_view,
    open_panel,
    widen_left_sidebar,
)
from tests.jupyter_extension.seed import Seeded, Try, seed_run, seed_ticks

pytestmark = pytest.mark.slow

INGEST_ID = "notebook.notebooks/ingest_orders"
PANEL = "#orchestrate-panel"


def _open_run(panel, run_id: str):  # type: ignore[no-untyped-def]
    panel.get_by_role("tab", name="Runs").click()
    panel.locator(f"button[data-run-id='{run_id}']").click()
    return panel.locator(f".jp-Orchestrate-runView[data-run-id='{run_id}']")


def test_the_graph_explains_itself(lab: Lab, new_page) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    lab.edit_metadata(REPORT, sla={"freshness": "1h"})
    for start, status in ((-9000, "success"), (-5000, "failed"), (-4000, "success")):
        tries = (Try(status, start, start + 60),)
        seed_run(lab, status, [Seeded(REPORT_ID, status, tries)], start=start, end=start + 60)
    page = new_page()
    panel = open_panel(page)
    widen_left_sidebar(page, panel, to=460)

    # Tests are collapsed into their model, with their count.
    model = panel.locator(".jp-Orchestrate-graphNode[data-node-id='model.shop.stg_orders']")
    expect(model.locator(".jp-Orchestrate-testCount")).to_contain_text("tests")
    expect(panel.locator(".jp-Orchestrate-graphNode[data-node-id^='test.']")).to_have_count(0)

    # Freshness: the report last succeeded over an hour ago, so it is stale.
    report = panel.locator(f".jp-Orchestrate-graphNode[data-node-id='{REPORT_ID}']")
    expect(report.locator(".jp-Orchestrate-marker[data-kind='stale']")).to_be_visible()

    # The legend says what colors and marks mean.
    panel.locator(".jp-Orchestrate-legend summary").click()
    expect(panel.get_by_role("list", name="legend")).to_contain_text("upstream failed")
    expect(panel.get_by_role("list", name="legend")).to_contain_text("stale")

    # Search dims what does not match.
    panel.get_by_label("find a node").fill("daily_rev")
    expect(panel.locator(".jp-Orchestrate-graphNode[data-node-id='model.shop.daily_revenue']")).to_have_attribute(
        "data-focus", "self"
    )
    expect(panel.locator(".jp-Orchestrate-graphNode[data-node-id='model.shop.stg_orders']")).to_have_attribute(
        "data-focus", "dim"
    )
    panel.get_by_label("find a node").fill("")

    # Selecting a node highlights its upstream and downstream, and its card shows its last statuses.
    panel.locator(".jp-Orchestrate-graphNode[data-node-id='model.shop.daily_revenue']").click()
    expect(report).to_have_attribute("data-focus", "down")
    expect(panel.locator(".jp-Orchestrate-graphNode[data-node-id='model.shop.fct_orders']")).to_have_attribute(
        "data-focus", "up"
    )
    report.click()
    card = panel.locator(f".jp-Orchestrate-nodeCard[data-node-id='{REPORT_ID}']")
    expect(card.get_by_role("list", name="recent statuses").locator("li")).to_have_count(3)
    expect(card).to_contain_text("freshness 1 h")
    document_view(page, "pipeline", PANEL)

    # The graph in a tab of its own, for big projects.
    panel.get_by_label("Open the graph in a tab").click()
    tab = page.locator("#orchestrate-pipeline-tab")
    expect(tab.locator(".jp-Orchestrate-graphNode").first).to_be_visible()
    document_view(page, "pipeline-tab", "#orchestrate-pipeline-tab")


def test_a_run_page_shows_parameters_tries_timeline_and_downloads(lab: Lab, new_page) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    run_id = seed_run(
        lab,
        "success",
        [
            Seeded(
                INGEST_ID,
                "success",
                (Try("failed", -300, -280, error="TimeoutError: the API"), Try("success", -270, -250)),
            ),
            Seeded(REPORT_ID, "success", (Try("success", -240, -200, log="done\n", output_of=REPORT),)),
        ],
        start=-300,
        end=-200,
        parameters={"top_n": 3},
        selection="+notebooks/daily_report",
    )
    page = new_page()
    panel = open_panel(page)
    widen_left_sidebar(page, panel, to=460)
    view = _open_run(panel, run_id)
    expect(view.get_by_role("table", name="parameters")).to_contain_text("top_n")
    bars = view.get_by_role("figure", name="timeline of the run").locator(".jp-Orchestrate-timelineBar")
    expect(bars).to_have_count(3)
    expect(view.locator(f"[data-node-id='{INGEST_ID}']").get_by_role("list", name="tries")).to_contain_text(
        "TimeoutError: the API"
    )
    with page.expect_download() as download:
        view.locator(f"[data-node-id='{REPORT_ID}'] .jp-Orchestrate-htmlLink").first.click()
    assert download.value.suggested_filename == "daily_report.try1.html"
    assert "Daily revenue report" in Path(download.value.path()).read_text(encoding="utf-8")
    document_view(page, "run-page", PANEL)


def test_ticks_of_a_schedule(lab: Lab, new_page) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    schedule = {"notebook": REPORT, "cron": "0 7 * * *", "timezone": "Europe/Berlin"}
    lab.rest("POST", "orchestrate/api/schedules", schedule)
    now = datetime.now(ZoneInfo("Europe/Berlin"))
    fired = [
        (now.replace(hour=7, minute=0, second=0, microsecond=0) - timedelta(days=days) - now).total_seconds()
        for days in (3, 2, 1)
    ]
    seed_ticks(
        lab,
        "notebooks/daily_report",
        [
            (fired[0], "ran", None),
            (fired[1], "skipped", "catch-up 'latest': a newer fire time was run instead"),
            (fired[2], "ran", None),
        ],
        REPORT_ID,
    )
    page = new_page()
    panel = open_panel(page)
    widen_left_sidebar(page, panel, to=460)
    panel.get_by_role("tab", name="Schedules").click()
    schedule = panel.locator("[data-schedule='notebooks/daily_report']")
    schedule.get_by_role("button", name="Ticks").click()
    ticks = schedule.get_by_role("list", name="ticks of notebooks/daily_report").locator("li")
    expect(ticks).to_have_count(3)
    expect(ticks.nth(1)).to_contain_text("skipped")
    expect(ticks.nth(1)).to_contain_text("a newer fire time was run instead")
    expect(ticks.first.get_by_role("button", name=re.compile("^run "))).to_be_visible()
    document_view(page, "schedules", PANEL)


def test_run_with_a_logical_date_and_a_notebook_with_parameters(lab: Lab, new_page) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    page = new_page(INGEST)
    panel = open_panel(page)

    # Run… from the panel, for a logical date.
    panel.get_by_role("button", name="Run…").click()
    dialog = page.locator(".jp-Dialog")
    dialog.locator("#jp-Orchestrate-run-selection").fill("notebooks/ingest_orders")
    dialog.locator("#jp-Orchestrate-run-logical").fill("2024-01-31T06:00")
    dialog.get_by_role("button", name="Run now").click()
    view = panel.locator(".jp-Orchestrate-runView")
    expect(view.locator(".jp-Orchestrate-runHeader")).to_contain_text("logical date 31 Jan 2024, 06:00")
    expect(view.locator(".jp-Orchestrate-runHeader .jp-Orchestrate-badge").first).to_have_attribute(
        "data-status", "success", timeout=180_000
    )

    # Run… from the notebook's toolbar, with a parameter changed for this run only.
    page.locator(".jp-NotebookPanel .jp-Orchestrate-runButton").first.click()
    dialog = page.locator(".jp-Dialog")
    expect(dialog.get_by_label("run parameter days")).to_have_value("30")
    dialog.get_by_label("run parameter days").fill("3")
    document_view(page, "run-dialog", ".jp-Dialog-content")
    dialog.get_by_role("button", name="Run now").click()
    view = panel.locator(".jp-Orchestrate-runView")
    expect(view.get_by_role("table", name="parameters")).to_contain_text("3")
    expect(view.locator(".jp-Orchestrate-runHeader .jp-Orchestrate-badge").first).to_have_attribute(
        "data-status", "success", timeout=180_000
    )
    run_id = view.get_attribute("data-run-id")
    assert lab.rest("GET", f"orchestrate/api/runs/{run_id}")["parameters"] == {"days": 3}
    assert lab.metadata(INGEST)["orchestrate"]["parameters"] == {"days": 30}  # the notebook keeps its own


def test_backfill_from_the_schedules_tab(lab: Lab, new_page) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    lab.rest("POST", "orchestrate/api/schedules", {"notebook": INGEST, "cron": "0 7 * * *", "timezone": "UTC"})
    page = new_page()
    panel = open_panel(page)
    panel.get_by_role("tab", name="Schedules").click()
    panel.locator("[data-schedule='notebooks/ingest_orders']").get_by_role("button", name="Backfill…").click()
    dialog = page.locator(".jp-Dialog")
    dialog.locator("#jp-Orchestrate-backfill-start").fill("2024-01-02")
    dialog.locator("#jp-Orchestrate-backfill-end").fill("2024-01-01")
    dialog.get_by_role("button", name="Start backfill").click()
    expect(dialog.locator("#jp-Orchestrate-backfill-end-error")).to_contain_text("before the first")
    dialog.locator("#jp-Orchestrate-backfill-end").fill("2024-01-03")
    document_view(page, "backfill-dialog", ".jp-Dialog-content")
    dialog.get_by_role("button", name="Start backfill").click()
    expect(page.locator(".Toastify__toast").filter(has_text="Backfill of notebooks/ingest_orders")).to_be_visible()
    runs = panel.get_by_role("list", name="runs")
    expect(runs.locator("button[data-run-id]").filter(has_text="backfill")).to_have_count(2, timeout=60_000)
    deadline = time.monotonic() + 240
    while lab.rest("GET", "orchestrate/api/runs?trigger=backfill&status=running")["total"]:
        assert time.monotonic() < deadline, "the backfill's runs did not finish"
        time.sleep(1)


def test_deleting_old_runs_asks_then_removes_them_and_their_files(lab: Lab, new_page) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    old = seed_run(lab, "failed", [Seeded(REPORT_ID, "failed", (Try("failed", -900, -880, log="boom\n"),))], start=-900)
    folder = lab.root / ".orchestrate" / "runs" / old
    assert folder.is_dir()
    page = new_page()
    panel = open_panel(page)
    panel.get_by_role("tab", name="Runs").click()
    panel.get_by_label(f"select run {old}").check()
    panel.get_by_role("button", name=re.compile("^Delete 1")).click()
    confirm = page.locator(".jp-Dialog")
    expect(confirm).to_contain_text("deleted for good")
    confirm.get_by_role("button", name="Cancel").click()
    assert folder.is_dir()
    panel.get_by_role("button", name=re.compile("^Delete 1")).click()
    confirm.get_by_role("button", name="Delete").click()
    expect(panel.locator(f"button[data-run-id='{old}']")).to_have_count(0)
    assert not folder.exists()
    document_view(page, "runs", PANEL)
