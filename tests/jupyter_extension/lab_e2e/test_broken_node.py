"""Issue 13, item 1: one typo in one notebook must not lock the whole UI.

The broken notebook is shown as broken, with the "did you mean" message and a
button that opens its Schedule dialog to fix it; the graph, the Schedules tab,
Run now and the dialog of every other notebook keep working.
"""

from __future__ import annotations

import pytest

from tests.jupyter_extension.lab_e2e.lab import (
    INGEST,
    REPORT,
    REPORT_ID,
    Lab,
    command,
    document_view,
    open_panel,
    widen_left_sidebar,
)

pytestmark = pytest.mark.slow

TYPO_HINT = "did you mean 'daily_revenue'?"


def test_a_typo_is_shown_on_its_node_and_fixed_from_the_panel(lab: Lab, new_page) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    lab.edit_metadata(REPORT, depends_on=["daily_revnue"])
    lab.edit_metadata(INGEST, schedule="0 5 * * *", timezone="UTC")
    page = new_page()
    panel = open_panel(page)

    # The graph shows every other node, and the broken one as broken with the message.
    expect(panel.locator(".jp-Orchestrate-graphNode[data-node-id='model.shop.daily_revenue']")).to_be_visible()
    node = panel.locator(f".jp-Orchestrate-graphNode[data-node-id='{REPORT_ID}']")
    expect(node).to_have_attribute("data-status", "broken")
    problems = panel.get_by_role("region", name="broken nodes")
    expect(problems).to_contain_text(TYPO_HINT)
    widen_left_sidebar(page, panel, to=460)
    document_view(page, "broken-node", "#orchestrate-panel")

    # The Schedules tab lists the healthy schedule, and marks the broken notebook's.
    panel.get_by_role("tab", name="Schedules").click()
    expect(panel.locator("[data-schedule='notebooks/ingest_orders']")).to_contain_text("next")

    # Every other notebook's dialog opens.
    command(page, "orchestrate:schedule-notebook", {"path": INGEST})
    dialog = page.locator(".jp-Orchestrate-scheduleDialog .jp-Dialog-content")
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_be_hidden()

    # Run now runs the rest and says what it left out (cancelled at once: only its start matters here).
    panel.locator(".jp-Orchestrate-runAll").click()
    page.locator(".jp-Dialog").get_by_role("button", name="Run").click()
    run_view = panel.locator(".jp-Orchestrate-runView")
    expect(run_view).to_contain_text("Left out")
    expect(run_view).to_contain_text("daily_report")
    run_view.get_by_role("button", name="Cancel run").click()
    page.locator(".jp-Dialog").get_by_role("button", name="Cancel run").click()
    expect(run_view.locator(".jp-Orchestrate-runHeader .jp-Orchestrate-badge")).not_to_have_attribute(
        "data-status", "running", timeout=60_000
    )

    # Fix it from the panel: the dialog opens on the broken notebook with the problem shown.
    panel.get_by_role("tab", name="Pipeline").click()
    panel.get_by_role("region", name="broken nodes").get_by_role("button", name="Fix").click()
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text(TYPO_HINT)
    dialog.get_by_label("remove dependency daily_revnue").click()
    dialog.locator("#jp-Orchestrate-dependsSearch").fill("daily_rev")
    dialog.get_by_label("depends-on choices").get_by_text("daily_revenue", exact=True).click()
    dialog.get_by_role("button", name="Save").click()
    expect(dialog).to_be_hidden()
    assert lab.metadata(REPORT)["orchestrate"]["depends_on"] == ["daily_revenue"]
    expect(node).not_to_have_attribute("data-status", "broken")
    expect(panel.get_by_role("region", name="broken nodes")).to_have_count(0)
