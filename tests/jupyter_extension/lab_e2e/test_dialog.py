"""The Schedule dialog and the notebook toolbar when the user does something slightly off.

Issue 13, items 4, 5, 8, 12, 13 and 14 (the saving part).
"""

from __future__ import annotations

import json

import pytest

from tests.jupyter_extension.lab_e2e.lab import REPORT, REPORT_ID, Lab, command, open_panel
from tests.jupyter_extension.seed import Seeded, Try, seed_run

pytestmark = pytest.mark.slow

DIALOG = ".jp-Orchestrate-scheduleDialog .jp-Dialog-content"


def _open_dialog(page):  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    page.locator(".jp-NotebookPanel .jp-Orchestrate-scheduleButton").first.click(timeout=90_000)
    dialog = page.locator(DIALOG)
    expect(dialog).to_be_visible()
    return dialog


def test_enter_in_the_search_box_does_not_save(lab: Lab, new_page) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    page = new_page(REPORT)
    dialog = _open_dialog(page)
    before = (lab.root / REPORT).read_bytes()
    choices = dialog.get_by_role("list", name="depends-on choices").locator("li")
    expect(choices.first).to_be_visible(timeout=60_000)  # the form has loaded (the first Lab start is slow)
    search = dialog.locator("#jp-Orchestrate-dependsSearch")
    search.fill("stg_ord")
    expect(choices.filter(has_text="stg_orders").first).to_be_visible()  # the search box has taken the text
    search.press("Enter")
    page.wait_for_timeout(1000)
    assert dialog.is_visible()
    assert (lab.root / REPORT).read_bytes() == before


def test_errors_show_as_they_happen_in_plain_words_and_block_saving(lab: Lab, new_page) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    page = new_page(REPORT)
    dialog = _open_dialog(page)
    save = page.locator(".jp-Orchestrate-scheduleDialog").get_by_role("button", name="Save")

    # A time zone is checked as it is typed, with a suggestion for what was typed.
    dialog.locator("#jp-Orchestrate-timezone").fill("Europe/Berln")
    expect(dialog.locator("#jp-Orchestrate-timezone-error")).to_contain_text("Europe/Berlin")
    expect(save).to_be_disabled()
    dialog.locator("#jp-Orchestrate-timezone").fill("America/Sao_Paulo")
    expect(dialog.locator("#jp-Orchestrate-timezone-error")).to_have_count(0)
    expect(save).to_be_enabled()

    # A parameter the notebook does not have is refused.
    dialog.get_by_role("button", name="Add parameter").click()
    dialog.get_by_label("parameter 3 name").fill("top_m")
    dialog.get_by_label("parameter top_m value").fill("4")
    expect(dialog).to_contain_text("no parameter 'top_m'")
    expect(save).to_be_disabled()
    dialog.get_by_role("button", name="Remove parameter top_m").click()
    expect(save).to_be_enabled()

    # The server's verdict (a cron that never fires) shows at the field, in plain words, where it is seen.
    dialog.locator("#jp-Orchestrate-cron").fill("0 7 31 2 *")
    save.click()
    error = dialog.locator("#jp-Orchestrate-cron-error")
    expect(error).to_contain_text("never matches a date")
    expect(error).to_be_in_viewport()
    assert "Value error" not in error.inner_text() and "orchestrate." not in error.inner_text()
    expect(dialog).to_be_visible()


def test_saving_writes_only_what_the_user_set_and_says_so(lab: Lab, new_page) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    before = json.loads((lab.root / REPORT).read_text(encoding="utf-8"))
    page = new_page(REPORT)
    expect(page.locator(".jp-NotebookPanel .jp-Notebook-cell").first).to_be_visible()
    page.wait_for_timeout(3000)  # the kernel starts and tells Lab its language_info
    dialog = _open_dialog(page)
    dialog.locator("#jp-Orchestrate-preset").select_option("0 7 * * 1-5")
    dialog.locator("#jp-Orchestrate-timezone").fill("Europe/Berlin")
    page.locator(".jp-Orchestrate-scheduleDialog").get_by_role("button", name="Save").click()
    expect(dialog).to_be_hidden()

    after = json.loads((lab.root / REPORT).read_text(encoding="utf-8"))
    assert after["cells"] == before["cells"]
    assert after["metadata"]["kernelspec"] == before["metadata"]["kernelspec"]
    assert after["metadata"]["language_info"] == before["metadata"]["language_info"]
    assert after["metadata"]["orchestrate"] == {
        **before["metadata"]["orchestrate"],
        "schedule": "0 7 * * 1-5",
        "timezone": "Europe/Berlin",
        "scheduled_as": REPORT,
    }
    # Saving says so, and the toolbar button shows that the notebook is scheduled.
    expect(page.locator(".jp-toast-message, .Toastify__toast").first).to_contain_text("daily_report")
    expect(page.locator(".jp-NotebookPanel .jp-Orchestrate-scheduleButton").first).to_contain_text("Scheduled")


def test_a_duplicated_notebook_does_not_start_firing_unnoticed(lab: Lab, new_page) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    lab.rest(
        "POST",
        "orchestrate/api/schedules",
        {"notebook": REPORT, "cron": "0 7 * * 1-5", "timezone": "Europe/Berlin"},
    )
    page = new_page("notebooks")
    item = page.locator(".jp-DirListing-item[title^='Name: daily_report.ipynb']")
    item.click(button="right")
    page.locator(".lm-Menu-item", has_text="Duplicate").click()
    copy = "notebooks/daily_report-Copy1.ipynb"
    expect(page.locator(".jp-DirListing-item[title^='Name: daily_report-Copy1.ipynb']")).to_be_visible()
    assert (lab.root / copy).is_file()

    panel = open_panel(page)
    panel.get_by_role("tab", name="Schedules").click()
    held = panel.locator("[data-schedule='notebooks/daily_report-Copy1']")
    expect(held).to_contain_text("copy of notebooks/daily_report.ipynb")
    expect(held).to_contain_text("does not fire")

    # Opening the copy says so; its dialog asks to confirm before the copy's schedule starts.
    command(page, "docmanager:open", {"path": copy})
    button = page.locator(".jp-NotebookPanel:visible .jp-Orchestrate-scheduleButton")
    expect(button).to_contain_text("copy")
    button.click()
    dialog = page.locator(DIALOG)
    expect(dialog).to_contain_text("copy of notebooks/daily_report.ipynb")
    page.locator(".jp-Orchestrate-scheduleDialog").get_by_role("button", name="Start this schedule").click()
    expect(dialog).to_be_hidden()
    expect(held).to_contain_text("next")
    expect(held).not_to_contain_text("does not fire")


def test_no_schedule_button_on_an_output_notebook(lab: Lab, new_page) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    run_id = seed_run(
        lab,
        "success",
        [Seeded(REPORT_ID, "success", (Try("success", -100, -90, log="ok\n", output_of=REPORT),))],
        selection="notebooks/daily_report",
    )
    page = new_page()
    panel = open_panel(page)
    panel.get_by_role("tab", name="Runs").click()
    panel.locator(f"[data-run-id='{run_id}']").first.click()
    panel.locator(".jp-Orchestrate-openOutput").first.click()
    output = page.locator(".jp-NotebookPanel:visible")
    expect(page.get_by_role("tab", name="daily_report.try1.ipynb")).to_be_visible()
    expect(output.locator(".jp-Notebook-cell").first).to_be_visible()
    page.wait_for_timeout(1000)
    expect(output.locator(".jp-Orchestrate-scheduleButton")).to_have_count(0)
