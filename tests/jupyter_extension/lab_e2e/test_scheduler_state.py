"""The scheduler's state in the panel (issue 21): failed with the reason and its log, running since when,
Stop (which asks first), stopped. Screenshots of each state in both themes go to docs/img/ with
ORCHESTRATE_DOC_SCREENSHOTS=1."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.jupyter_extension.lab_e2e.lab import THEMES, Lab, axe_violations, document_view, open_panel, set_theme

pytestmark = pytest.mark.slow

BANNER = "#orchestrate-panel [aria-label='scheduler status']"
NO_DASK = "executor: {type: dask, address_env: ORCHESTRATE_TEST_NO_SUCH_DASK}\n"


def banner_of(page: Any) -> Any:
    return open_panel(page).get_by_role("status", name="scheduler status")


def check_both_themes(page: Any, view: str) -> None:
    """0 serious or critical axe violations on the banner in both themes; its screenshots."""
    for theme in THEMES:
        set_theme(page, theme)
        assert axe_violations(page, BANNER) == [], theme
    set_theme(page, "light")
    document_view(page, view, BANNER)


def test_a_scheduler_that_cannot_start_says_why_and_shows_its_log(lab: Lab, new_page) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    with (lab.root / "orchestrate.yaml").open("a", encoding="utf-8") as config:
        config.write(NO_DASK)  # the project loads, but the scheduler cannot connect its executor
    page = new_page()
    banner = banner_of(page)
    banner.get_by_role("button", name="Start scheduler").click()
    failed = page.locator(f"{BANNER}[data-state='failed']")
    expect(failed).to_contain_text("The scheduler failed", timeout=60_000)
    expect(failed).to_contain_text("the scheduler cannot start")
    expect(failed).to_contain_text("ORCHESTRATE_TEST_NO_SUCH_DASK")
    log = failed.get_by_label("the scheduler's log")
    expect(log).to_be_visible()
    expect(log).to_contain_text("cannot start")
    expect(failed.get_by_role("button", name="Start again")).to_be_enabled()
    check_both_themes(page, "scheduler-failed")


def test_start_shows_running_since_and_stop_asks_first(lab: Lab, new_page) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    page = new_page()
    banner = banner_of(page)
    # after the test above the last scheduler failed: the button then reads "Start again"
    banner.get_by_role("button", name=re.compile(r"^Start (scheduler|again)$")).click()
    running = page.locator(f"{BANNER}[data-state='running']")
    expect(running).to_contain_text("Scheduler running since", timeout=60_000)
    expect(running).to_contain_text("pid")
    check_both_themes(page, "scheduler-running")

    running.get_by_role("button", name="Stop scheduler").click()
    dialog = page.locator(".jp-Dialog")
    expect(dialog).to_contain_text("Stop the scheduler?")
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_have_count(0)
    page.wait_for_timeout(1500)
    expect(running).to_be_visible()  # Cancel kept it running

    running.get_by_role("button", name="Stop scheduler").click()
    page.locator(".jp-Dialog").get_by_role("button", name="Stop scheduler").click()
    stopped = page.locator(f"{BANNER}[data-state='stopped']")
    expect(stopped).to_contain_text("No scheduler is running", timeout=60_000)
    expect(stopped).to_contain_text("stopped by SIGTERM")
    expect(stopped.get_by_role("button", name="Start scheduler")).to_be_enabled()
    check_both_themes(page, "scheduler-stopped")
