"""With a real scheduler process: a typo in one notebook leaves it out; the rest keeps firing; one alert, one fix.

A restart of the scheduler while the typo stands says nothing new.

The scheduler's clock is a file the test writes (``ORCHESTRATE_CLOCK_FILE``):
each minute's fire time comes when the test moves the time, so nothing here
depends on the wall clock. Slack is the loopback fake; the scheduler process
reaches it through the real slack-sdk.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import pytest

from orchestrate_ext.clock import CLOCK_FILE_ENV, isoformat
from orchestrate_ext.model import RunStatus, StateLocation
from orchestrate_ext.scheduling.exits import last_exit
from orchestrate_ext.store import StateStore, open_store
from orchestrate_ext.store.records import RunQuery, TickStatus
from tests.alerts.fake_slack import FakeSlack

pytestmark = pytest.mark.slow

TOKEN = "xoxb-1111-2222-degradetokenvalue"
T0 = datetime(2024, 1, 8, 5, 59, 30, tzinfo=UTC)
GOOD, EXTRA, REPORT = "notebooks/good", "notebooks/extra", "notebooks/report"


def notebook(path: Path, orchestrate: dict[str, Any]) -> None:
    """A notebook that does next to nothing, with ``orchestrate`` metadata (written atomically)."""
    document = {
        "cells": [
            {
                "cell_type": "code",
                "metadata": {"tags": ["parameters"]},
                "source": 'logical_date = ""\nrun_id = ""\n',
                "outputs": [],
                "execution_count": None,
                "id": "params",
            },
            {
                "cell_type": "code",
                "metadata": {},
                "source": "x = 1\n",
                "outputs": [],
                "execution_count": None,
                "id": "w",
            },
        ],
        "metadata": {
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
            "orchestrate": orchestrate,
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    scratch = path.with_suffix(".tmp")
    scratch.write_text(json.dumps(document), encoding="utf-8")
    os.replace(scratch, path)


def set_clock(path: Path, at: datetime) -> None:
    scratch = path.with_suffix(".tmp")
    scratch.write_text(isoformat(at) or "", encoding="utf-8")
    os.replace(scratch, path)


def wait_for(what: str, condition: Callable[[], bool], log_path: Path, timeout: float = 90) -> None:
    """Wait (real time, for the process to do its work; never for a fire time, which the test sets)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    pytest.fail(f"timed out waiting for {what}; scheduler log:\n{log_path.read_text(errors='replace')[-5000:]}")


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    server = FakeSlack(token=TOKEN)
    yield server
    server.stop()


def runs_of(store: StateStore, schedule: str) -> dict[datetime, RunStatus]:
    with store.read() as tx:
        return {run.logical_date: run.status for run in tx.find_runs(RunQuery(schedules=frozenset({schedule})))}


def ticks_at(store: StateStore, schedule: str) -> dict[datetime, tuple[TickStatus, str | None]]:
    with store.read() as tx:
        return {tick.scheduled_at: (tick.status, tick.reason) for tick in tx.list_ticks(schedule, 100)}


def minute(n: int) -> datetime:
    return datetime(2024, 1, 8, 6, n, tzinfo=UTC)


@pytest.mark.timeout(420)
def test_a_typo_leaves_one_notebook_out_the_rest_fires_one_alert_one_fix(tmp_path: Path, slack: FakeSlack) -> None:
    project = tmp_path / "team"
    folder = project / "notebooks"
    folder.mkdir(parents=True)
    (project / "orchestrate.yaml").write_text(
        "notebooks:\n  include: [notebooks/*.ipynb]\n"
        "alerts:\n"
        f"  slack: {{token_env: SLACK_BOT_TOKEN, base_url: '{slack.base_url}'}}\n"
        "  routes:\n    - {slack: '#data-alerts'}\n"
    )
    every_minute = {"schedule": "* * * * *"}
    notebook(folder / "good.ipynb", every_minute)
    notebook(folder / "extra.ipynb", every_minute)
    notebook(folder / "base.ipynb", {})
    notebook(folder / "report.ipynb", {**every_minute, "depends_on": ["base"], "owner": "ana@example.com"})
    clock = tmp_path / "clock.txt"
    set_clock(clock, T0)
    store = open_store(StateLocation(path=project / ".orchestrate" / "state.db"))
    log_path = tmp_path / "scheduler.log"
    orchestrate = Path(sys.executable).with_name("orchestrate")
    env = {**os.environ, CLOCK_FILE_ENV: str(clock), "SLACK_BOT_TOKEN": TOKEN}
    with log_path.open("ab") as log:
        process = start(orchestrate, project, env, log)
        try:
            wait_for("the scheduler to start", lambda: "holding the scheduler lease" in log_path.read_text(), log_path)

            set_clock(clock, minute(0).replace(second=1))
            wait_for(
                "every schedule to run 06:00",
                lambda: all(runs_of(store, name).get(minute(0)) == RunStatus.SUCCESS for name in (GOOD, EXTRA, REPORT)),
                log_path,
            )

            notebook(folder / "report.ipynb", {**every_minute, "depends_on": ["bse"], "owner": "ana@example.com"})
            wait_for("the config_error alert", lambda: len(slack.top_level()) == 1, log_path)
            [alert] = slack.top_level()
            assert alert.channel == "C0DATA" and "Left out: notebooks/report" in alert.text
            assert "depends on 'bse'" in alert.all_text and "did you mean 'base'?" in alert.all_text

            set_clock(clock, minute(1).replace(second=1))
            wait_for("good to run 06:01", lambda: runs_of(store, GOOD).get(minute(1)) == RunStatus.SUCCESS, log_path)
            wait_for("extra to run 06:01", lambda: runs_of(store, EXTRA).get(minute(1)) == RunStatus.SUCCESS, log_path)
            wait_for("report's 06:01 tick to be skipped", lambda: minute(1) in ticks_at(store, REPORT), log_path)
            status, reason = ticks_at(store, REPORT)[minute(1)]
            assert status == TickStatus.SKIPPED and minute(1) not in runs_of(store, REPORT)
            assert reason is not None and reason.startswith("left out: node notebook.notebooks/report is left out: ")
            assert "did you mean 'base'?" in reason

            notebook(folder / "extra.ipynb", {})  # the schedule is removed while the typo stands
            wait_for("the reload without extra", lambda: "removed: notebooks/extra" in log_path.read_text(), log_path)
            set_clock(clock, minute(2).replace(second=1))
            wait_for("good to run 06:02", lambda: runs_of(store, GOOD).get(minute(2)) == RunStatus.SUCCESS, log_path)
            wait_for("report's 06:02 tick to be skipped", lambda: minute(2) in ticks_at(store, REPORT), log_path)
            assert minute(2) not in ticks_at(store, EXTRA) and minute(2) not in runs_of(store, EXTRA)

            process.send_signal(signal.SIGTERM)  # a restart while the typo stands says nothing new
            assert process.wait(60) == 0
            said = log_path.read_text().count("ERROR node notebook.notebooks/report is left out")
            process = start(orchestrate, project, env, log)
            wait_for(
                "the second scheduler to start",
                lambda: log_path.read_text().count("holding the scheduler lease") == 2,
                log_path,
            )
            wait_for(
                "it to load the broken node",
                lambda: log_path.read_text().count("ERROR node notebook.notebooks/report is left out") == said + 1,
                log_path,
            )
            time.sleep(3)  # a few steps: the problem is reported to the alerts, which know it already
            assert len(slack.messages) == 1, [message.text for message in slack.messages]

            notebook(folder / "report.ipynb", {**every_minute, "depends_on": ["base"], "owner": "ana@example.com"})
            wait_for("the fix", lambda: len(slack.replies(alert)) == 1, log_path)
            set_clock(clock, minute(3).replace(second=1))
            wait_for(
                "report to run again at 06:03",
                lambda: runs_of(store, REPORT).get(minute(3)) == RunStatus.SUCCESS,
                log_path,
            )
            wait_for("good to run 06:03", lambda: runs_of(store, GOOD).get(minute(3)) == RunStatus.SUCCESS, log_path)
            time.sleep(2)  # a few more steps: nothing more may be said
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(60)
    assert process.returncode == 0, log_path.read_text(errors="replace")[-3000:]
    [alert] = slack.top_level()
    [fix] = slack.replies(alert)
    assert "Fixed: notebooks/report is no longer left out" in fix.text
    assert len(slack.messages) == 2, [message.text for message in slack.messages]
    assert sorted(runs_of(store, GOOD)) == [minute(0), minute(1), minute(2), minute(3)], "good kept firing"
    assert sorted(runs_of(store, EXTRA)) == [minute(0), minute(1)], "extra stopped when its schedule went"
    assert sorted(runs_of(store, REPORT)) == [minute(0), minute(3)]
    stopped = last_exit(project / ".orchestrate")
    assert stopped is not None and stopped.reason == "stopped by SIGTERM" and not stopped.error
    store.close()


def start(orchestrate: Path, project: Path, env: dict[str, str], log: IO[bytes]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [str(orchestrate), "scheduler", "--grace", "10s", "--reload", "1s", "--project", str(project)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


@pytest.mark.timeout(120)
def test_a_scheduler_that_cannot_start_says_why_in_slack_and_in_status(tmp_path: Path, slack: FakeSlack) -> None:
    project = tmp_path / "team"
    (project / "notebooks").mkdir(parents=True)
    (project / "orchestrate.yaml").write_text(
        "notebooks:\n  include: [notebooks/*.ipynb]\n"
        "executor: {type: dask, address_env: ORCHESTRATE_TEST_NO_SUCH_DASK}\n"
        "alerts:\n"
        f"  slack: {{token_env: SLACK_BOT_TOKEN, base_url: '{slack.base_url}'}}\n"
        "  routes:\n    - {slack: '#data-alerts'}\n"
    )
    clock = tmp_path / "clock.txt"
    set_clock(clock, T0)
    orchestrate = Path(sys.executable).with_name("orchestrate")
    env = {**os.environ, CLOCK_FILE_ENV: str(clock), "SLACK_BOT_TOKEN": TOKEN}
    result = subprocess.run(
        [str(orchestrate), "scheduler", "--project", str(project)], env=env, capture_output=True, text=True, timeout=90
    )
    assert result.returncode != 0
    stopped = last_exit(project / ".orchestrate")
    assert stopped is not None and stopped.error and stopped.reason.startswith("the scheduler cannot start: ")
    assert "ORCHESTRATE_TEST_NO_SUCH_DASK" in stopped.reason and "ORCHESTRATE_TEST_NO_SUCH_DASK" in result.stderr
    [alert] = slack.top_level()
    assert "The scheduler cannot start" in alert.text and "ORCHESTRATE_TEST_NO_SUCH_DASK" in alert.all_text
    status = subprocess.run(
        [str(orchestrate), "status", "--project", str(project)], env=env, capture_output=True, text=True, timeout=60
    )
    assert status.returncode == 1 and "the scheduler cannot start" in status.stdout
