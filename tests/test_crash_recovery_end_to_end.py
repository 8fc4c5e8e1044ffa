"""Crash recovery with real processes: kill -9 an `orchestrate run` of the example, then look at what is left.

A dbt Python model of the example sleeps (and writes its pid first) so that the engine can be killed while
dbt executes it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from orchestrate_ext.execution.liveness import OWNER_ENV

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
