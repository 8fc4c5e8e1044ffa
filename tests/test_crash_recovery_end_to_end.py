"""Crash recovery with real processes: kill -9 an `orchestrate run` of the example, then look at what is left.

A dbt Python model of the example sleeps (and writes its pid first) so that the engine can be killed while
dbt executes it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import duckdb
import psutil
import pytest

from dbt_adapter.recovered import recorded_dbt_outcome
from orchestrate_ext.execution.liveness import OWNER_ENV
from orchestrate_ext.model import AttemptStatus
from orchestrate_ext.project import Project
from tests.conftest import run_cli

pytestmark = pytest.mark.slow

GRACE_SECONDS = 3.0
"""How long node processes may outlive their killed engine."""

SLOW_MODEL = """\
import os, pathlib, time


def model(dbt, session):
    pathlib.Path("../slow.pids").open("a").write(f"{os.getpid()}\\n")
    time.sleep(300)
    return session.sql("select 1 as x")
"""


def start_run(project: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    orchestrate = Path(sys.executable).with_name("orchestrate")
    return subprocess.Popen(
        [str(orchestrate), "run", *args],
        cwd=project,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, **(env or {})},
    )


def wait_for(path: Path, engine: subprocess.Popen[bytes], timeout: float = 240) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.is_file() and path.read_text().strip():
            return path.read_text()
        assert engine.poll() is None, f"the run ended (exit {engine.returncode}) before {path.name} appeared"
        time.sleep(0.1)
    raise AssertionError(f"{path} did not appear in {timeout} s")


def processes_started_by(pid: int) -> list[psutil.Process]:
    """Live processes whose inherited ORCHESTRATE_OWNER names process ``pid``."""
    found = []
    for process in psutil.process_iter():
        try:
            owner = process.environ().get(OWNER_ENV, "")
            if f":{pid}:" in owner and process.status() != psutil.STATUS_ZOMBIE:
                found.append(process)
        except psutil.Error:
            continue
    return found


def test_dbt_dies_with_a_killed_run(shop: Path) -> None:
    (shop / "dbt" / "models" / "marts" / "slow_model.py").write_text(SLOW_MODEL)
    pids = shop / "slow.pids"
    engine = start_run(shop, "--select", "slow_model")
    try:
        dbt_pid = int(wait_for(pids, engine).split()[0])
        assert psutil.pid_exists(dbt_pid)
        engine.send_signal(signal.SIGKILL)
        engine.wait()
        deadline = time.monotonic() + GRACE_SECONDS
        while processes_started_by(engine.pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        left = processes_started_by(engine.pid)
        assert not left, f"left running {GRACE_SECONDS} s after the kill: {[p.cmdline()[:3] for p in left]}"
    finally:
        for process in processes_started_by(engine.pid):
            process.kill()


PROBE_CODE = """\
import os, pathlib, signal
pathlib.Path("probe.count").open("a").write("1\\n")
marker = pathlib.Path("probe.marker")
if not marker.exists():  # the first try stops its engine; the worker still finishes and writes the result
    marker.write_text(run_id)
    worker = os.getppid()
    with open(f"/proc/{worker}/stat") as stat:
        engine = int(stat.read().rsplit(")", 1)[1].split()[1])
    pathlib.Path("probe.engine").write_text(str(engine))
    os.kill(engine, signal.SIGSTOP)
"""


def add_probe_notebook(project: Path) -> None:
    cells = [
        {"cell_type": "code", "metadata": {"tags": ["parameters"]}, "source": 'logical_date = ""\nrun_id = ""\n'},
        {"cell_type": "code", "metadata": {}, "source": PROBE_CODE},
    ]
    document = {
        "cells": [
            {**cell, "outputs": [], "execution_count": None, "id": f"c{index}"} for index, cell in enumerate(cells)
        ],
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    (project / "notebooks" / "probe.ipynb").write_text(json.dumps(document), encoding="utf-8")
    config = project / "orchestrate.yaml"
    config.write_text(config.read_text().replace("notebooks:\n", "notebooks:\n  warm_kernels: 0\n", 1))


def wait_until(check: Callable[[], bool], what: str, timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"{what}: not within {timeout} s"
        time.sleep(0.1)


def test_retry_after_kill_9_adopts_a_finished_notebook_and_closes_dead_tries(shop: Path) -> None:
    add_probe_notebook(shop)
    engine = start_run(shop, "--select", "notebooks/probe")
    try:
        wait_until(lambda: psutil.Process(engine.pid).status() == psutil.STATUS_STOPPED, "the engine stopped")
        assert int((shop / "notebooks" / "probe.engine").read_text()) == engine.pid
        wait_until(lambda: not processes_started_by(engine.pid), "the notebook's worker ended", timeout=60)
    finally:
        engine.send_signal(signal.SIGKILL)
        engine.wait()
    runs = run_cli("runs", "--json", cwd=shop)
    run_id = json.loads(runs.stdout)[0]["run_id"]

    retried = run_cli("retry", run_id, "--json", cwd=shop)
    assert retried.returncode == 0, retried.stderr[-3000:]
    nodes = {node["id"]: node for node in json.loads(retried.stdout)["nodes"]}
    assert nodes["notebook.notebooks/probe"]["status"] == "success", nodes
    assert (shop / "notebooks" / "probe.count").read_text().count("1") == 1, "the finished notebook ran again"
    project = Project.load(shop)
    with project.open_store().read() as tx:
        attempts = tx.attempts(run_id)
    assert [(a.try_number, a.status) for a in attempts] == [(1, AttemptStatus.SUCCESS)]


LAST_MODEL = """\
import os, pathlib, time


def model(dbt, session):
    dbt.ref("fct_orders")
    dbt.ref("daily_revenue")
    pathlib.Path("../slow.pids").open("a").write(f"{os.getpid()}\\n")
    if not pathlib.Path("../slow.marker").exists():  # the first build waits to be killed; a retry goes on
        pathlib.Path("../slow.marker").write_text("x")
        time.sleep(300)
    return session.sql("select 1 as x")
"""
COUNT_BUILDS = """\
    +post-hook: "insert into main.builds values ('{{ this.name }}')"
"""


def test_retry_after_kill_9_mid_batch_adopts_the_models_dbt_finished(shop: Path) -> None:
    dbt = shop / "dbt"
    (dbt / "models" / "marts" / "slow_model.py").write_text(LAST_MODEL)
    project_yml = dbt / "dbt_project.yml"
    project_yml.write_text(project_yml.read_text().replace("models:\n  shop:\n", "models:\n  shop:\n" + COUNT_BUILDS))
    with duckdb.connect(str(shop / "shop.duckdb")) as warehouse:  # created here: dbt's threads would race on it
        warehouse.execute("create table if not exists main.builds (model varchar)")
    engine = start_run(shop, "--select", "+slow_model")  # the models it reads are built first
    try:
        wait_for(shop / "slow.pids", engine)
        time.sleep(1)  # the engine copies the lines dbt printed before (the other models' results) to its log
    finally:
        engine.send_signal(signal.SIGKILL)
        engine.wait()
    run_id = json.loads(run_cli("runs", "--json", cwd=shop).stdout)[0]["run_id"]
    with Project.load(shop).open_store().read() as tx:
        tries = {attempt.node_id: attempt for attempt in tx.attempts(run_id)}
    # The killed batch's JSON log tells what dbt finished (the store mostly knows it too: the window
    # between dbt's result line and the store's write is what the log covers).
    built = recorded_dbt_outcome(tries["model.shop.fct_orders"], "model.shop.fct_orders")
    assert built is not None and built.status == AttemptStatus.SUCCESS
    assert recorded_dbt_outcome(tries["model.shop.slow_model"], "model.shop.slow_model") is None
    retried = run_cli("retry", run_id, "--json", cwd=shop)
    assert retried.returncode == 0, retried.stderr[-3000:]
    with duckdb.connect(str(shop / "shop.duckdb"), read_only=True) as warehouse:
        builds = dict(warehouse.execute("select model, count(*) from main.builds group by model").fetchall())
    others = {name: count for name, count in builds.items() if name != "slow_model"}
    assert others and set(others.values()) == {1}, f"finished models built again: {builds}"
    assert builds.get("slow_model") == 1, builds
