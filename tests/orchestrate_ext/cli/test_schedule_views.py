"""`orchestrate schedules` and `orchestrate ticks` as tables: state, next fire, last run, what became of each tick."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

from orchestrate_ext.model import NodeRunRecord, NodeStatus, RunRecord, RunStatus
from orchestrate_ext.store import StateStore
from orchestrate_ext.store.records import NewTick, TickStatus, Trigger
from tests.orchestrate_ext.cli.conftest import abbreviation, invoke
from tests.support.stores import close_run


def test_schedules_is_a_table_with_next_fire_and_last_run(project: Path, store: StateStore, now: datetime) -> None:
    fire = now - timedelta(hours=1)
    run = RunRecord("r-nightly", RunStatus.RUNNING, fire, fire, trigger="cron", schedule="nightly", started_at=fire)
    with store.transaction() as tx:
        _, started = tx.create_tick_run(
            NewTick("nightly", fire, Trigger.CRON, f"cron@{fire.isoformat()}"),
            run,
            [NodeRunRecord("r-nightly", "notebook.load", "notebook", NodeStatus.PENDING)],
            owner=None,
            fence=None,
            now=fire,
        )
    assert started.started
    close_run(store, "r-nightly", RunStatus.SUCCESS)
    result = invoke(project, "schedules")
    assert result.exit_code == 0, result.output
    header, row = result.output.splitlines()
    assert header.split() == [
        "NAME",
        "STATE",
        "TRIGGER",
        "NEXT",
        "FIRE",
        "LAST",
        "RUN",
        "TOOK",
        "STARTED",
        "RUNS",
        "FROM",
    ]
    assert row.startswith("nightly  ✓ active  cron ")
    assert " CET)" in row or " CEST)" in row, "the next fire time in the local zone, labelled"
    assert "✓ success r-nightly" in row and "1 h ago" in row and "load" in row and "orchestrate.yaml" in row
    assert json.loads(invoke(project, "schedules", "--json").output)[0]["last_run"]["run_id"] == "r-nightly"
    assert len(json.loads(invoke(project, "schedules", "--json").output)[0]["next_fire_times"]) == 3, "as before"
    listed = invoke(project, "schedules", "--count", "2").output
    assert listed.splitlines()[-3:][0] == "  nightly:" and listed.count("    in ") == 2


def test_ticks_say_what_became_of_each_fire_time(project: Path, store: StateStore, now: datetime) -> None:
    first, second = now - timedelta(days=1, minutes=5), now - timedelta(minutes=5)
    run = RunRecord("r-tick", RunStatus.RUNNING, first, first, trigger="cron", schedule="nightly", started_at=first)
    with store.transaction() as tx:
        tx.create_tick_run(
            NewTick("nightly", first, Trigger.CRON, "cron@1"),
            run,
            [NodeRunRecord("r-tick", "notebook.load", "notebook", NodeStatus.PENDING)],
            owner=None,
            fence=None,
            now=first,
        )
        tx.record_ticks(
            [
                (
                    "nightly",
                    [NewTick("nightly", second, Trigger.CATCH_UP, "cron@2", TickStatus.SKIPPED, "catchup: none")],
                    None,
                )
            ],
            None,
            second,
        )
    close_run(store, "r-tick", RunStatus.FAILED)
    result = invoke(project, "ticks")
    header, newest, oldest = result.output.splitlines()
    assert header.split() == ["TICK", "SCHEDULE", "FIRE", "TIME", "TRIGGER", "STATUS", "OUTCOME"]
    assert "5 min ago (" in newest and "catch-up" in newest and "- skipped" in newest and "catchup: none" in newest
    assert "1 day ago (" in oldest and f" {abbreviation(first)})" in oldest
    assert "→ ran" in oldest and "run r-tick ✗ failed" in oldest
    assert json.loads(invoke(project, "ticks", "--json").output)[1]["run_id"] == "r-tick"
    [only] = invoke(project, "ticks", "nightly", "--limit", "1", "--utc").output.splitlines()[1:]
    assert "catch-up" in only and " UTC)" in only
