"""axe-core (the npm package, run in the page) finds no serious violations in the dialog and the sidebar.

Checked in the light and the dark theme: the Schedule dialog, and each view of
the Orchestrate sidebar (pipeline with a node's card, schedules with ticks,
runs, a run's page).
"""

from __future__ import annotations

import pytest

from tests.jupyter_extension.lab_e2e.lab import REPORT, REPORT_ID, Lab, axe_violations, open_panel, set_theme
from tests.jupyter_extension.seed import Seeded, Try, seed_run

pytestmark = pytest.mark.slow


def _report(found: list[dict], where: str) -> str:  # type: ignore[type-arg]
    described = (f"{item['id']} ({item['impact']}): {item['help']} at {item['nodes'][:3]}" for item in found)
    return f"{where}: " + "; ".join(described)


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_no_serious_violations_in_the_dialog_and_the_sidebar(lab: Lab, new_page, theme: str) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    lab.rest("POST", "orchestrate/api/schedules", {"notebook": REPORT, "cron": "0 7 * * *", "timezone": "UTC"})
    run_id = seed_run(
        lab,
        "failed",
        [Seeded(REPORT_ID, "failed", (Try("failed", -100, -90, error="ValueError: x", log="x\n", output_of=REPORT),))],
    )
    page = new_page(REPORT)
    set_theme(page, theme)
    failures: list[str] = []

    page.locator(".jp-NotebookPanel .jp-Orchestrate-scheduleButton").first.click(timeout=90_000)
    dialog = page.locator(".jp-Orchestrate-scheduleDialog")
    expect(dialog.locator("#jp-Orchestrate-cron")).to_be_visible()
    if found := axe_violations(page, ".jp-Orchestrate-scheduleDialog .jp-Dialog-content"):
        failures.append(_report(found, "schedule dialog"))
    dialog.get_by_role("button", name="Cancel").click()

    panel = open_panel(page)
    panel.locator(f".jp-Orchestrate-graphNode[data-node-id='{REPORT_ID}']").click()
    expect(panel.locator(".jp-Orchestrate-nodeCard")).to_be_visible()
    views = {"pipeline": None, "schedules": "Schedules", "runs": "Runs"}
    for name, tab in views.items():
        if tab:
            panel.get_by_role("tab", name=tab).click()
        if name == "schedules":
            panel.get_by_role("button", name="Ticks").first.click()
        page.wait_for_timeout(500)
        if found := axe_violations(page, "#orchestrate-panel"):
            failures.append(_report(found, f"sidebar, {name}"))
    panel.locator(f"button[data-run-id='{run_id}']").click()
    expect(panel.locator(".jp-Orchestrate-runView .jp-Orchestrate-runHeader")).to_be_visible()
    if found := axe_violations(page, "#orchestrate-panel"):
        failures.append(_report(found, "sidebar, run page"))
    assert not failures, "\n".join(failures)
