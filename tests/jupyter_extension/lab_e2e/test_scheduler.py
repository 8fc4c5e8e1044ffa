"""Starting the scheduler from the panel, its ticks and a backfill (issue 13, item 9 and the Ticks view)."""

from __future__ import annotations

import time

import pytest

from tests.jupyter_extension.lab_e2e.lab import Lab, open_panel

pytestmark = pytest.mark.slow


def test_start_scheduler_says_at_once_and_then_that_it_runs(lab: Lab, new_page) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    page = new_page()
    panel = open_panel(page)
    banner = panel.get_by_role("status", name="scheduler status")
    expect(banner).to_contain_text("No scheduler is running")
    banner.get_by_role("button", name="Start scheduler").click()
    clicked = time.monotonic()
    expect(banner).not_to_contain_text("No scheduler is running", timeout=1500)
    expect(banner).to_contain_text("Scheduler running", timeout=30_000)
    assert time.monotonic() - clicked < 30
    expect(banner).to_contain_text("pid")
