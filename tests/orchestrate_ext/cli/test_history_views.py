"""`orchestrate runs` and `orchestrate show` as a person reads them: tables, groups, times labelled with their zone."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from orchestrate_ext.model import NodeStatus, RunStatus
from orchestrate_ext.store import StateStore
from tests.orchestrate_ext.cli.conftest import BERLIN, abbreviation, invoke
from tests.support.history import Step, record_run

LOAD, REPORT = "notebook.load", "notebook.report"
ERROR = "\n".join(
    ["Runtime Error in model fct_orders (models/marts/fct_orders.sql)"] + [f"  line {n}" for n in range(9)]
)


@pytest.fixture
def history(project: Path, store: StateStore, now: datetime) -> dict[str, str]:
    """Three finished runs (a scheduled success, a failure, a manual success) and one going on."""
    logs = project / ".orchestrate" / "runs"
    record_run(
        store,
        "r1-nightly",
        now - timedelta(hours=26, seconds=20),
        [Step(LOAD), Step(REPORT)],
        schedule="nightly",
        trigger="cron",
    )
    record_run(
        store,
        "r2-failed",
        now - timedelta(minutes=3, seconds=20),
        [
            Step(LOAD, NodeStatus.FAILED, ERROR, tries=2),
            Step(REPORT, NodeStatus.UPSTREAM_FAILED),
            Step("model.shop.stg", seconds=72),
        ],
        logs=logs / "r2-failed",
    )
    record_run(
        store,
        "r3-running",
        now - timedelta(minutes=1, seconds=20),
        [
            Step(LOAD, NodeStatus.RUNNING, kind="notebook"),
            Step(REPORT, NodeStatus.WAITING, waiting_for="waiting for warehouse (held by run r9 node x)"),
            Step("model.shop.stg", NodeStatus.SUCCESS, seconds=2.25),
            Step("model.shop.mart", NodeStatus.PENDING),
        ],
        status=RunStatus.RUNNING,
    )
    return {"logs": str(logs)}


def lines(output: str) -> list[str]:
    return output.splitlines()


def test_runs_is_a_table_with_status_symbols_durations_counts_and_labelled_local_times(
    project: Path, history: dict[str, str], now: datetime
) -> None:
    result = invoke(project, "runs")
    assert result.exit_code == 0, result.output
    header, *rows = lines(result.output)
    assert header.split() == ["RUN", "STATUS", "STARTED", "TOOK", "NODES", "TRIGGER", "LOGICAL", "DATE"]
    assert [row.split()[0] for row in rows] == ["r3-running", "r2-failed", "r1-nightly"], "newest first"
    running, failed, nightly = rows
    zone = abbreviation(now)
    assert "▶ running" in running and "1 ✓ 0 ✗ 1 ▶ 1 ⏸ 1 ·" in running and "so far" in running
    assert "✗ failed" in failed and "1 ✓ 1 ✗ 1 ⤫" in failed and "3 min ago (" in failed and f" {zone})" in failed
    assert "1 m 14 s" in failed, "the run took until its last node ended"
    assert "✓ success" in nightly and "1 day 2 h ago (" in nightly and "cron nightly" in nightly
    started = (now - timedelta(hours=26, seconds=20)).astimezone(BERLIN)
    assert f"({started:%Y-%m-%d %H:%M} {abbreviation(started)})" in nightly, "another day: the date is shown"
    assert all(not line.endswith(" ") for line in lines(result.output)), "plain output has no trailing spaces"
    assert "\x1b[" not in result.output, "no colour when piped"
    assert all(row.index(("▶", "✗", "✓")[i]) == header.index("STATUS") for i, row in enumerate(rows)), "aligned columns"


def test_runs_filters_are_answered_by_the_store(project: Path, history: dict[str, str]) -> None:
    def ids(*args: str) -> list[str]:
        result = invoke(project, "runs", *args)
        assert result.exit_code == 0, result.output
        return [line.split()[0] for line in lines(result.output)[1:] if not line.startswith(("1 of", "2 of"))]

    assert ids("--status", "failed") == ["r2-failed"]
    assert ids("--status", "failed", "--status", "running") == ["r3-running", "r2-failed"]
    assert ids("--schedule", "nightly") == ["r1-nightly"]
    assert ids("--node", "model.shop.stg") == ["r3-running", "r2-failed"]
    assert ids("--node", "stg") == ["r3-running", "r2-failed"], "a node's short name works too"
    assert ids("--since", "2h") == ["r3-running", "r2-failed"]
    assert ids("--since", "2m") == ["r3-running"]
    limited = invoke(project, "runs", "--limit", "1")
    assert lines(limited.output)[-1].startswith("1 of 3 runs, newest first")
    assert json.loads(invoke(project, "runs", "--json", "--status", "success").output)[0]["run_id"] == "r1-nightly"
    assert "no runs match" in invoke(project, "runs", "--schedule", "weekly").output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--node", "stgg"], "--node 'stgg' is no node of any run in the history; did you mean 'stg'?"),
        (["--since", "yesterday"], "--since: 'yesterday' is neither a duration"),
        (["--status", "broken"], "'broken' is not one of"),
    ],
)
def test_bad_filters_exit_2_and_say_what_to_write(
    project: Path, history: dict[str, str], args: list[str], message: str
) -> None:
    result = invoke(project, "runs", *args)
    assert result.exit_code == 2
    assert message in result.output


def test_runs_json_keeps_its_contract(project: Path, history: dict[str, str]) -> None:
    [document] = json.loads(invoke(project, "runs", "--json", "--status", "failed").output)
    assert set(document) >= {"run_id", "status", "trigger", "schedule", "logical_date", "started_at", "finished_at"}
    assert document["started_at"].endswith("Z") and document["status"] == "failed"


def test_utc_switches_every_time_to_utc(project: Path, history: dict[str, str], now: datetime) -> None:
    result = invoke(project, "runs", "--utc")
    assert " UTC)" in result.output and f" {abbreviation(now)})" not in result.output
    shown = invoke(project, "show", "r2-failed", "--utc").output
    assert "UTC" in shown and abbreviation(now) not in shown


def test_show_groups_nodes_failures_first_with_their_error_and_log(
    project: Path, history: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(project)
    result = invoke(project, "show", "r2-failed")
    assert result.exit_code == 0, result.output
    text = result.output
    assert lines(text)[0] == "run r2-failed  ✗ failed"
    assert "  nodes    1 ✓ 1 ✗ 1 ⤫" in text
    failed, upstream, success = (
        text.index(group) for group in ("✗ failed (1)", "⤫ upstream failed (1)", "✓ success (1)")
    )
    assert failed < upstream < success, "what went wrong comes first"
    block = text[failed:upstream]
    assert "  notebook.load  dbt · 2 tries · 1.5 s" in block
    assert "    Runtime Error in model fct_orders (models/marts/fct_orders.sql)" in block, "the error under its node"
    assert "      line 4" in block and "line 5" not in block and "… 4 more lines in the log" in block
    assert "    log: .orchestrate/runs/r2-failed/notebook.load.2.log" in block, "the last try's log, from here"
    assert "upstream failed" in text[upstream:success]
    assert "model.shop.stg" in text[success:] and "1 m 12 s" in text[success:]
    assert "run what failed or never ran again: orchestrate retry r2-failed" in text


def test_show_of_a_running_run_says_what_runs_and_what_waits(project: Path, history: dict[str, str]) -> None:
    text = invoke(project, "show", "r3-running").output
    assert lines(text)[0] == "run r3-running  ▶ running"
    assert "(1/4 done)" in text and "so far" in text
    running = text[text.index("▶ running (1)") :]
    assert "notebook.load" in running.splitlines()[2] and "running for" in running.splitlines()[2]
    assert "waiting for warehouse (held by run r9 node x)" in text[text.index("⏸ waiting (1)") :]
    assert (
        text.index("▶ running (1)")
        < text.index("⏸ waiting (1)")
        < text.index("· pending (1)")
        < text.index("✓ success (1)")
    )
    assert "follow it: orchestrate show r3-running --watch" in text


def test_show_json_keeps_its_contract(project: Path, history: dict[str, str]) -> None:
    document = json.loads(invoke(project, "show", "r2-failed", "--json").output)
    assert [node["id"] for node in document["nodes"]] == ["notebook.load", "notebook.report", "model.shop.stg"]
    assert {attempt["try_number"] for attempt in document["attempts"] if attempt["node_id"] == LOAD} == {1, 2}


def test_an_unknown_run_exits_2(project: Path, history: dict[str, str]) -> None:
    result = invoke(project, "show", "r2-faild")
    assert result.exit_code == 2 and "no run with id 'r2-faild'" in result.output


def test_on_a_terminal_the_views_are_coloured_tables(project: Path, history: dict[str, str]) -> None:
    result = invoke(project, "runs", FORCE_COLOR="1", COLUMNS="160")
    assert "\x1b[" in result.output, "colour on a terminal"
    assert "─" * 20 in result.output, "a rule under the header"
    assert "\x1b[31m✗ failed" in result.output or "\x1b[31m" in result.output
