"""`show --watch` and `logs --follow` while a run goes on: each poll of the store sees what the executor wrote since.

The executor's writes are played between polls (the ``sleep`` the followers call), so nothing here races.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from rich.console import Console

from orchestrate_ext.cli.follow import follow_log, watch_run
from orchestrate_ext.cli.reading import Reading, reading
from orchestrate_ext.model import AttemptRecord, AttemptStatus, NodeRunRecord, NodeStatus, RunStatus
from orchestrate_ext.store import StateStore
from tests.support.history import Step, record_run

LOAD, REPORT = "notebook.load", "notebook.report"


class Executor:
    """Writes what an execution would, one step per call of ``sleep``."""

    def __init__(self, store: StateStore, run_id: str, start: datetime, logs: Path) -> None:
        self.store, self.run_id, self.start, self.logs = store, run_id, start, logs
        with store.transaction() as tx:
            self.epoch = tx.claim_run(run_id, "test-executor", start) or 0
        self.steps: list[Callable[[], None]] = []
        self.polls = 0

    def sleep(self, seconds: float) -> None:
        self.polls += 1
        if self.steps:
            self.steps.pop(0)()
        elif self.polls > 200:
            raise AssertionError("the follower never stopped")

    def log(self, node_id: str, try_number: int) -> Path:
        return self.logs / f"{node_id}.{try_number}.log"

    def start_try(self, node_id: str, try_number: int, first_line: str) -> None:
        self.log(node_id, try_number).write_text(first_line, encoding="utf-8")
        at = self.start + timedelta(seconds=try_number)
        attempt = AttemptRecord(
            self.run_id, node_id, try_number, AttemptStatus.RUNNING, at, log_path=str(self.log(node_id, try_number))
        )
        state = NodeRunRecord(self.run_id, node_id, "notebook", NodeStatus.RUNNING, started_at=at)
        with self.store.transaction() as tx:
            assert tx.start_attempt(attempt, state, self.epoch, host="h", pid=1)

    def end_try(self, node_id: str, try_number: int, ending: AttemptStatus, status: NodeStatus) -> None:
        at = self.start + timedelta(seconds=try_number)
        attempt = AttemptRecord(self.run_id, node_id, try_number, ending, at, at + timedelta(seconds=2.5))
        state = NodeRunRecord(self.run_id, node_id, "notebook", status, try_number, at, at + timedelta(seconds=2.5))
        with self.store.transaction() as tx:
            assert tx.finish_attempt(attempt, state, self.epoch)

    def append(self, node_id: str, try_number: int, text: str) -> None:
        with self.log(node_id, try_number).open("a", encoding="utf-8") as handle:
            handle.write(text)

    def finish_run(self, status: RunStatus) -> None:
        with self.store.transaction() as tx:
            tx.finish_run(self.run_id, status, self.epoch, self.start + timedelta(minutes=1))


@pytest.fixture
def read(project: Path, store: StateStore) -> Iterator[Reading]:
    """The follower's own read-only view (opened after the store exists, as the run's id proves it does)."""
    with reading(project) as opened:
        yield opened


@pytest.fixture
def executor(project: Path, store: StateStore, now: datetime) -> Executor:
    record_run(
        store, "r1", now, [Step(LOAD, NodeStatus.PENDING), Step(REPORT, NodeStatus.PENDING)], status=RunStatus.RUNNING
    )
    logs = project / "logs"
    logs.mkdir()
    return Executor(store, "r1", now, logs)


def test_logs_follow_prints_lines_as_they_come_through_a_retry_until_the_node_ends(
    read: Reading, executor: Executor
) -> None:
    executor.start_try(LOAD, 1, "kernel started\n")
    executor.steps = [
        lambda: executor.append(LOAD, 1, "cell 1 ran\n"),
        lambda: executor.append(LOAD, 1, "Traceback: ValueError"),  # no newline yet
        lambda: executor.end_try(LOAD, 1, AttemptStatus.FAILED, NodeStatus.UP_FOR_RETRY),
        lambda: None,  # the follower waits for the next try
        lambda: executor.start_try(LOAD, 2, "kernel started again\n"),
        lambda: executor.append(LOAD, 2, "wrote report.md\n"),
        lambda: executor.end_try(LOAD, 2, AttemptStatus.SUCCESS, NodeStatus.SUCCESS),
    ]
    written: list[str] = []
    follow_log(read, "r1", LOAD, None, sleep=executor.sleep, write=written.append)
    lines = "".join(written).splitlines()
    assert lines[0].startswith(f"=== {LOAD} try 1: running (started ")
    assert lines[1:4] == ["kernel started", "cell 1 ran", "Traceback: ValueError"]
    assert lines[4] == f"=== {LOAD} try 1: failed after 2.5 s"
    assert lines[5] == f"waiting for {LOAD} to start try 2 in run r1 …", "the node waits for its retry"
    assert lines[6].startswith(f"=== {LOAD} try 2: running")
    assert lines[7:9] == ["kernel started again", "wrote report.md"]
    assert lines[9] == f"=== {LOAD} try 2: success after 2.5 s"
    assert len(lines) == 10 and not executor.steps, "it ended when the node did, after every write"


def test_logs_follow_waits_for_a_node_that_has_not_started(read: Reading, executor: Executor) -> None:
    executor.steps = [
        lambda: None,
        lambda: executor.start_try(REPORT, 1, "started\n"),
        lambda: executor.end_try(REPORT, 1, AttemptStatus.SUCCESS, NodeStatus.SUCCESS),
    ]
    written: list[str] = []
    follow_log(read, "r1", REPORT, None, sleep=executor.sleep, write=written.append)
    text = "".join(written)
    assert text.startswith(f"waiting for {REPORT} to start try 1 in run r1")
    assert "started\n" in text and text.endswith(f"=== {REPORT} try 1: success after 2.5 s\n")


def test_logs_follow_stops_when_the_run_ends_without_the_node(read: Reading, executor: Executor) -> None:
    executor.steps = [lambda: executor.finish_run(RunStatus.CANCELLED)]
    written: list[str] = []
    follow_log(read, "r1", REPORT, None, sleep=executor.sleep, write=written.append)
    assert written[-1] == f"{REPORT} has no try 1 in run r1, and the node has ended\n"


def test_show_watch_prints_each_change_then_the_whole_run(read: Reading, executor: Executor) -> None:
    executor.steps = [
        lambda: executor.start_try(LOAD, 1, "x\n"),
        lambda: executor.end_try(LOAD, 1, AttemptStatus.SUCCESS, NodeStatus.SUCCESS),
        lambda: executor.start_try(REPORT, 1, "y\n"),
        lambda: (
            executor.end_try(REPORT, 1, AttemptStatus.FAILED, NodeStatus.FAILED),
            executor.finish_run(RunStatus.FAILED),
        ),
    ]
    out = io.StringIO()
    status = watch_run(read, "r1", Console(file=out, width=80), sleep=executor.sleep)
    assert status == RunStatus.FAILED
    lines = out.getvalue().splitlines()
    assert lines[0] == "watching run r1 (0/2 done); one line per node that starts or ends"
    changes = [" ".join(line.split()[2:]) for line in lines[1:5]]
    assert changes == [
        f"▶ running {LOAD}",
        f"✓ success {LOAD} (2.5 s)",
        f"▶ running {REPORT}",
        f"✗ failed {REPORT} (2.5 s)",
    ]
    rest = "\n".join(lines[5:])
    assert "run r1  ✗ failed" in rest and rest.index("✗ failed (1)") < rest.index("✓ success (1)")


def test_show_watch_of_a_finished_run_shows_it_once(read: Reading, store: StateStore, now: datetime) -> None:
    record_run(store, "done", now, [Step(LOAD)])
    out = io.StringIO()
    assert watch_run(read, "done", Console(file=out), sleep=lambda _: pytest.fail("no polling")) == RunStatus.SUCCESS
    assert out.getvalue().startswith("run done  ✓ success")


def test_show_watch_on_a_terminal_redraws_in_place(read: Reading, executor: Executor) -> None:
    executor.steps = [
        lambda: executor.start_try(LOAD, 1, "x\n"),
        lambda: (
            executor.end_try(LOAD, 1, AttemptStatus.SUCCESS, NodeStatus.SUCCESS),
            executor.finish_run(RunStatus.SUCCESS),
        ),
    ]
    out = io.StringIO()
    console = Console(file=out, width=100, force_terminal=True, color_system="standard")
    assert watch_run(read, "r1", console, sleep=executor.sleep) == RunStatus.SUCCESS
    assert "\x1b[" in out.getvalue() and "▶ running (1)" in out.getvalue() and "✓ success (1)" in out.getvalue()
