"""A notebook's timeout counts from its try's start, the grace to stop it inside (issue 18).

It used to start once a kernel was taken, and the grace (5 s) plus the wait for papermill to notice its dead
kernel (10 s) came on top: `timeout: 25s` ended after 40.6 s. The fast tests drive the runner's watch on the
clock it uses (``time.monotonic``) with a notebook thread that never notices it was stopped; the slow one runs
real notebooks and reads the times the engine recorded.
"""

from __future__ import annotations

import json
import threading
import time
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace

import pytest

from jupyter_extension.runner import NotebookRunner
from orchestrate_ext.execution.try_limit import TryLimit
from orchestrate_ext.model import AttemptStatus
from orchestrate_ext.project import Project
from tests.conftest import run_cli
from tests.jupyter_extension.test_notebook_nodes import write_notebook

EPSILON = 0.75
"""What a try may take past its timeout here: the watch's 0.1 s polls and a loaded machine."""


def stubborn() -> tuple[threading.Thread, threading.Event]:
    """A notebook thread that runs on after its kernel was stopped (papermill notices a dead kernel late)."""
    done = threading.Event()
    thread = threading.Thread(target=done.wait, args=(60,), daemon=True)
    thread.start()
    return thread, done


def test_the_limit_keeps_the_grace_inside_the_timeout() -> None:
    limit = TryLimit.starting(100.0, 25.0, stop_grace=5.0)
    assert not limit.stop_due(119.9) and limit.stop_due(120.0)
    assert limit.left(120.0) == 5.0 and limit.left(130.0) == 0.0
    short = TryLimit.starting(0.0, 2.0, stop_grace=5.0)
    assert short.grace == 0.5 and short.stop_due(1.5)
    assert not TryLimit.starting(0.0, None, 5.0).stop_due(10**9)


def test_a_timed_out_notebook_is_over_within_its_timeout_counted_from_the_try_start() -> None:
    runner = NotebookRunner(SimpleNamespace(), stop_grace=5.0)  # type: ignore[arg-type]
    began = time.monotonic()
    time.sleep(0.5)  # taking a kernel: inside the timeout now, not before it
    thread, done = stubborn()
    stops: list[float] = []
    limit = TryLimit.starting(began, 2.0, runner.stop_grace)
    stopped = runner._watch(thread, lambda: stops.append(time.monotonic() - began), limit, threading.Event())
    elapsed = time.monotonic() - began
    done.set()
    assert stopped is not None and stopped[0] == AttemptStatus.TIMED_OUT
    assert stopped[1] == "timed out after 2 s; the notebook and its kernel were stopped"
    assert len(stops) == 1 and 1.5 <= stops[0] <= 1.5 + EPSILON, stops
    assert 2.0 <= elapsed <= 2.0 + EPSILON, elapsed


class _Handle:
    """A worker that ends only when stopped, ``grace`` after the stop (the most a stop may take)."""

    def __init__(self) -> None:
        self.stopped_at: float | None = None
        self.grace: float | None = None

    def read(self, timeout: float) -> list[str] | None:
        time.sleep(timeout)
        if self.stopped_at is not None and time.monotonic() >= self.stopped_at + (self.grace or 0):
            return None
        return []

    def stop(self, *, first_signal: int, grace: float) -> None:
        self.stopped_at, self.grace = time.monotonic(), grace


def test_a_timed_out_worker_is_killed_by_the_end_of_its_timeout(tmp_path: Path) -> None:
    runner = NotebookRunner(SimpleNamespace(), stop_grace=5.0)  # type: ignore[arg-type]
    began = time.monotonic()
    handle = _Handle()
    with (tmp_path / "log").open("w") as log:
        stopped = runner._follow(handle, log, TryLimit.starting(began, 2.0, 5.0), threading.Event())  # type: ignore[arg-type]
    elapsed = time.monotonic() - began
    assert stopped is not None and stopped[0] == AttemptStatus.TIMED_OUT
    assert handle.grace is not None and handle.grace <= 0.5
    assert elapsed <= 2.0 + EPSILON, elapsed


@pytest.mark.slow
@pytest.mark.parametrize("warm_kernels", [2, 0])
def test_a_real_notebook_timeout_is_kept_in_the_recorded_times(tmp_path: Path, warm_kernels: int) -> None:
    (tmp_path / "orchestrate.yaml").write_text(
        f"notebooks:\n  include: ['nb/*.ipynb']\n  warm_kernels: {warm_kernels}\ndefaults: {{retry_backoff: 0}}\n"
    )
    write_notebook(tmp_path / "nb" / "sleepy.ipynb", ["import time\ntime.sleep(120)"], {"timeout": "6s"})
    result = run_cli("run", "--json", cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    run_id = json.loads(result.stdout)["run_id"]
    store = Project.load(tmp_path).open_store(read_only=True)
    try:
        with store.read() as tx:
            [attempt] = tx.attempts(run_id)
    finally:
        store.close()
    assert attempt.status == AttemptStatus.TIMED_OUT, attempt
    assert isinstance(attempt.finished_at, datetime)
    took = (attempt.finished_at - attempt.started_at).total_seconds()
    assert took <= 6 + 1.0, f"a 6 s timeout took {took:.1f} s (recorded by the engine)"
