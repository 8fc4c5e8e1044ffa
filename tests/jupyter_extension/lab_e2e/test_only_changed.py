"""Only what changed from the Lab (issue 12), in a real browser, with real notebook runs.

The Run… dialog's checkbox (pre-set to the project's ``defaults.only_changed``)
posts ``only_changed``; the second run of an unchanged notebook shows it
``reused`` everywhere a status shows (the node row, the timeline, the runs
list, the graph and its legend), with the reason and a link to the run whose
result it reuses.
"""

from __future__ import annotations

import re

import pytest

from tests.jupyter_extension.lab_e2e.lab import (
    Lab,
    axe_violations,
    document_view,
    open_panel,
    set_theme,
    widen_left_sidebar,
)

pytestmark = pytest.mark.slow

INGEST_ID = "notebook.notebooks/ingest_orders"


def _run_ingest(page, panel, *, checked_before: bool, previous: str = ""):  # type: ignore[no-untyped-def]
    """Run… the ingest notebook for a fixed logical date with Only what changed; its finished run page."""
    from playwright.sync_api import expect

    panel.get_by_role("button", name="Run…").click()
    dialog = page.locator(".jp-Dialog")
    box = dialog.get_by_label("Only what changed")
    if checked_before:
        expect(box).to_be_checked()
    else:
        expect(box).not_to_be_checked()
        box.check()
    dialog.locator("#jp-Orchestrate-run-selection").fill("notebooks/ingest_orders")
    dialog.locator("#jp-Orchestrate-run-logical").fill("2024-01-31T06:00")
    dialog.get_by_role("button", name="Run now").click()
    view = panel.locator(".jp-Orchestrate-runView")
    expect(view).not_to_have_attribute("data-run-id", previous or "-")
    expect(view.locator(".jp-Orchestrate-runHeader .jp-Orchestrate-badge").first).to_have_attribute(
        "data-status", "success", timeout=180_000
    )
    return view


def test_a_second_run_reuses_the_unchanged_notebook_and_says_why(lab: Lab, new_page) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    page = new_page()
    panel = open_panel(page)
    widen_left_sidebar(page, panel, to=460)

    # The first run: the box starts off (the project's default), checked by hand; the node runs.
    first = _run_ingest(page, panel, checked_before=False)
    first_id = first.get_attribute("data-run-id")
    assert first_id and lab.rest("GET", f"orchestrate/api/runs/{first_id}")["only_changed"] is True
    expect(first.locator(".jp-Orchestrate-onlyChanged")).to_have_text("Only what changed: 0 of 1 node reused")
    row = first.locator(f".jp-Orchestrate-nodeRow[data-node-id='{INGEST_ID}']")
    expect(row).to_have_attribute("data-status", "success")
    expect(row.locator(".jp-Orchestrate-nodeReason")).to_have_text("Ran: no earlier success")

    # The second run, with defaults.only_changed now on in orchestrate.yaml: the box starts checked.
    config = lab.root / "orchestrate.yaml"
    config.write_text(config.read_text(encoding="utf-8").replace("defaults:\n", "defaults:\n  only_changed: true\n"))
    second = _run_ingest(page, panel, checked_before=True, previous=first_id)
    second_id = second.get_attribute("data-run-id")
    assert second_id and second_id != first_id
    expect(second.locator(".jp-Orchestrate-onlyChanged")).to_have_text("Only what changed: 1 of 1 node reused")
    row = second.locator(f".jp-Orchestrate-nodeRow[data-node-id='{INGEST_ID}']")
    expect(row).to_have_attribute("data-status", "reused")
    expect(row.locator(".jp-Orchestrate-badge")).to_have_text("reused")
    reason = row.locator(".jp-Orchestrate-nodeReason")
    expect(reason).to_have_text(f"Reused: code unchanged, inputs unchanged since {first_id}")
    expect(reason.locator(".jp-Orchestrate-reusedFrom")).to_have_text(first_id)
    mark = second.get_by_role("figure", name="timeline of the run").locator(".jp-Orchestrate-timelineBar")
    expect(mark).to_have_count(1)
    expect(mark).to_have_attribute("data-status", "reused")
    expect(mark).to_have_attribute("aria-label", re.compile(f"reused from run {first_id}"))
    document_view(page, "run-page-reused", "#orchestrate-panel")
    for theme in ("dark", "light"):  # the reason, the hollow marks and the links are readable in both
        set_theme(page, theme)
        assert axe_violations(page, "#orchestrate-panel") == [], theme

    # The link goes to the run whose result the node reuses.
    row.locator(".jp-Orchestrate-reusedFrom").click()
    reused = panel.locator(f".jp-Orchestrate-runView[data-run-id='{first_id}']")
    expect(reused).to_be_visible()
    expect(reused.locator(f".jp-Orchestrate-nodeRow[data-node-id='{INGEST_ID}']")).to_have_attribute(
        "data-status", "success"
    )

    # The runs list counts the reused node; the graph and its legend draw it as reused.
    reused.get_by_role("button", name="← Runs").click()
    badge = ".jp-Orchestrate-badge[data-status='reused']"
    expect(panel.locator(f"button[data-run-id='{second_id}'] {badge}")).to_have_text("1 reused")
    expect(panel.locator(f"button[data-run-id='{first_id}'] {badge}")).to_have_count(0)
    panel.get_by_role("tab", name="Pipeline").click()
    node = panel.locator(f".jp-Orchestrate-graphNode[data-node-id='{INGEST_ID}']")
    expect(node).to_have_attribute("data-status", "reused")
    expect(node.locator(".jp-Orchestrate-freshness")).to_contain_text("reused")
    panel.locator(".jp-Orchestrate-legend summary").click()
    expect(panel.get_by_role("list", name="legend")).to_contain_text("reused: unchanged")
