"""The live progress panel: a running node's elapsed time counts up between state changes (issue 10, item 10)."""

from __future__ import annotations

import io
from datetime import UTC, datetime

from rich.console import Console

from orchestrate_ext.events import NodeChanged
from orchestrate_ext.model import NodeStatus, RunRecord, RunStatus
from orchestrate_ext.progress import TerminalProgress


class FakeMonotonic:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_running_node_elapsed_time_moves_on_every_refresh() -> None:
    screen = io.StringIO()
    console = Console(file=screen, force_terminal=True, width=120, color_system=None)
    clock = FakeMonotonic()
    progress = TerminalProgress(console, monotonic=clock)
    moment = datetime(2024, 1, 31, tzinfo=UTC)
    run = RunRecord("r1", RunStatus.RUNNING, moment, moment)
    progress.run_started(run, ["notebook.slow", "model.p.a"])
    try:
        assert progress.live is not None, "a terminal gets the live panel"
        progress.node_changed(NodeChanged("r1", "notebook.slow", "notebook", NodeStatus.RUNNING, 1, None))
        progress.live.refresh()
        assert "notebook.slow  0 s" in screen.getvalue()
        clock.now += 7.2  # no state change: only the display's own refresh
        screen.seek(0)
        screen.truncate()
        progress.live.refresh()
        assert "notebook.slow  7 s" in screen.getvalue()
        clock.now += 60
        screen.seek(0)
        screen.truncate()
        progress.live.refresh()
        assert "notebook.slow  67 s" in screen.getvalue()
    finally:
        progress.run_finished(RunRecord("r1", RunStatus.SUCCESS, moment, moment))
    assert "run r1 success in 67.2 s" in screen.getvalue()


def test_the_summary_goes_where_the_caller_says_and_the_progress_stays_on_its_console() -> None:
    progress_screen, summary_screen = io.StringIO(), io.StringIO()
    progress = TerminalProgress(
        Console(file=progress_screen, width=120, color_system=None),
        monotonic=FakeMonotonic(),
        summary=Console(file=summary_screen, width=120, color_system=None),
    )
    moment = datetime(2024, 1, 31, tzinfo=UTC)
    progress.run_started(RunRecord("r1", RunStatus.RUNNING, moment, moment), ["model.p.a"])
    progress.node_changed(NodeChanged("r1", "model.p.a", "dbt", NodeStatus.SUCCESS, 1, None))
    progress.run_finished(RunRecord("r1", RunStatus.SUCCESS, moment, moment))

    assert "model.p.a success" in progress_screen.getvalue()
    assert "run r1 success in 0.0 s — 1 success" in summary_screen.getvalue()
    assert "run r1 success in" not in progress_screen.getvalue()


def test_a_wait_is_one_line_when_it_starts_and_one_when_it_ends() -> None:
    """Issue 18: every change of the holder (or of the place in line) printed another line, ~40 a run."""
    screen = io.StringIO()
    console = Console(file=screen, force_terminal=False, width=200, color_system=None)
    clock = FakeMonotonic()
    progress = TerminalProgress(console, monotonic=clock)
    moment = datetime(2024, 1, 31, tzinfo=UTC)
    batch = [f"model.p.m{index}" for index in range(30)]
    progress.run_started(RunRecord("r1", RunStatus.RUNNING, moment, moment), batch)

    def change(node_id: str, status: NodeStatus, waiting_for: str | None = None) -> None:
        progress.node_changed(NodeChanged("r1", node_id, "dbt", status, 1, None, waiting_for))

    for holder in ("run r0 node model.p.x", "run r0 node model.p.y", "run r9 node model.p.z"):
        for node_id in batch:  # the whole batch waits; the holder changes twice
            change(node_id, NodeStatus.WAITING, f"waiting for warehouse (held by {holder})")
        clock.now += 4
    for node_id in batch:
        change(node_id, NodeStatus.QUEUED)
    for node_id in batch:
        change(node_id, NodeStatus.RUNNING)
        change(node_id, NodeStatus.SUCCESS)
    lines = [line for line in screen.getvalue().splitlines() if "wait" in line]
    assert lines == [
        "⏸ model.p.m0 waiting for warehouse (held by run r0 node model.p.x)",
        "▶ model.p.m0 and 29 more waited 12.0 s for warehouse",
    ]
