"""Run records as an analyst reads them after the fact (issue 21: run records, errors where the eye lands).

A run reopened from the list shows what it left out; a retried run reads the same duration in the
list and on its page (first start to end, the resumption noted); the list shows each run's logical
date; a failed dbt node's cause (dbt's node message, not only its first line) is on the run page, on
the node's card and in the runs list's tooltip, with "Open log" beside it.
"""

from __future__ import annotations

import re

import pytest

from tests.jupyter_extension.lab_e2e.lab import REPORT_ID, Lab, document_view, open_panel
from tests.jupyter_extension.seed import Seeded, Try, seed_run

pytestmark = pytest.mark.slow

FCT_ORDERS = "model.shop.fct_orders"
DBT_ERROR = (
    "Runtime Error in model fct_orders (models/marts/fct_orders.sql)\n"
    '  Parser Error: syntax error at or near ","\n'
    "  LINE 19:     sum(amount),, count(*) as orders\n"
    "                           ^"
)
DBT_LOG = (
    "12:00:01  Running with dbt=1.11.0\n"
    "12:00:02  1 of 1 START sql table model main.fct_orders ... [RUN]\n"
    "12:00:03  1 of 1 ERROR creating sql table model main.fct_orders ... [ERROR in 0.05s]\n" + DBT_ERROR + "\n"
)


def _runs(panel):  # type: ignore[no-untyped-def]
    panel.get_by_role("tab", name="Runs").click()
    return panel.get_by_role("list", name="runs")


def test_a_run_reopened_from_the_list_shows_what_it_left_out(lab: Lab, new_page) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    reason = "notebooks/daily_report.ipynb: parameter 'top_n' is not in the notebook's parameters cell"
    run_id = seed_run(
        lab,
        "success",
        [Seeded("notebook.notebooks/ingest_orders", "success", (Try("success", -100, -90),))],
        left_out={REPORT_ID: reason},
    )
    page = new_page()
    panel = open_panel(page)
    _runs(panel).locator(f"button[data-run-id='{run_id}']").click()
    view = panel.locator(f".jp-Orchestrate-runView[data-run-id='{run_id}']")
    left_out = view.locator(".jp-Orchestrate-leftOut")
    expect(left_out).to_contain_text("Left out")
    expect(left_out).to_contain_text("daily_report")
    expect(left_out).to_contain_text("'top_n' is not in the notebook's parameters cell")


def test_a_retried_run_reads_one_duration_and_the_list_shows_logical_dates(lab: Lab, new_page) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    # First start 300 s ago, failed at -290, retried at -200, ended at -181: 1 m 59 s from first start to end.
    retried = seed_run(
        lab,
        "success",
        [
            Seeded(
                "notebook.notebooks/ingest_orders",
                "success",
                (Try("failed", -300, -290, error="boom"), Try("success", -200, -182)),
            )
        ],
        start=-300,
        interrupted=-290,
        resumed=-200,
        end=-181,
        logical=-86400 * 40,
        trigger="backfill",
        selection="notebooks/ingest_orders",
    )
    page = new_page(timezone="UTC")
    panel = open_panel(page)
    line = _runs(panel).locator(f"button[data-run-id='{retried}']")
    expect(line).to_contain_text("1 m 59 s")
    expect(line).to_contain_text("resumed 1×")
    assert " 16 s" not in line.inner_text() and "19 s" not in line.inner_text()  # never resumption → end
    logical = lab.rest("GET", f"orchestrate/api/runs/{retried}")["logical_date"]
    day = re.match(r"(\d{4})-(\d\d)-(\d\d)", logical)
    assert day is not None
    months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
    expect(line.locator(".jp-Orchestrate-logicalDate")).to_contain_text(
        f"for {int(day[3])} {months[int(day[2]) - 1]} {day[1]}"
    )

    line.click()
    header = panel.locator(f".jp-Orchestrate-runView[data-run-id='{retried}'] .jp-Orchestrate-runHeader")
    expect(header).to_contain_text("took 1 m 59 s · resumed 1×")
    # The timeline's axis: three times of day with seconds (start, middle, end), never the span.
    axis = panel.locator(".jp-Orchestrate-timelineAxis span")
    expect(axis).to_have_count(3)
    labels = axis.all_inner_texts()
    assert all(re.fullmatch(r"\d\d:\d\d:\d\d \S+", label) for label in labels), labels


def test_a_failed_dbt_node_shows_its_cause_where_the_eye_lands(lab: Lab, new_page) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    run_id = seed_run(
        lab,
        "failed",
        [Seeded(FCT_ORDERS, "failed", (Try("failed", -100, -90, error=DBT_ERROR, log=DBT_LOG),), kind="dbt")],
        selection="fct_orders",
    )
    page = new_page()
    panel = open_panel(page)

    # The runs list: the cause in the line's tooltip (and its first words under the line).
    line = _runs(panel).locator(f"button[data-run-id='{run_id}']")
    expect(line).to_have_attribute("title", re.compile(r'Parser Error: syntax error at or near ","'))
    expect(line).to_contain_text('Parser Error: syntax error at or near ","')

    # The run page: the cause, not only "Runtime Error in model …", with Open log beside it.
    line.click()
    view = panel.locator(f".jp-Orchestrate-runView[data-run-id='{run_id}']")
    row = view.locator(f".jp-Orchestrate-nodeRow[data-node-id='{FCT_ORDERS}']")
    cause = row.locator(".jp-Orchestrate-cause").first
    expect(cause).to_contain_text("Runtime Error in model fct_orders")
    expect(cause).to_contain_text('Parser Error: syntax error at or near ","')
    expect(cause).to_contain_text("LINE 19")
    cause.get_by_role("button", name="Open log").click()
    tab = page.locator(".jp-MainAreaWidget:visible").filter(has_text="1 of 1 START sql table model main.fct_orders")
    expect(tab.first).to_be_visible()

    # The node's card in the graph.
    panel.get_by_role("tab", name="Pipeline").click()
    panel.locator(f".jp-Orchestrate-graphNode[data-node-id='{FCT_ORDERS}']").click()
    card = panel.locator(f".jp-Orchestrate-nodeCard[data-node-id='{FCT_ORDERS}']")
    expect(card.locator(".jp-Orchestrate-cause")).to_contain_text('Parser Error: syntax error at or near ","')
    expect(card.get_by_role("button", name="Open log")).to_be_visible()
    # ORCHESTRATE_DOC_SCREENSHOTS=1 writes it to docs/img/ in the light and dark themes.
    document_view(page, "failed-dbt-node-card", f".jp-Orchestrate-nodeCard[data-node-id='{FCT_ORDERS}']")


def test_the_run_dialog_previews_what_will_run_and_what_is_left_out(lab: Lab, new_page) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    lab.edit_metadata(depends_on=["no_such_model"])  # daily_report is broken: a run leaves it out
    page = new_page()
    panel = open_panel(page)
    panel.get_by_role("button", name="Run…").click()
    dialog = page.locator(".jp-Dialog")
    preview = dialog.locator(".jp-Orchestrate-planPreview")
    dialog.locator("#jp-Orchestrate-run-selection").fill("notebooks/ingest_orders")
    expect(preview.locator(".jp-Orchestrate-planSummary")).to_have_text("1 will run", timeout=60_000)

    dialog.locator("#jp-Orchestrate-run-selection").fill("notebooks/daily_report notebooks/ingest_orders")
    summary = preview.locator(".jp-Orchestrate-planSummary")
    expect(summary).to_have_text("1 will run · 1 left out", timeout=60_000)
    summary.click()
    left_out = preview.locator(f"li[data-node-id='{REPORT_ID}']")
    expect(left_out).to_have_attribute("data-action", "left_out")
    expect(left_out).to_contain_text("no_such_model")
    expect(preview.locator("li[data-node-id='notebook.notebooks/ingest_orders']")).to_have_attribute(
        "data-action", "run"
    )
    before = lab.rest("GET", "orchestrate/api/runs")["total"]
    dialog.get_by_role("button", name="Cancel").click()
    assert lab.rest("GET", "orchestrate/api/runs")["total"] == before  # the preview starts nothing
