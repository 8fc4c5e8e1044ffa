"""`orchestrate status` and `orchestrate freshness`: health at a glance, and exit codes a cron check can use."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from orchestrate_ext.cron import CronSchedule
from orchestrate_ext.execution.liveness import ProcessIdentity, host_name
from orchestrate_ext.model import NodeStatus, RunStatus
from orchestrate_ext.store import StateStore
from tests.orchestrate_ext.cli.conftest import invoke, write_notebook
from tests.support.history import Step, record_run

LOAD, REPORT = "notebook.load", "notebook.report"
TWO_DAYS = timedelta(days=2)


def last_fire(cron: str, now: datetime) -> datetime:
    fired = CronSchedule(cron, "Europe/Berlin").previous_at_or_before(now)
    assert fired is not None
    return fired


def test_a_fresh_pipeline_is_healthy_and_exits_0(
    project: Path, store: StateStore, now: datetime, nightly_cron: str
) -> None:
    record_run(store, "r1", now - timedelta(minutes=2), [Step(LOAD), Step(REPORT)], schedule="nightly", trigger="cron")
    result = invoke(project, "status")
    assert result.exit_code == 0, result.output
    text = result.output
    assert text.splitlines()[0].startswith("✓ healthy: 2 nodes checked, none failing, none stale (")
    assert "scheduler  ✗ not running; start it with `orchestrate scheduler`" in text
    nightly = next(line for line in text.splitlines() if line.startswith("  nightly"))
    assert f"cron {nightly_cron} (Europe/Berlin)" in nightly and " in 2" in nightly, "the next fire time, in 20-21 h"
    assert "✓ success r1" in nightly and "2.5 s" in nightly and "2 min ago" in nightly, (
        "the last run: status, took, when"
    )
    assert "running now  none" in text and "failing  none" in text and "stale  none" in text


def test_a_failing_node_makes_status_exit_1_and_shows_its_error(
    project: Path, store: StateStore, now: datetime
) -> None:
    record_run(store, "r1", now - timedelta(minutes=30), [Step(LOAD), Step(REPORT)])
    record_run(
        store,
        "r2",
        now - timedelta(minutes=5, seconds=20),
        [
            Step(LOAD, NodeStatus.FAILED, "ValueError: no rows for 2026-11-30\nTraceback ..."),
            Step(REPORT, NodeStatus.UPSTREAM_FAILED),
        ],
    )
    result = invoke(project, "status")
    assert result.exit_code == 1
    text = result.output
    assert text.splitlines()[0].startswith("✗ unhealthy: 1 failing of 2 nodes (")
    failing = text[text.index("failing (1)") :]
    assert failing.splitlines()[1].startswith("  ✗ notebook.load  in run r2, 5 min ago")
    assert failing.splitlines()[2:4] == ["      ValueError: no rows for 2026-11-30", "      Traceback ..."]
    assert failing.splitlines()[4] == "  the whole run: orchestrate show r2"
    assert "notebook.report" not in failing.split("stale")[0], "a node blocked upstream is not failing itself"
    document = json.loads(invoke(project, "status", "--json").output)
    assert document["healthy"] is False
    assert [(node["node_id"], node["run_id"]) for node in document["failing"]] == [(LOAD, "r2")]


def test_stale_nodes_past_their_freshness_or_their_schedule_make_status_exit_1(
    project: Path, store: StateStore, now: datetime, nightly_cron: str
) -> None:
    record_run(store, "r1", now - timedelta(minutes=2), [Step(LOAD), Step(REPORT)])
    assert invoke(project, "status").exit_code == 0
    later = now + TWO_DAYS
    result = invoke(project, "status", at=later)
    assert result.exit_code == 1, result.output
    text = result.output
    assert text.splitlines()[0].startswith("✗ unhealthy: 2 stale of 2 nodes (")
    stale = text[text.index("stale (2)") :]
    load = next(line for line in stale.splitlines() if "⧗ notebook.load" in line)
    fired = last_fire(nightly_cron, later).astimezone(ZoneInfo("Europe/Berlin"))
    assert "2 days ago (" in load and "schedule nightly fired " in load and f"({fired:%H:%M} " in load
    report = next(line for line in stale.splitlines() if "⧗ notebook.report" in line)
    assert "freshness 1 day: due 1 day ago" in report or "freshness 1 day: due 23 h" in report
    document = json.loads(invoke(project, "status", "--json", at=now + TWO_DAYS).output)
    reasons = {item["node_id"]: [reason["by"] for reason in item["reasons"]] for item in document["stale"]}
    assert reasons == {LOAD: ["schedule"], REPORT: ["freshness"]}


def test_a_paused_schedule_makes_nothing_stale(project: Path, store: StateStore, now: datetime) -> None:
    record_run(store, "r1", now - timedelta(minutes=2), [Step(LOAD)])
    with store.transaction() as tx:
        tx.set_paused("nightly", True, now, None)
    result = invoke(project, "status", at=now + TWO_DAYS)
    assert "⧗ notebook.load" not in result.output
    assert "paused" in next(line for line in result.output.splitlines() if line.startswith("  nightly"))


def test_a_run_going_on_shows_its_progress_and_refreshes_its_nodes(
    project: Path, store: StateStore, now: datetime
) -> None:
    record_run(
        store,
        "r-live",
        now - timedelta(minutes=3),
        [Step(LOAD), Step(REPORT, NodeStatus.RUNNING)],
        status=RunStatus.RUNNING,
        heartbeat=now - timedelta(minutes=2),
    )
    result = invoke(project, "status")
    text = result.output
    assert result.exit_code == 1, "report never succeeded and has a freshness SLA: stale, even while running"
    running = text[text.index("running now (1)") :].splitlines()
    assert running[2].split()[:3] == ["r-live", "1/2", "done"]
    assert "1 ✓ 0 ✗ 1 ▶" in running[2] and "so far" in running[2]
    assert "2 min ago: its process may be gone" in running[2], "a silent heartbeat is flagged"
    assert "⧗ notebook.load" not in text, "load succeeded after the last fire"
    document = json.loads(invoke(project, "status", "--json").output)
    assert document["running"][0]["done"] == 1 and document["running"][0]["total"] == 2


def test_a_node_being_refreshed_is_not_stale_by_its_schedule(
    project: Path, store: StateStore, now: datetime, nightly_cron: str
) -> None:
    record_run(store, "r1", last_fire(nightly_cron, now) - timedelta(hours=1), [Step(LOAD)])
    assert "⧗ notebook.load" in invoke(project, "status").output, "not run since the nightly fire"
    record_run(store, "r2", now - timedelta(minutes=1), [Step(LOAD, NodeStatus.RUNNING)], status=RunStatus.RUNNING)
    assert "⧗ notebook.load" not in invoke(project, "status").output


def test_a_running_scheduler_is_shown_with_its_host_pid_and_lease(
    project: Path, store: StateStore, now: datetime
) -> None:
    holder = ProcessIdentity.current().owner
    with store.transaction() as tx:
        assert tx.acquire_lease(holder, now - timedelta(hours=2), 3 * 3600, lambda lease: False)
    text = invoke(project, "status").output
    line = next(line for line in text.splitlines() if line.startswith("scheduler"))
    assert f"✓ running on {host_name()} (pid {ProcessIdentity.current().pid}) since 2 h ago (" in line
    assert f"lease held by {holder}" in text


def test_freshness_lists_every_node_stalest_first(project: Path, store: StateStore, now: datetime) -> None:
    record_run(store, "r1", now - timedelta(hours=2), [Step(LOAD)])
    write_notebook(project / "scratch.ipynb")  # no SLA, no schedule
    result = invoke(project, "freshness")
    assert result.exit_code == 0
    header, first, unruled, second, summary = result.output.splitlines()
    assert header.split()[:4] == ["NODE", "STATE", "LAST", "SUCCESS"]
    assert first.startswith("notebook.report") and "⧗ stale" in first and "never" in first
    assert "freshness 1 day: never succeeded" in first
    assert second.startswith("notebook.load") and "1 h 59 min ago (" in second and "r1" in second
    assert unruled.startswith("notebook.scratch") and "· no rule" in unruled and "never ran" in unruled
    assert summary == "3 nodes, 1 stale, 1 without a freshness SLA or schedule"
    only = invoke(project, "freshness", "load", "--json")
    [item] = json.loads(only.output)
    assert item["node_id"] == LOAD and item["last_success_run_id"] == "r1" and item["schedules"] == ["nightly"]
    assert invoke(project, "freshness", "lod").exit_code == 2


def test_a_broken_node_and_a_scheduler_that_stopped_on_an_error_make_status_exit_1(
    project: Path, store: StateStore
) -> None:
    from orchestrate_ext.scheduling.exits import record_exit

    write_notebook(project / "report.ipynb", {"depends_on": ["lod"]})
    write_notebook(project / "summary.ipynb", {"depends_on": ["report"]})
    write_notebook(project / "weekly.ipynb", {"schedule": {"cron": "@weekly", "after": ["nightlly"]}})
    stopped = datetime(2024, 1, 31, 5, 0, tzinfo=ZoneInfo("UTC"))
    record_exit(project / ".orchestrate", stopped, "the scheduler cannot start: the state store is locked", error=True)
    result = invoke(project, "status", "--utc")
    assert result.exit_code == 1, result.output
    text = result.output
    verdict = text.splitlines()[0]
    assert verdict.startswith("✗ unhealthy: ")
    assert "; 1 node(s) broken (1 more left out with them); 1 schedule(s) broken; the scheduler stopped" in verdict
    [stopped_line] = [line for line in text.splitlines() if "last exit" in line]
    assert stopped_line.endswith("(2024-01-31 05:00 UTC): the scheduler cannot start: the state store is locked")
    broken = text[text.index("broken (2): left out of every run until fixed") :]
    lines = broken.splitlines()
    assert lines[1] == "  ✗ notebook.report"
    assert "depends on 'lod'" in lines[2] and "did you mean 'load'?" in lines[2]
    assert lines[3] == "      left out with it: notebook.summary"
    assert lines[4] == "  ✗ schedule weekly" and "runs after 'nightlly'" in lines[5]
    document = json.loads(invoke(project, "status", "--json").output)
    assert document["healthy"] is False
    assert [item["node_id"] for item in document["broken"]] == [REPORT]
    assert document["left_out"] == [
        {"node_id": "notebook.summary", "reason": "it waits for notebook.report, which is broken"}
    ]
    assert [item["name"] for item in document["broken_schedules"]] == ["weekly"]
    assert document["scheduler_last_exit"]["reason"].startswith("the scheduler cannot start")


def test_a_clean_stop_is_no_problem(project: Path, store: StateStore) -> None:
    from orchestrate_ext.scheduling.exits import record_exit

    record_exit(
        project / ".orchestrate", datetime(2024, 1, 31, tzinfo=ZoneInfo("UTC")), "stopped by SIGTERM", error=False
    )
    document = json.loads(invoke(project, "status", "--json").output)
    assert document["scheduler_last_exit"]["error"] is False
    assert "the scheduler stopped" not in invoke(project, "status").output
