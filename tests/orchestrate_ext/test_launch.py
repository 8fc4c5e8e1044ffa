"""The local launcher and the guard that ties a try's process tree to the process that started it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil

from orchestrate_ext.execution.guard import guarded
from orchestrate_ext.launcher import WORKER_PYTHON, Command, LocalLauncher
from orchestrate_ext.testing import wait_until


def read_all(handle: object) -> list[str]:
    lines: list[str] = []
    while (batch := handle.read(0.2)) is not None:  # type: ignore[attr-defined]
        lines += batch
    return lines


def test_local_tries_stream_their_output_and_stop_as_asked(tmp_path: Path) -> None:
    launcher = LocalLauncher()
    code = "import sys\nprint('one', flush=True)\nprint(sys.executable, flush=True)\nraise SystemExit(3)"
    handle = launcher.start(Command([WORKER_PYTHON, "-c", code], cwd=tmp_path))
    assert read_all(handle) == ["one\n", f"{sys.executable}\n"], "the worker's Python stands in for WORKER_PYTHON"
    assert handle.wait() == 3 and handle.worker == "local"
    sleepy = "import time; print('up', flush=True); time.sleep(60)"
    sleeper = launcher.start(Command([WORKER_PYTHON, "-c", sleepy], cwd=tmp_path))
    assert sleeper.read(10) == ["up\n"]
    sleeper.stop(first_signal=signal.SIGINT, grace=5)
    read_all(sleeper)
    assert sleeper.wait(10) == -signal.SIGINT, "SIGINT first (what dbt needs to cancel its queries)"


def test_the_guard_kills_the_try_when_its_parent_dies(tmp_path: Path) -> None:
    pid_file = tmp_path / "child.pid"
    child = f"import os, time; open({str(pid_file)!r}, 'w').write(str(os.getpid())); time.sleep(300)"
    parent = (
        "import os, subprocess, sys, time\n"
        "from orchestrate_ext.execution.guard import guarded\n"
        f"subprocess.Popen(guarded([sys.executable, '-c', {child!r}], os.getpid()), start_new_session=True)\n"
        "time.sleep(300)"
    )
    starter = subprocess.Popen([sys.executable, "-c", parent])
    wait_until(lambda: pid_file.exists() and pid_file.read_text(), 30)
    try_pid = int(pid_file.read_text())
    assert psutil.pid_exists(try_pid)
    starter.kill()  # a worker killed with SIGKILL
    starter.wait()
    wait_until(lambda: _gone(try_pid), 10)


def test_the_guard_exits_as_its_child_did(tmp_path: Path) -> None:
    def guard(code: str) -> list[str]:
        return guarded([sys.executable, "-c", code], os.getpid())

    assert subprocess.run(guard("raise SystemExit(7)"), check=False).returncode == 7
    process = subprocess.Popen(guard("import time; time.sleep(60)"), start_new_session=True)
    time.sleep(1)
    os.killpg(process.pid, signal.SIGTERM)  # a stop signals the whole group: the child dies of it
    assert process.wait(10) == -signal.SIGTERM, "the guard dies of its child's signal, so the exit status says so"


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True
