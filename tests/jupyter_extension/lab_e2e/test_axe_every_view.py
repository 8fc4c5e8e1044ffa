"""axe-core on every view of the panel and every dialog, in JupyterLab Light and Dark: 0 violations of any impact.

Issue 21 asks for 0 violations on every view: the pipeline graph with the scheduler banner, a node's card,
the runs list, a run's page, the schedules with ticks, the Problems view, and the Schedule, Run… and
Backfill dialogs. A broken notebook and a failed run are there, so the error and cause styles are scanned too.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.jupyter_extension.lab_e2e.lab import (
    INGEST,
    REPORT,
    REPORT_ID,
    THEMES,
    Lab,
    axe_violations,
    open_panel,
    set_theme,
    widen_left_sidebar,
)
from tests.jupyter_extension.seed import Seeded, Try, seed_run

pytestmark = pytest.mark.slow

PANEL = "#orchestrate-panel"
DIALOG = ".jp-Dialog-content"


def _scan(page: Any, view: str, selector: str, failures: list[str]) -> None:
    for theme in THEMES:
        set_theme(page, theme)
        for item in axe_violations(page, selector, every_impact=True):
            failures.append(f"{view}, {theme}: {item['id']} ({item['impact']}): {item['help']} at {item['nodes'][:3]}")
    set_theme(page, "light")


def test_every_view_and_dialog_has_no_axe_violation_in_either_theme(lab: Lab, new_page) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    lab.rest("POST", "orchestrate/api/schedules", {"notebook": INGEST, "cron": "0 7 * * *", "timezone": "UTC"})
    run_id = seed_run(
        lab,
        "failed",
        [
            Seeded(
                REPORT_ID,
                "failed",
                (Try("failed", -100, -90, error="ValueError: top_n must be positive", log="x\n", output_of=REPORT),),
            )
        ],
    )
    lab.edit_metadata(REPORT, depends_on=["daily_revnue"])  # a broken node: the graph, its card and Problems
    page = new_page(INGEST)
    failures: list[str] = []

    panel = open_panel(page)
    widen_left_sidebar(page, panel, to=460)
    expect(panel.locator(f".jp-Orchestrate-graphNode[data-node-id='{REPORT_ID}']")).to_be_visible(timeout=180_000)
    expect(panel.get_by_role("status", name="scheduler status")).to_be_visible()
    _scan(page, "pipeline graph and scheduler banner", PANEL, failures)

    panel.locator(f".jp-Orchestrate-graphNode[data-node-id='{REPORT_ID}']").click()
    expect(panel.locator(".jp-Orchestrate-nodeCard")).to_be_visible()
    page.wait_for_timeout(500)
    _scan(page, "node card", PANEL, failures)

    panel.get_by_role("tab", name="Runs").click()
    expect(panel.locator(f"button[data-run-id='{run_id}']")).to_be_visible()
    _scan(page, "runs list", PANEL, failures)

    panel.locator(f"button[data-run-id='{run_id}']").click()
    expect(panel.locator(".jp-Orchestrate-runView .jp-Orchestrate-runHeader")).to_be_visible()
    page.wait_for_timeout(500)
    _scan(page, "run page", PANEL, failures)

    panel.get_by_role("tab", name="Schedules").click()
    schedule = panel.locator("[data-schedule='notebooks/ingest_orders']")
    schedule.get_by_role("button", name="Ticks").click()
    page.wait_for_timeout(500)
    _scan(page, "schedules with ticks", PANEL, failures)

    schedule.get_by_role("button", name="Backfill…").click()
    dialog = page.locator(".jp-Dialog")
    expect(dialog.locator("#jp-Orchestrate-backfill-start")).to_be_visible()
    _scan(page, "backfill dialog", DIALOG, failures)
    dialog.get_by_role("button", name="Cancel").click()

    panel.get_by_role("tab", name=re.compile(r"^Problems")).click()
    view = panel.get_by_role("region", name="problems")
    expect(view.locator(f"[data-problem='node:{REPORT_ID}']")).to_be_visible(timeout=60_000)
    _scan(page, "problems", PANEL, failures)

    panel.get_by_role("button", name="Run…").click()
    dialog = page.locator(".jp-Dialog")
    expect(dialog.locator("#jp-Orchestrate-run-selection")).to_be_visible()
    page.wait_for_timeout(1500)  # the plan preview
    _scan(page, "Run… dialog", DIALOG, failures)
    dialog.get_by_role("button", name="Cancel").click()

    page.locator(".jp-NotebookPanel .jp-Orchestrate-scheduleButton").first.click(timeout=90_000)
    dialog = page.locator(".jp-Orchestrate-scheduleDialog")
    expect(dialog.locator("#jp-Orchestrate-cron")).to_be_visible()
    _scan(page, "schedule dialog", f".jp-Orchestrate-scheduleDialog {DIALOG}", failures)
    dialog.get_by_role("button", name="Cancel").click()

    assert not failures, "\n".join(failures)
