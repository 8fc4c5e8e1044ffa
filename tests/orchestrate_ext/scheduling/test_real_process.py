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
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO

import psutil
import pytest

from orchestrate_ext.clock import CLOCK_OFFSET_ENV
from orchestrate_ext.execution.liveness import HOST_ENV, kill_leftovers
from orchestrate_ext.model import AttemptStatus, RunStatus, StateLocation
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
    (project / "notebooks").mkdir(parents=True, exist_ok=True)
    (project / "notebooks" / "slow.ipynb").write_text(json.dumps(document), encoding="utf-8")


def start_scheduler(
    project: Path, offset: float, log: IO[bytes], *options: str, host: str | None = None
) -> subprocess.Popen[bytes]:
    orchestrate = Path(sys.executable).with_name("orchestrate")
    env = {**os.environ, CLOCK_OFFSET_ENV: str(offset)}
    if host is not None:
        env[HOST_ENV] = host
    return subprocess.Popen(
        [str(orchestrate), "scheduler", "--grace", "10s", "--project", str(project), *options],
        env=env,
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


def first_fire_offset(seconds_from_now: float) -> float:
    """A clock offset that makes the schedulers' clock read a whole minute ``seconds_from_now`` from now."""
    first_fire = datetime.now(UTC).timestamp() + seconds_from_now
    return math.ceil(first_fire / 60) * 60 - first_fire


@pytest.mark.timeout(300)
def test_a_standby_on_another_host_takes_over_a_killed_leader_on_postgresql(
    tmp_path: Path, postgres_schema_url: str
) -> None:
    """Two schedulers, two host identities, one PostgreSQL: kill -9 the leader while its run goes on."""
    project = tmp_path / "team"
    add_slow_notebook(project)
    (project / "orchestrate.yaml").write_text(
        f"notebooks:\n  include: [notebooks/*.ipynb]\nstate:\n  url: {postgres_schema_url}\n"
    )
    store = open_store(StateLocation(url=postgres_schema_url))
    offset = first_fire_offset(8)
    log_path = tmp_path / "schedulers.log"
    options = ("--lease-ttl", "5s", "--stale-after", "20s")
    with log_path.open("ab") as log:
        leader = start_scheduler(project, offset, log, *options, host="alpha")
        standby = None
        try:
            wait_for(
                "alpha to run the first fire time's notebook",
                lambda: attempts_of_first_run(store) == [(1, "running")],
                90,
                log_path,
            )
            # The try is "running" before its kernel reaches the sleeping cell; kill it only once it sleeps,
            # or the retry would be the first to see no marker and sleep in its turn.
            marker = project / "notebooks" / "slow.marker"
            wait_for("alpha's notebook to reach its sleep", marker.exists, 60, log_path)
            standby = start_scheduler(project, offset, log, *options, host="beta")
            wait_for(
                "beta to stand by", lambda: "another scheduler holds the lease" in log_path.read_text(), 60, log_path
            )
            with store.read() as tx:
                assert tx.get_lease().holder.startswith("alpha:")  # type: ignore[union-attr]
            leader.send_signal(signal.SIGKILL)
            killed_at = time.monotonic()
            leader.wait(10)
            wait_for("beta to take the lease", lambda: lease_holder(store).startswith("beta:"), 30, log_path)
            assert time.monotonic() - killed_at < 5 + 3, "the standby took over within the lease TTL (and a step)"
            wait_for(
                "beta to take the run over and retry its crashed try",
                lambda: attempts_of_first_run(store) == [(1, "crashed"), (2, "success")],
                90,
                log_path,
            )
            wait_for(
                "the next minute's fire time to run under beta", lambda: len(successful_runs(store)) >= 2, 120, log_path
            )
        finally:
            for scheduler in (leader, standby):
                if scheduler is not None and scheduler.poll() is None:
                    scheduler.send_signal(signal.SIGTERM)
                    scheduler.wait(30)
            for owner in owners(store):
                kill_leftovers(owner)  # alpha's notebook outlived it: beta could not kill it from "another host"
    with store.read() as tx:
        ticks = tx.list_ticks("notebooks/slow", limit=1000)
        runs = tx.find_runs(RunQuery(schedules=frozenset({"notebooks/slow"}), limit=1000))
    assert len({tick.scheduled_at for tick in ticks}) == len(ticks), "one tick per fire time"
    fired = sorted(tick.scheduled_at for tick in ticks)
    assert fired == [fired[0] + timedelta(minutes=n) for n in range(len(fired))], "no fire time lost"
    assert len({run.logical_date for run in runs}) == len(runs), "no fire time ran twice"
    assert {tick.run_id for tick in ticks if tick.run_id} == {run.run_id for run in runs}
    store.close()


def lease_holder(store: StateStore) -> str:
    with store.read() as tx:
        lease = tx.get_lease()
    return lease.holder if lease else ""


def successful_runs(store: StateStore) -> list[str]:
    with store.read() as tx:
        found = tx.find_runs(RunQuery(schedules=frozenset({"notebooks/slow"}), statuses=frozenset({RunStatus.SUCCESS})))
    return [run.run_id for run in found]


def owners(store: StateStore) -> set[str]:
    with store.read() as tx:
        return {tx.run_ownership(run.run_id).owner or "" for run in tx.find_runs(RunQuery(limit=1000))} - {""}
