"""The happy path in a real browser: schedule the report notebook, run the pipeline, open the output.

Opens the report notebook, schedules it through the dialog, checks the
notebook's metadata on disk, starts "Run now" from the Orchestrate panel,
watches the run reach success and opens its output notebook.
"""

from __future__ import annotations

import json

import pytest

from tests.jupyter_extension.lab_e2e.lab import (
    REPORT,
    Lab,
    command,
    document_view,
    open_panel,
    save_screenshot,
    widen_left_sidebar,
)

pytestmark = pytest.mark.slow


def test_schedule_run_and_open_output_in_jupyterlab(lab: Lab, new_page) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    page = new_page(REPORT, width=1280, height=860)
    _scenario(page, lab, expect)


def _scenario(page, lab: Lab, expect) -> None:  # type: ignore[no-untyped-def]
    # The Schedule dialog, from the notebook's toolbar.
    page.locator(".jp-NotebookPanel .jp-Orchestrate-scheduleButton").click(timeout=90_000)
    dialog = page.locator(".jp-Orchestrate-scheduleDialog .jp-Dialog-content")
    expect(dialog).to_be_visible()
    dialog.locator("#jp-Orchestrate-preset").select_option("0 7 * * 1-5")
    dialog.locator("#jp-Orchestrate-timezone").fill("Europe/Berlin")
    expect(dialog.locator(".jp-Orchestrate-description")).to_have_text("At 07:00, Monday through Friday")
    times = dialog.locator(".jp-Orchestrate-nextTimes li")
    expect(times).to_have_count(3)
    expect(times.first).to_contain_text("07:00")
    dialog.get_by_label("parameter top_n value").fill("3")
    dialog.locator("#jp-Orchestrate-dependsSearch").fill("daily_rev")
    expect(dialog.get_by_label("depends-on choices").locator("li")).to_have_count(1)
    expect(dialog.get_by_label("depends-on choices").locator("input")).to_be_checked()
    dialog.locator("#jp-Orchestrate-owner").fill("ana@example.com")
    document_view(page, "schedule-dialog", ".jp-Orchestrate-scheduleDialog .jp-Dialog-content")
    dialog.get_by_role("button", name="Save").click()
    expect(dialog).to_be_hidden()

    # The schedule is in the notebook's own metadata.
    metadata = json.loads((lab.root / REPORT).read_text(encoding="utf-8"))["metadata"]["orchestrate"]
    assert metadata["schedule"] == "0 7 * * 1-5"
    assert metadata["timezone"] == "Europe/Berlin"
    assert metadata["parameters"] == {"top_n": 3}  # only what the user changed: warehouse keeps the cell's default
    assert metadata["depends_on"] == ["daily_revenue"]
    assert metadata["owner"] == "ana@example.com"

    # The Orchestrate panel: no scheduler yet, and the new schedule.
    panel = open_panel(page)
    widen_left_sidebar(page, panel, to=440)
    expect(panel.get_by_label("scheduler status")).to_contain_text("No scheduler is running")
    panel.get_by_role("tab", name="Schedules").click()
    schedule = panel.locator("[data-schedule='notebooks/daily_report']")
    expect(schedule).to_contain_text("At 07:00, Monday through Friday (Europe/Berlin)")
    expect(schedule).to_contain_text("next:")

    # Run now, and watch the run reach success.
    panel.locator(".jp-Orchestrate-runAll").click()
    page.locator(".jp-Dialog").get_by_role("button", name="Run").click()  # the whole pipeline: asked first
    run_view = panel.locator(".jp-Orchestrate-runView")
    expect(run_view).to_be_visible()
    expect(run_view.locator(".jp-Orchestrate-runHeader .jp-Orchestrate-badge")).to_have_attribute(
        "data-status", "success", timeout=240_000
    )
    report_row = run_view.locator(".jp-Orchestrate-nodeRow[data-node-id='notebook.notebooks/daily_report']")
    expect(report_row).to_have_attribute("data-status", "success")
    save_screenshot(panel.screenshot(), "orchestrate-panel.png")

    # The output notebook opens in Lab, read-only, with the parameters the run injected.
    report_row.locator(".jp-Orchestrate-openOutput").first.click()
    tab = page.locator(".jp-MainAreaWidget.jp-NotebookPanel", has_text="top_n = 3").last
    expect(page.get_by_role("tab", name="daily_report.try1.ipynb")).to_be_visible()
    expect(tab).to_contain_text("# Parameters")
    expect(tab).to_contain_text("wrote reports/output/daily_report_")

    # The pipeline graph colors the nodes by their last status.
    panel.get_by_role("tab", name="Pipeline").click()
    node = panel.locator(".jp-Orchestrate-graphNode[data-node-id='notebook.notebooks/daily_report']")
    expect(node).to_have_attribute("data-status", "success")
    expect(node).to_contain_text("succeeded")
    node.click()
    card = panel.locator(".jp-Orchestrate-nodeCard[data-node-id='notebook.notebooks/daily_report']")
    expect(card).to_contain_text("succeeded")
    expect(card.get_by_role("button", name="Schedule…")).to_be_visible()
    save_screenshot(panel.screenshot(), "pipeline-graph.png")


def test_scheduling_a_notebook_with_unsaved_edits_keeps_them_and_the_next_save_is_no_conflict(  # type: ignore[no-untyped-def]
    lab: Lab, new_page
) -> None:
    """Lab marks an open notebook edited (by the user, or when its kernel starts): the schedule the server wrote
    goes into the open copy, and the user's next save writes both without a "File Changed" conflict."""
    from playwright.sync_api import expect

    page = new_page(REPORT, width=1280, height=860)
    expect(page.locator(".jp-NotebookPanel .jp-Spinner")).to_have_count(0, timeout=90_000)
    page.locator(".jp-NotebookPanel .jp-CodeCell .cm-content").first.click()
    page.keyboard.press("Control+End")
    page.keyboard.type("\n# edited by hand")
    expect(page.locator(".lm-TabBar-tab.jp-mod-dirty")).to_have_count(1)

    page.locator(".jp-NotebookPanel .jp-Orchestrate-scheduleButton").click()
    dialog = page.locator(".jp-Orchestrate-scheduleDialog .jp-Dialog-content")
    dialog.locator("#jp-Orchestrate-preset").select_option("0 7 * * 1-5")
    dialog.get_by_role("button", name="Save").click()
    expect(dialog).to_be_hidden()
    on_disk = json.loads((lab.root / REPORT).read_text(encoding="utf-8"))
    assert on_disk["metadata"]["orchestrate"]["schedule"] == "0 7 * * 1-5"
    assert "# edited by hand" not in json.dumps(on_disk)  # the user's edit is not saved for them

    command(page, "docmanager:save")  # as Ctrl+S does
    expect(page.locator(".lm-TabBar-tab.jp-mod-dirty")).to_have_count(0)
    expect(page.locator(".jp-Dialog")).to_have_count(0)
    saved = json.loads((lab.root / REPORT).read_text(encoding="utf-8"))
    assert any("# edited by hand" in "".join(cell["source"]) for cell in saved["cells"])
    assert saved["metadata"]["orchestrate"]["schedule"] == "0 7 * * 1-5"
