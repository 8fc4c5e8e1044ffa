"""The warm kernel pool: a fresh kernel per notebook, started ahead; none left behind, no state shared."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from jupyter_extension.kernel_pool import KernelPool, KernelSpec
from tests.jupyter_extension.test_notebook_nodes import write_notebook

pytestmark = pytest.mark.slow

MARK = "ORCHESTRATE_KERNEL_TEST_MARK"


def processes_marked(mark: str) -> list[int]:
    """Processes (kernels, their children) whose environment carries ``mark``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            environ = (entry / "environ").read_bytes()
        except OSError:
            continue
        if f"{MARK}={mark}".encode() in environ.split(b"\0"):
            found.append(int(entry.name))
    return found


def orchestrate(workspace: Path, mark: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [str(Path(sys.executable).with_name("orchestrate")), *args],
        cwd=workspace,
        env={**os.environ, MARK: mark},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_gone(mark: str, seconds: float = 15.0) -> list[int]:
    deadline = time.monotonic() + seconds
    while (left := processes_marked(mark)) and time.monotonic() < deadline:
        time.sleep(0.2)
    return left


def test_fifty_notebooks_and_a_cancel_leave_no_kernel_behind(tmp_path: Path) -> None:
    (tmp_path / "orchestrate.yaml").write_text("notebooks:\n  include: ['nb/*.ipynb']\nconcurrency: 2\n")
    for number in range(50):
        write_notebook(tmp_path / "nb" / f"n{number:02d}.ipynb", [f"value = {number} * 2"], parameters="n = 0")
    mark = uuid.uuid4().hex
    fifty = orchestrate(tmp_path, mark, "run", "--json")
    out, err = fifty.communicate(timeout=600)
    assert fifty.returncode == 0, err
    assert {node["status"] for node in json.loads(out)["nodes"]} == {"success"}
    assert wait_gone(mark) == [], "kernels outlived the run"

    for path in (tmp_path / "nb").glob("*.ipynb"):
        path.unlink()
    write_notebook(tmp_path / "nb" / "slow.ipynb", ["import time\ntime.sleep(300)"])
    cancelled = orchestrate(tmp_path, mark, "run", "--json")
    deadline = time.monotonic() + 120
    while not list((tmp_path / ".orchestrate").rglob("*slow*.log")) and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(3)  # the notebook's cell is running now
    assert processes_marked(mark), "a kernel runs the notebook"
    cancelled.send_signal(signal.SIGINT)
    out, _ = cancelled.communicate(timeout=60)
    assert json.loads(out)["nodes"][0]["status"] == "cancelled"
    assert wait_gone(mark) == [], "a kernel outlived the cancelled run"


def test_a_notebook_never_sees_the_variables_of_the_one_before(tmp_path: Path) -> None:
    (tmp_path / "orchestrate.yaml").write_text("notebooks:\n  include: ['nb/*.ipynb']\nconcurrency: 1\n")
    write_notebook(tmp_path / "nb" / "first.ipynb", ["leaked = 'from the first notebook'"])
    write_notebook(
        tmp_path / "nb" / "second.ipynb",
        ["assert 'leaked' not in globals(), 'state leaked between notebooks'"],
        {"depends_on": ["first"]},
    )
    run = orchestrate(tmp_path, uuid.uuid4().hex, "run", "--json")
    out, err = run.communicate(timeout=300)
    assert run.returncode == 0, out + err
    assert [node["status"] for node in json.loads(out)["nodes"]] == ["success", "success"]


def test_the_pool_starts_kernels_ahead_and_close_stops_them_all(tmp_path: Path) -> None:
    mark = uuid.uuid4().hex
    pool = KernelPool(spares=2)
    spec = KernelSpec("python3", str(tmp_path))
    first = pool.take(spec, {**os.environ, MARK: mark})
    deadline = time.monotonic() + 60
    while len(processes_marked(mark)) < 3 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert len(processes_marked(mark)) == 3, "one kernel in use and two started ahead"
    began = time.monotonic()
    second = pool.take(spec, {**os.environ, MARK: mark})
    assert time.monotonic() - began < 0.5, "a kernel started ahead is handed over at once"
    assert second is not first
    pool.discard(first)
    pool.close()
    assert wait_gone(mark) == []
