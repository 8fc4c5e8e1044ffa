"""Issue 21: "Fix…" on a broken notebook that was never scheduled opens on "Not scheduled"; Enter in a text
field never saves; Save fixes the notebook without scheduling it."""

from __future__ import annotations

import pytest

from tests.jupyter_extension.lab_e2e.lab import REPORT, Lab, command, open_panel

pytestmark = pytest.mark.slow

DIALOG = ".jp-Orchestrate-scheduleDialog .jp-Dialog-content"


def test_fix_on_a_never_scheduled_notebook_saves_without_scheduling_it(lab: Lab, new_page) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    assert "schedule" not in lab.metadata(REPORT).get("orchestrate", {})
    lab.edit_metadata(REPORT, depends_on=["daily_revnue"])
    page = new_page()
    open_panel(page)
    command(page, "orchestrate:schedule-notebook", {"path": REPORT})  # what the Fix… buttons do
    dialog = page.locator(DIALOG)
    expect(dialog).to_contain_text("did you mean 'daily_revenue'?")
    preset = dialog.locator("#jp-Orchestrate-preset")
    expect(preset).to_have_value("")
    expect(preset.locator("option:checked")).to_have_text("Not scheduled")
    save = page.locator(".jp-Orchestrate-scheduleDialog .jp-Dialog-footer .jp-mod-accept")
    expect(save).to_have_text("Save")

    # Enter in a text field stays in the field: the dialog stays open and nothing is written.
    dialog.get_by_label("remove dependency daily_revnue").click()
    dialog.locator("#jp-Orchestrate-owner").fill("ana@example.com")
    dialog.locator("#jp-Orchestrate-owner").press("Enter")
    dialog.locator("#jp-Orchestrate-timezone").fill("Europe/Berlin")
    dialog.locator("#jp-Orchestrate-timezone").press("Enter")
    page.wait_for_timeout(1500)
    expect(dialog).to_be_visible()
    assert lab.metadata(REPORT)["orchestrate"]["depends_on"] == ["daily_revnue"]

    # Choosing a Repeat says Save will schedule it; going back to "Not scheduled" says it will not.
    preset.select_option("0 7 * * 1-5")
    expect(save).to_have_text("Save and schedule")
    preset.select_option("")
    expect(save).to_have_text("Save")

    save.click()
    expect(dialog).to_be_hidden()
    saved = lab.metadata(REPORT)["orchestrate"]
    assert not saved.get("depends_on")  # the typo is gone (an empty list is not written)
    assert saved["owner"] == "ana@example.com"
    assert "schedule" not in saved and "timezone" not in saved, saved
