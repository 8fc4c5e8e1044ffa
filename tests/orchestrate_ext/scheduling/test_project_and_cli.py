"""Schedules of a real (notebook-only) project: reloading without restart, the API functions and the CLI.

Nothing here executes a notebook; the commands only read the project and the store.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from orchestrate_ext import schedule_api as api
from orchestrate_ext.cli import main
from orchestrate_ext.clock import SystemClock
from orchestrate_ext.execution.liveness import ProcessIdentity
from orchestrate_ext.model import RunStatus
from orchestrate_ext.project import Project
from orchestrate_ext.scheduler_process import load_snapshot
from orchestrate_ext.scheduling.source import ProjectSource
from tests.support.stores import close_run


def write_notebook(path: Path, orchestrate: dict[str, Any] | None = None) -> None:
    metadata: dict[str, Any] = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}
    if orchestrate is not None:
        metadata["orchestrate"] = orchestrate
    document = {"cells": [], "metadata": metadata, "nbformat": 4, "nbformat_minor": 5}
    path.write_text(json.dumps(document), encoding="utf-8")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "orchestrate.yaml").write_text(
        "notebooks:\n  include: ['*.ipynb']\n"
        "schedules:\n"
        "  - {name: nightly, cron: '0 6 * * *', timezone: Europe/Berlin}\n"
        "  - {name: after-nightly, after: nightly, select: report}\n"
    )
    write_notebook(tmp_path / "load.ipynb")
    write_notebook(tmp_path / "report.ipynb", {"depends_on": ["load"]})
    return tmp_path


def invoke(*args: str) -> Any:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_a_schedule_written_into_notebook_metadata_reaches_a_running_scheduler(project: Path) -> None:
    source = ProjectSource(lambda: load_snapshot(project), refresh_seconds=3600)  # the test calls the reload itself
    try:
        assert set(source.current().definitions) == {"nightly", "after-nightly"}
        assert source.reload_if_changed() is False, "nothing changed: no reload"
        write_notebook(
            project / "report.ipynb", {"depends_on": ["load"], "schedule": "*/5 * * * *", "timezone": "Asia/Tokyo"}
        )
        assert source.reload_if_changed() is True
        added = source.current().definitions["report"]
        assert (added.cron, added.timezone, added.target) == ("*/5 * * * *", "Asia/Tokyo", "notebook.report")
        write_notebook(project / "report.ipynb", {"schedule": "not cron"})
        assert source.reload_if_changed() is True, "a broken notebook is left out; the rest loads"
        snapshot = source.current()
        assert set(snapshot.definitions) == {"nightly", "after-nightly"}, "the broken node's schedule is left out"
        [problem] = snapshot.problems
        assert problem.key == "node:notebook.report" and "orchestrate.schedule.cron" in problem.message
        assert problem.message.startswith("node notebook.report is left out: ")
        assert "notebook.report" not in snapshot.graph.nodes and "notebook.report" in snapshot.whole.broken
        config = project / "orchestrate.yaml"
        good = config.read_text()
        config.write_text(good + "concurrency: many\n")
        assert source.reload_if_changed() is True, "the problem is new: the scheduler must hear of it"
        assert source.last_error is not None and "concurrency" in source.last_error
        kept = source.current()
        assert set(kept.definitions) == {"nightly", "after-nightly"}, "an unreadable orchestrate.yaml keeps them"
        assert [found.key for found in kept.problems] == ["node:notebook.report", "project"]
        assert kept.problems[1].message.startswith("the project cannot be loaded: ")
        config.write_text(good)
        write_notebook(project / "report.ipynb", {"schedule": "@daily"})
        assert source.reload_if_changed() is True
        assert source.current().problems == () and "report" in source.current().definitions
    finally:
        source.close()


def test_list_pause_resume_and_status_through_the_api(project: Path) -> None:
    infos = {info.definition.name: info for info in api.list_schedules(project, count=2)}
    nightly = infos["nightly"]
    assert len(nightly.next_fire_times) == 2 and not nightly.paused
    document = api.schedule_document(nightly)
    assert document["next_fire_times"][0].endswith(("+01:00", "+02:00")), "shown in the schedule's own zone"
    assert api.schedule_document(infos["after-nightly"])["triggers"] == ["after nightly"]
    assert api.pause_schedule(project, "nightly").paused
    assert api.list_schedules(project)[1].paused and api.list_schedules(project)[1].next_fire_times == []
    assert not api.resume_schedule(project, "nightly").paused
    assert api.scheduler_status(project).active is False
    store = Project.load(project).open_store()
    me = ProcessIdentity.current().owner
    with store.transaction() as tx:
        tx.acquire_lease(me, SystemClock().now(), 15, lambda lease: False)
    status = api.scheduler_status(project)
    assert (status.active, status.pid) == (True, ProcessIdentity.current().pid)
    assert api.lease_document(status)["holder"] == me
    store.close()


def test_the_cli_lists_schedules_and_ticks_and_pauses(project: Path) -> None:
    listed = invoke("schedules", "--project", str(project), "--json")
    assert listed.exit_code == 0
    names = [item["name"] for item in json.loads(listed.output)]
    assert names == ["after-nightly", "nightly"]
    text = invoke("schedules", "--project", str(project)).output
    row = next(line for line in text.splitlines() if line.startswith("nightly "))
    assert "✓ active" in row and "cron 0 6 * * * (Europe/Berlin)" in row and " in " in row, "the next fire time"
    assert invoke("pause", "nightly", "--project", str(project)).exit_code == 0
    row = next(
        line
        for line in invoke("schedules", "--project", str(project)).output.splitlines()
        if line.startswith("nightly ")
    )
    assert "⏸ paused" in row
    assert "resumed nightly; next fire time" in invoke("unpause", "nightly", "--project", str(project)).output
    assert json.loads(invoke("ticks", "--project", str(project), "--json").output) == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("pause", "nighty"), "no schedule is called 'nighty'; did you mean 'nightly'?"),
        (("ticks", "nighty"), "did you mean 'nightly'?"),
        (("backfill", "after-nightly", "--start", "2024-01-01", "--end", "2024-01-02"), "has no cron expression"),
        (("backfill", "nightly", "--start", "2024-01-05", "--end", "2024-01-01"), "is before --start"),
        (("cancel", "no-such-run"), "no run with id 'no-such-run'"),
    ],
)
def test_bad_input_exits_2_with_a_message(project: Path, args: tuple[str, ...], message: str) -> None:
    result = CliRunner().invoke(main, [*args, "--project", str(project)])
    assert result.exit_code == 2, result.output
    assert message in result.output


def test_a_bad_schedule_in_orchestrate_yaml_exits_2_naming_the_key(project: Path) -> None:
    config = project / "orchestrate.yaml"
    config.write_text(config.read_text().replace("0 6 * * *", "0 6 * *"))
    result = CliRunner().invoke(main, ["schedules", "--project", str(project)])
    assert result.exit_code == 2
    assert f"{config}: key 'schedules.0.cron'" in result.output and "five fields" in result.output


def test_cancel_flags_a_running_run_and_reports_a_finished_one(project: Path) -> None:
    loaded = Project.load(project)
    store = loaded.open_store()
    executor = loaded.executor(store)
    running = executor.create_run({"notebook.load"}, SystemClock().now())
    finished = executor.create_run({"notebook.load"}, SystemClock().now())
    close_run(store, finished.run_id, RunStatus.SUCCESS)
    assert "asked the process executing run" in invoke("cancel", running.run_id, "--project", str(project)).output
    with store.read() as tx:
        assert tx.cancel_requested(running.run_id)
    assert "already ended: success" in invoke("cancel", finished.run_id, "--project", str(project)).output
    runs = json.loads(invoke("runs", "--project", str(project), "--json").output)
    assert {(item["trigger"], item["schedule"]) for item in runs} == {("manual", None)}
    assert all("logical_date" in item for item in runs)
    store.close()


def test_a_bad_time_zone_leaves_its_schedule_out_with_one_log_line_not_a_traceback_every_time(
    project: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Issue 10, item 4: `timezone: Europe` (a folder of tzdata) logged a full traceback every 3 s. Since
    issue 17 only that schedule (and the one running after it) is left out; the project reloads."""
    caplog.set_level(logging.INFO, logger="orchestrate_ext")
    source = ProjectSource(lambda: load_snapshot(project), refresh_seconds=0.01)
    try:
        config = project / "orchestrate.yaml"
        config.write_text(config.read_text().replace("Europe/Berlin", "Europe"))
        deadline = time.monotonic() + 10
        while "nightly" in source.current().definitions and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.3)  # some thirty more rounds of the reload thread
    finally:
        source.close()
    assert source.last_error is None, "the project itself loads"
    snapshot = source.current()
    assert "'Europe' is a region, not a time zone" in snapshot.broken_schedules["nightly"]
    assert "after-nightly" in snapshot.broken_schedules, "it runs after a broken schedule"
    assert not {"nightly", "after-nightly"} & set(snapshot.definitions)
    errors = [record for record in caplog.records if record.levelno >= logging.ERROR]
    assert len(errors) == 2, [record.getMessage() for record in errors]
    assert all(record.exc_info is None for record in errors)
    assert errors[0].getMessage().startswith("schedule ")
