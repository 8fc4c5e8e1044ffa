"""Runs, logs and times as an analyst reads them when something went wrong.

Issue 13, items 7, 10, 11 and 14 (the confirmations).
"""

from __future__ import annotations

import re

import pytest

from tests.jupyter_extension.lab_e2e.lab import REPORT, REPORT_ID, Lab, open_panel
from tests.jupyter_extension.seed import Seeded, Try, seed_run

pytestmark = pytest.mark.slow

INGEST_ID = "notebook.notebooks/ingest_orders"
ANSI_LOG = (
    "\x1b[0m12:00:01  Running with dbt=1.11.0\n"
    "\x1b[0m12:00:02  1 of 3 START sql table model main.daily_revenue ... [RUN]\n"
    "\x1b[0m12:00:03  1 of 3 \x1b[31mERROR\x1b[0m creating sql table model main.daily_revenue "
    + "." * 60
    + " [\x1b[31mERROR\x1b[0m in 0.05s]\n"
)
ZONE = re.compile(r"\d\d:\d\d (GMT-[45]|EST|EDT)\b")


def _open_run(panel, run_id: str):  # type: ignore[no-untyped-def]
    panel.get_by_role("tab", name="Runs").click()
    panel.locator(f"button[data-run-id='{run_id}']").click()
    return panel.locator(f".jp-Orchestrate-runView[data-run-id='{run_id}']")


def test_a_retry_in_progress_reads_right(lab: Lab, new_page) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    retrying = seed_run(
        lab,
        "running",
        [
            Seeded(
                INGEST_ID,
                "running",
                (Try("failed", -60, -35, error="ConnectionError: the API timed out"), Try("running", -5)),
            ),
            Seeded(REPORT_ID, "up_for_retry", (Try("failed", -50, -40, error="KeyError: 'x'"),)),
            Seeded("model.shop.daily_revenue", "upstream_failed", kind="dbt"),
            Seeded("model.shop.fct_orders", "failed", (Try("failed", -58, -57, error="Database Error"),), kind="dbt"),
        ],
        start=-60,
        interrupted=-35,  # the first execution ended 30 s before the retry started
        resumed=-5,
        end=None,
        selection="+notebook.notebooks/daily_report",
    )
    retried = seed_run(
        lab,
        "success",
        [Seeded(INGEST_ID, "success", (Try("failed", -300, -290, error="boom"), Try("success", -200, -190)))],
        start=-300,
        interrupted=-290,
        resumed=-200,
        end=-190,
        selection="notebooks/ingest_orders",
    )
    page = new_page()
    panel = open_panel(page)
    panel.get_by_role("tab", name="Runs").click()
    runs = panel.get_by_role("list", name="runs")
    expect(runs.locator(f"button[data-run-id='{retrying}']")).to_contain_text("daily_report and upstream")
    expect(runs.locator(f"button[data-run-id='{retried}']")).to_contain_text("1 failed try")
    line = runs.locator(f"button[data-run-id='{retrying}']").inner_text()
    assert "-" not in re.sub(r"\d{4}-\d\d-\d\d|GMT[+-]\d+", "", line)  # no negative duration (a zone may be GMT-5)

    view = _open_run(panel, retrying)
    header = view.locator(".jp-Orchestrate-runHeader")
    expect(header).to_contain_text("running")
    assert not re.search(r"took -|-\d+(\.\d+)? s", view.inner_text())
    ingest = view.locator(f"[data-node-id='{INGEST_ID}']")
    expect(ingest).to_contain_text("ConnectionError: the API timed out")  # the earlier failure stays visible
    expect(ingest.get_by_role("list", name="tries")).to_contain_text("try 1")
    report = view.locator(f"[data-node-id='{REPORT_ID}']")
    expect(report.locator(".jp-Orchestrate-badge").first).to_have_text("up for retry")
    failed = view.locator("[data-node-id='model.shop.fct_orders'] .jp-Orchestrate-badge").first
    upstream = view.locator("[data-node-id='model.shop.daily_revenue'] .jp-Orchestrate-badge").first
    expect(upstream).to_have_text("upstream failed")
    colour = "element => getComputedStyle(element).backgroundColor"
    assert failed.evaluate(colour) != upstream.evaluate(colour)


def test_logs_are_readable_and_can_be_opened_copied_and_downloaded(lab: Lab, new_page) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    run_id = seed_run(
        lab,
        "failed",
        [
            Seeded(
                "model.shop.daily_revenue",
                "failed",
                (Try("failed", -100, -90, error="Database Error", log=ANSI_LOG),),
                kind="dbt",
            )
        ],
        selection="daily_revenue",
    )
    page = new_page()
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    panel = open_panel(page)
    view = _open_run(panel, run_id)
    view.get_by_role("button", name="daily_revenue").click()
    log = view.locator(".jp-Orchestrate-log").first
    expect(log).to_contain_text("Running with dbt=1.11.0")
    assert "\x1b" not in log.inner_text() and "[0m" not in log.inner_text() and "[31m" not in log.inner_text()
    line_height = float(log.evaluate("element => parseFloat(getComputedStyle(element).lineHeight) || 16"))
    assert log.evaluate("element => element.scrollHeight") < line_height * 6  # three lines, none wrapped

    view.get_by_role("button", name="Copy log").click()
    copied = page.evaluate("() => navigator.clipboard.readText()")
    assert "1 of 3 ERROR creating sql table model main.daily_revenue" in copied and "\x1b" not in copied

    with page.expect_download() as download:
        view.get_by_role("button", name="Download log").click()
    assert download.value.suggested_filename.endswith(".log")

    view.get_by_role("button", name="Open log in a tab").click()
    tab = page.locator(".jp-MainAreaWidget.jp-Orchestrate-logWidget:visible")
    expect(tab).to_contain_text("START sql table model main.daily_revenue")


def test_times_carry_their_zone_and_agree(lab: Lab, new_page) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    lab.rest(
        "POST", "orchestrate/api/schedules", {"notebook": REPORT, "cron": "36 6 * * *", "timezone": "Europe/Berlin"}
    )
    run_id = seed_run(
        lab,
        "success",
        [Seeded(REPORT_ID, "success", (Try("success", -100, -90),))],
        trigger="schedule",
        schedule="notebooks/daily_report",
        selection="notebooks/daily_report",
    )
    page = new_page()
    panel = open_panel(page)
    panel.get_by_role("tab", name="Schedules").click()
    schedule = panel.locator("[data-schedule='notebooks/daily_report']")
    expect(schedule).to_contain_text("next")
    next_line = schedule.locator(".jp-Orchestrate-next").inner_text()
    assert ZONE.search(next_line), next_line
    assert "Europe/Berlin" in schedule.inner_text() or "CET" in schedule.inner_text()
    view = _open_run(panel, run_id)
    header = view.locator(".jp-Orchestrate-runHeader").inner_text()
    logical = re.search(r"logical date ([^·\n]+)", header)
    assert logical and ZONE.search(logical.group(1)), header


def test_destructive_actions_ask_first(lab: Lab, new_page) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    lab.rest("POST", "orchestrate/api/schedules", {"notebook": REPORT, "cron": "0 7 * * *", "timezone": "UTC"})
    running = seed_run(lab, "running", [Seeded(REPORT_ID, "running", (Try("running", -10),))], start=-10, end=None)
    page = new_page()
    panel = open_panel(page)
    confirm = page.locator(".jp-Dialog")

    total = lab.rest("GET", "orchestrate/api/runs")["total"]
    panel.locator(".jp-Orchestrate-runAll").click()
    expect(confirm).to_contain_text("Run the whole pipeline")
    confirm.get_by_role("button", name="Cancel").click()
    expect(confirm).to_have_count(0)
    assert lab.rest("GET", "orchestrate/api/runs")["total"] == total

    panel.get_by_role("tab", name="Schedules").click()
    schedule = panel.locator("[data-schedule='notebooks/daily_report']")
    schedule.get_by_role("button", name="Unschedule").click()
    expect(confirm).to_contain_text("Unschedule")
    confirm.get_by_role("button", name="Cancel").click()
    assert lab.metadata(REPORT)["orchestrate"]["schedule"] == "0 7 * * *"
    schedule.get_by_role("button", name="Unschedule").click()
    confirm.get_by_role("button", name="Unschedule").click()
    expect(schedule).to_have_count(0)
    assert "schedule" not in lab.metadata(REPORT)["orchestrate"]

    view = _open_run(panel, running)
    view.get_by_role("button", name="Cancel run").click()
    expect(confirm).to_contain_text("Cancel run")
    confirm.get_by_role("button", name="Keep running").click()
    expect(confirm).to_have_count(0)
    expect(view.locator(".jp-Orchestrate-runHeader")).to_contain_text("running")
