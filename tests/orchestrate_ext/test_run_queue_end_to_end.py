"""With real processes: `orchestrate run` queued behind `max_runs: 1`, cancelled while queued, and held by a
schedule's `max_active_runs`, with no scheduler running (SQLite and PostgreSQL).

A ``hold`` notebook runs until the test writes a ``release`` file; a ``quick`` one ends at once.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from orchestrate_ext.config import StateLocation
from orchestrate_ext.model import NodeStatus, RunRecord, RunStatus
from orchestrate_ext.store import StateStore, open_store
from orchestrate_ext.store.records import RunQuery
from tests.conftest import state_yaml
from tests.orchestrate_ext.store.records import make_run, pending
from tests.support.stores import close_run

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

HOLD = """\
import pathlib, time
for _ in range(1200):
    if pathlib.Path("release").exists():
        break
    time.sleep(0.1)
"""


def notebook(path: Path, code: str) -> None:
    cells: list[dict[str, object]] = [
        {"cell_type": "code", "metadata": {}, "source": code, "outputs": [], "execution_count": None, "id": "c"}
    ]
    kernelspec = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path.write_text(
        json.dumps({"cells": cells, "metadata": {"kernelspec": kernelspec}, "nbformat": 4, "nbformat_minor": 5})
    )


@pytest.fixture
def project(tmp_path: Path, state_location: StateLocation) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    notebook(root / "hold.ipynb", HOLD)
    notebook(root / "quick.ipynb", "x = 1\n")
    (root / "orchestrate.yaml").write_text(
        "notebooks:\n  include: ['*.ipynb']\n"
        "max_runs: 1\n"
        "schedules:\n"
        "  - {name: daily, cron: '0 3 * * *', select: quick, max_active_runs: 1}\n" + state_yaml(state_location, root)
    )
    return root


@pytest.fixture
def store(state_location: StateLocation, project: Path) -> Iterator[StateStore]:
    opened = open_store(state_location)
    yield opened
    opened.close()


def start_run(project: Path, *args: str) -> subprocess.Popen[str]:
    orchestrate = Path(sys.executable).with_name("orchestrate")
    return subprocess.Popen(
        [str(orchestrate), "run", *args, "--project", str(project)],
        cwd=project,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "NO_COLOR": "1"},
    )


def runs(store: StateStore) -> list[RunRecord]:
    with store.read() as tx:
        return sorted(tx.find_runs(RunQuery(limit=100)), key=lambda run: run.created_at)


def wait_for(what: str, condition: Callable[[], object], timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    pytest.fail(f"timed out waiting for {what}")


def with_status(store: StateStore, status: RunStatus) -> list[RunRecord]:
    return [run for run in runs(store) if run.status == status]


def test_a_cli_run_waits_behind_max_runs_then_starts(project: Path, store: StateStore) -> None:
    first = start_run(project, "-s", "hold")
    wait_for("the first run to run", lambda: with_status(store, RunStatus.RUNNING))
    holder = with_status(store, RunStatus.RUNNING)[0]
    second = start_run(project, "-s", "quick")
    wait_for("the second run to queue", lambda: with_status(store, RunStatus.QUEUED))
    queued = with_status(store, RunStatus.QUEUED)[0]
    time.sleep(1.5)  # several admission polls: still queued while the first one runs
    assert {run.run_id: run.status for run in runs(store)} == {
        holder.run_id: RunStatus.RUNNING,
        queued.run_id: RunStatus.QUEUED,
    }
    (project / "release").write_text("go")
    _, first_err = first.communicate(timeout=120)
    _, second_err = second.communicate(timeout=120)
    assert first.returncode == 0, first_err
    assert second.returncode == 0, second_err
    assert f"run {queued.run_id} queued behind run {holder.run_id} (max_runs: 1)" in second_err
    done = {run.run_id: run for run in runs(store)}
    assert done[queued.run_id].status == RunStatus.SUCCESS
    assert done[queued.run_id].started_at >= done[holder.run_id].finished_at  # type: ignore[operator]


def test_a_queued_run_is_cancelled(project: Path, store: StateStore) -> None:
    first = start_run(project, "-s", "hold")
    wait_for("the first run to run", lambda: with_status(store, RunStatus.RUNNING))
    second = start_run(project, "-s", "quick", "--json")
    wait_for("the second run to queue", lambda: with_status(store, RunStatus.QUEUED))
    queued = with_status(store, RunStatus.QUEUED)[0]
    orchestrate = Path(sys.executable).with_name("orchestrate")
    cancelled = subprocess.run(
        [str(orchestrate), "cancel", queued.run_id, "--project", str(project)], capture_output=True, text=True
    )
    assert cancelled.returncode == 0, cancelled.stderr
    assert f"run {queued.run_id} cancelled while queued" in cancelled.stdout
    out, err = second.communicate(timeout=60)
    assert second.returncode == 1
    assert f"run {queued.run_id} cancelled while queued; it never started" in err
    document = json.loads(out)
    assert document["status"] == "cancelled"
    assert {node["status"] for node in document["nodes"]} == {NodeStatus.CANCELLED.value}
    (project / "release").write_text("go")
    first.communicate(timeout=120)
    assert first.returncode == 0


def test_a_schedules_max_active_runs_holds_against_a_manual_run_of_its_selection(
    project: Path, store: StateStore
) -> None:
    config = project / "orchestrate.yaml"
    config.write_text(config.read_text().replace("max_runs: 1\n", ""))  # no global limit: only the schedule's
    scheduled = replace(make_run("20240131T060000-scheduled", schedule="daily"), created_at=datetime.now(UTC))
    with store.transaction() as tx:  # a run of `daily` that a live scheduler executes
        nodes = [pending(scheduled.run_id, "notebook.quick", "notebook")]
        tx.insert_runs([(scheduled, nodes)], owner="scheduler", now=datetime.now(UTC))
    manual = start_run(project, "-s", "quick")
    wait_for("the manual run to queue", lambda: with_status(store, RunStatus.QUEUED))
    queued = with_status(store, RunStatus.QUEUED)[0]
    time.sleep(1.5)
    assert {run.run_id: run.status for run in runs(store)}[queued.run_id] == RunStatus.QUEUED
    with store.transaction() as tx:
        tx.beat(scheduled.run_id, 1, datetime.now(UTC))
    close_run(store, scheduled.run_id, RunStatus.SUCCESS)
    _, err = manual.communicate(timeout=120)
    assert manual.returncode == 0, err
    assert f"queued behind run {scheduled.run_id} (max_active_runs: 1 of schedule 'daily')" in err
    assert {run.run_id: run.status for run in runs(store)}[queued.run_id] == RunStatus.SUCCESS
