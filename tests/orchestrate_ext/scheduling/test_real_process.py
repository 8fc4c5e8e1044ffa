"""With real processes: kill -9 the scheduler while a notebook runs, restart it, and check the aftermath.

The example project gets a slow notebook scheduled every minute. The scheduler's
clock is shifted (``ORCHESTRATE_CLOCK_OFFSET_SECONDS``) so that the first fire
time comes a few seconds after it starts, instead of waiting for a real minute.
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

import psutil
import pytest

from orchestrate_ext.config import StateLocation
from orchestrate_ext.model import AttemptStatus, RunStatus
from orchestrate_ext.scheduling.serve import CLOCK_OFFSET_ENV
from orchestrate_ext.store import StateStore, open_store
from orchestrate_ext.store.records import RunQuery
from tests.conftest import state_yaml

pytestmark = pytest.mark.slow

SLOW_NOTEBOOK_CODE = """\
import os, pathlib, time
pathlib.Path("slow.pids").open("a").write(f"{os.getpid()}\\n")
marker = pathlib.Path("slow.marker")
if not marker.exists():  # the first try sleeps (and gets killed); a retry finishes at once
    marker.write_text(run_id)
    time.sleep(300)
"""


def add_slow_notebook(project: Path) -> None:
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
                "source": SLOW_NOTEBOOK_CODE,
                "outputs": [],
                "execution_count": None,
                "id": "work",
            },
        ],
        "metadata": {
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
            "orchestrate": {"schedule": "* * * * *", "retries": 1, "retry_backoff": 0},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    (project / "notebooks" / "slow.ipynb").write_text(json.dumps(document), encoding="utf-8")


def start_scheduler(project: Path, offset: float, log: IO[bytes]) -> subprocess.Popen[bytes]:
    orchestrate = Path(sys.executable).with_name("orchestrate")
    return subprocess.Popen(
        [str(orchestrate), "scheduler", "--grace", "10s", "--project", str(project)],
        env={**os.environ, CLOCK_OFFSET_ENV: str(offset)},
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def wait_for(what: str, condition: Callable[[], bool], timeout: float, log_path: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    pytest.fail(f"timed out waiting for {what}; scheduler log:\n{log_path.read_text(errors='replace')[-4000:]}")


def alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def attempts_of_first_run(store: StateStore) -> list[tuple[int, str]]:
    with store.read() as tx:
        runs = tx.find_runs(RunQuery(schedules=frozenset({"notebooks/slow"}), limit=1000))
        if not runs:
            return []
        first = min(run.run_id for run in runs)
        return [(attempt.try_number, attempt.status.value) for attempt in tx.attempts(first)]


@pytest.mark.timeout(180)
def test_kill_9_while_a_node_runs_then_restart(shop: Path, tmp_path: Path, state_location: StateLocation) -> None:
    add_slow_notebook(shop)
    config = shop / "orchestrate.yaml"
    config.write_text(config.read_text() + state_yaml(state_location, shop))
    store = open_store(state_location)
    pids = shop / "notebooks" / "slow.pids"
    now = datetime.now(UTC).timestamp()
    first_fire = now + 10  # seconds after start: time to import and load the project
    offset = math.ceil(first_fire / 60) * 60 - first_fire  # the scheduler's clock reads a whole minute then
    log_path = tmp_path / "scheduler.log"
    with log_path.open("ab") as log:
        first = start_scheduler(shop, offset, log)
        try:
            wait_for(
                "the slow notebook's first try to run",
                lambda: attempts_of_first_run(store) == [(1, "running")] and pids.exists(),
                60,
                log_path,
            )
            kernel = int(pids.read_text().split()[0])
            assert alive(kernel)
            first.send_signal(signal.SIGKILL)  # kill -9: no cleanup at all
            first.wait(10)
            assert alive(kernel), "the notebook outlives its scheduler"

            second = start_scheduler(shop, offset, log)
            try:
                wait_for(
                    "the crashed try to be retried",
                    lambda: attempts_of_first_run(store) == [(1, "crashed"), (2, "success")],
                    60,
                    log_path,
                )
                wait_for("the leftover kernel to be killed", lambda: not alive(kernel), 10, log_path)
            finally:
                second.send_signal(signal.SIGTERM)
                second.wait(30)
        finally:
            if first.poll() is None:
                first.kill()
    assert second.returncode == 0, log_path.read_text(errors="replace")[-3000:]

    with store.read() as tx:
        runs = tx.find_runs(RunQuery(schedules=frozenset({"notebooks/slow"}), limit=100))
        first_run = min(runs, key=lambda run: run.run_id)
        assert first_run.status == RunStatus.SUCCESS
        [crashed, retried] = tx.attempts(first_run.run_id)
        assert crashed.status == AttemptStatus.CRASHED and "died" in (crashed.error or "")
        assert retried.status == AttemptStatus.SUCCESS
        ticks = [tick for tick in tx.list_ticks("notebooks/slow", limit=1000) if tick.run_id is not None]
        assert len(ticks) == len({tick.run_id for tick in ticks}) == len(runs), "one run per tick, one tick per run"
        assert tx.unfinished_runs() == [], "no run stays running"
        assert all(attempt.status != AttemptStatus.RUNNING for run in runs for attempt in tx.attempts(run.run_id))
    store.close()
