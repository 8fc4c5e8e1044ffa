"""The human views of the run history: ``orchestrate runs`` and ``orchestrate show``.

Each function takes records already read from the store and a
:class:`~orchestrate_ext.timefmt.TimeStyle` and returns a
:class:`~orchestrate_ext.cli.screen.Screen`; none reads the store or the
clock, so a view is the same wherever it is drawn (terminal, pipe, the live
display of ``show --watch``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from rich.text import Text

from orchestrate_ext.cli.screen import Cell, Column, Screen, styled
from orchestrate_ext.marks import NODE_MARKS, node_mark, run_mark
from orchestrate_ext.model import AttemptRecord, NodeRunRecord, NodeStatus, RunRecord, RunStatus
from orchestrate_ext.reports import ERROR_LINES, error_head, run_seconds
from orchestrate_ext.timefmt import TimeStyle, between, duration

GROUP_ORDER = (
    NodeStatus.FAILED,
    NodeStatus.CANCELLED,
    NodeStatus.UPSTREAM_FAILED,
    NodeStatus.UP_FOR_RETRY,
    NodeStatus.RUNNING,
    NodeStatus.WAITING,
    NodeStatus.QUEUED,
    NodeStatus.PENDING,
    NodeStatus.WARNED,
    NodeStatus.SKIPPED,
    NodeStatus.REUSED,
    NodeStatus.SUCCESS,
)
"""``show`` lists nodes by status in this order: what went wrong first, what went well last."""

_COUNTED_APART = (NodeStatus.SUCCESS, NodeStatus.REUSED, NodeStatus.FAILED)
LEFT_OUT_MARK = ("⊘", "yellow")
"""A node the run's selection chose but left out (broken, or waiting for a broken node): no node of the run."""


def status_text(status: RunStatus | NodeStatus, *, run: bool = False) -> Text:
    """``✓ success`` in its colour."""
    mark, colour = run_mark(status) if run else node_mark(status)
    return styled(f"{mark} {status.value.replace('_', ' ')}", colour)


def counts_text(counts: Mapping[str, int]) -> Text:
    """``38 ✓ 0 ✗``, then the other statuses present: ``34 ✓ 1 ✗ 3 ⤫ 2 ▶``."""
    good = counts.get(NodeStatus.SUCCESS.value, 0) + counts.get(NodeStatus.REUSED.value, 0)
    text = Text()
    text.append(f"{good} ✓", style="green" if good else "")
    failed = counts.get(NodeStatus.FAILED.value, 0)
    text.append(" ")
    text.append(f"{failed} ✗", style="red" if failed else "")
    for status, (mark, colour) in NODE_MARKS.items():
        number = counts.get(status.value, 0)
        if number and status not in _COUNTED_APART:
            text.append(" ")
            text.append(f"{number} {mark}", style=colour)
    return text


def progress_text(counts: Mapping[str, int]) -> str:
    """``12/38 done``: nodes in a final status out of all."""
    total = sum(counts.values())
    final = sum(number for status, number in counts.items() if NodeStatus(status).is_final)
    return f"{final}/{total} done"


def run_trigger(run: RunRecord) -> str:
    """``manual``, or ``cron nightly`` / ``backfill nightly`` for a schedule's run."""
    return f"{run.trigger} {run.schedule}" if run.schedule else run.trigger


def run_took(run: RunRecord, style: TimeStyle) -> str:
    """How long the run took (:func:`~orchestrate_ext.reports.run_seconds`: first start to end), or
    ``1 m 12 s so far`` while it runs; ``, resumed once`` when it was resumed."""
    resumed = ""
    if run.resumptions:
        resumed = ", resumed once" if run.resumptions == 1 else f", resumed {run.resumptions} times"
    if run.status == RunStatus.RUNNING:
        elapsed = between(run.started_at or run.created_at, style.now)
        return f"{duration(elapsed)} so far{resumed}"
    if run.status == RunStatus.QUEUED:
        return f"queued for {duration(between(run.created_at, style.now))} so far"
    return duration(run_seconds(run)) + resumed


def logical_date(run: RunRecord, style: TimeStyle) -> str:
    return style.absolute(run.logical_date, seconds=False)


# -- orchestrate runs


def runs_screen(
    runs: Sequence[RunRecord],
    counts: Mapping[str, Mapping[str, int]],
    total: int,
    style: TimeStyle,
    *,
    filtered: bool = False,
) -> Screen:
    """One row per run, newest first; ``total`` is how many the filters select in all."""
    screen = Screen()
    if not runs:
        screen.line("no runs match these filters" if filtered else "no runs yet; start one with `orchestrate run`")
        return screen
    columns = [
        Column("RUN"),
        Column("STATUS"),
        Column("STARTED", fold=True),
        Column("TOOK", justify="right"),
        Column("NODES"),
        Column("TRIGGER"),
        Column("LOGICAL DATE"),
    ]
    rows: list[list[Cell]] = [
        [
            run.run_id,
            status_text(run.status, run=True),
            style.both(run.started_at or run.created_at),
            run_took(run, style),
            counts_text(counts.get(run.run_id, {})),
            run_trigger(run),
            logical_date(run, style),
        ]
        for run in runs
    ]
    screen.table(columns, rows)
    if total > len(runs):
        screen.line((f"{len(runs)} of {total:,} runs, newest first; --limit for more, --json for every field", "dim"))
    return screen


# -- orchestrate show


def show_screen(
    run: RunRecord,
    nodes: Sequence[NodeRunRecord],
    attempts: Sequence[AttemptRecord],
    style: TimeStyle,
    *,
    here: Path | None = None,
) -> Screen:
    """One run: a header, then its nodes grouped by status (failures first, each with its error and log)."""
    screen = Screen()
    counts: dict[str, int] = {}
    for state in nodes:
        counts[state.status.value] = counts.get(state.status.value, 0) + 1
    screen.line(("run ", "bold"), (run.run_id, "bold"), "  ", status_text(run.status, run=True))
    _header(screen, run, counts, style)
    last_try = _last_attempts(attempts)
    for status in GROUP_ORDER:
        members = sorted(
            (state for state in nodes if state.status == status),
            key=lambda state: (state.started_at is None, state.started_at or run.created_at),
        )  # as they started; those that never did in the run's order (the sort is stable)
        if not members:
            continue
        screen.blank()
        mark, colour = node_mark(status)
        screen.line((f"{mark} {status.value.replace('_', ' ')} ({len(members)})", f"bold {colour}"))
        if status in (NodeStatus.FAILED, NodeStatus.WARNED, NodeStatus.CANCELLED):
            for state in members:
                _node_with_error(screen, state, last_try.get(state.node_id), style, here)
        else:
            _node_table(screen, members, run, style)
    _left_out(screen, run)
    _outputs(screen, last_try, here)
    _hints(screen, run, counts)
    return screen


def _header(screen: Screen, run: RunRecord, counts: Mapping[str, int], style: TimeStyle) -> None:
    selection = f" (selection: {run.selection})" if run.selection else ""
    if run.only_changed:
        selection += ", only what changed"
    screen.line(("trigger  ", "dim"), run_trigger(run) + selection, indent=2)
    screen.line(("logical  ", "dim"), logical_date(run, style), indent=2)
    started = run.started_at or run.created_at
    resumed = ""
    if run.resumptions:
        times = "once" if run.resumptions == 1 else f"{run.resumptions} times"
        resumed = f"; resumed {times}, last {style.relative(run.resumed_at)}"
    screen.line(("started  ", "dim"), f"{style.both(started, seconds=True)}{resumed}", indent=2)
    screen.line(("took     ", "dim"), run_took(run, style), indent=2)
    nodes = Text("")
    nodes.append_text(counts_text(counts))
    if run.left_out:
        mark, colour = LEFT_OUT_MARK
        nodes.append(" ")
        nodes.append(f"{len(run.left_out)} {mark}", style=colour)
    if run.status == RunStatus.RUNNING:
        nodes.append(f"  ({progress_text(counts)})")
    screen.line(("nodes    ", "dim"), nodes, indent=2)
    if run.parameters:
        shown = ", ".join(f"{key}={value!r}" for key, value in sorted(run.parameters.items()))
        screen.line(("params   ", "dim"), shown, indent=2)


def _left_out(screen: Screen, run: RunRecord) -> None:
    """The nodes the run left out, each with why (what to fix)."""
    if not run.left_out:
        return
    screen.blank()
    mark, colour = LEFT_OUT_MARK
    screen.line((f"{mark} left out ({len(run.left_out)})", f"bold {colour}"))
    for node_id, reason in sorted(run.left_out.items()):
        screen.line((node_id, "bold"), indent=2)
        screen.line((reason, colour), indent=4)


def _last_attempts(attempts: Sequence[AttemptRecord]) -> dict[str, AttemptRecord]:
    last: dict[str, AttemptRecord] = {}
    for attempt in attempts:
        known = last.get(attempt.node_id)
        if known is None or attempt.try_number > known.try_number:
            last[attempt.node_id] = attempt
    return last


def shown_path(path: str | None, here: Path | None) -> str:
    """A file path relative to the current folder when it lies below it (shorter to read and to paste)."""
    if not path:
        return "-"
    if here is not None:
        try:
            return os.path.relpath(path, here) if Path(path).is_relative_to(here) else path
        except ValueError:  # another drive on Windows
            return path
    return path


def _node_with_error(
    screen: Screen, state: NodeRunRecord, attempt: AttemptRecord | None, style: TimeStyle, here: Path | None
) -> None:
    tries = f"{state.attempts} {'try' if state.attempts == 1 else 'tries'}"
    took = duration(between(state.started_at, state.finished_at))
    screen.line((state.node_id, "bold"), ("  ", ""), (f"{state.kind} · {tries} · {took}", "dim"), indent=2)
    lines = error_head(state.error, limit=10**6)
    for line in lines[:ERROR_LINES]:
        screen.line((line, "red" if state.status == NodeStatus.FAILED else "yellow"), indent=4)
    if len(lines) > ERROR_LINES:
        screen.line((f"… {len(lines) - ERROR_LINES} more lines in the log", "dim"), indent=4)
    if attempt is not None:
        screen.line(("log: ", "dim"), shown_path(attempt.log_path, here), indent=4)


def _node_table(screen: Screen, members: Sequence[NodeRunRecord], run: RunRecord, style: TimeStyle) -> None:
    rows = []
    for state in members:
        note = ""
        if state.status == NodeStatus.WAITING:
            note = state.waiting_for or "waiting for a resource"
        elif state.status == NodeStatus.RUNNING:
            note = f"running for {duration(between(state.started_at, style.now))}"
        elif state.status == NodeStatus.UP_FOR_RETRY:
            note = f"retries after {state.attempts} failed {'try' if state.attempts == 1 else 'tries'}"
        elif state.error:
            note = state.error.strip().splitlines()[0]
        elif state.reason:  # why it ran, or was reused (a run with --only-changed)
            note = state.reason
        rows.append(
            [
                state.node_id,
                state.kind,
                str(state.attempts) if state.attempts else "",
                style.clock(state.started_at, run.started_at or run.created_at) if state.started_at else "",
                duration(between(state.started_at, state.finished_at))
                if state.started_at and state.finished_at
                else "",
                note,
            ]
        )
    columns = [
        Column("NODE", fold=True),
        Column("KIND"),
        Column("TRIES", justify="right"),
        Column("STARTED"),
        Column("TOOK", justify="right"),
        Column("NOTE", fold=True),
    ]
    keep = [index for index in range(len(columns)) if index < 2 or any(row[index] for row in rows)]
    screen.table([columns[index] for index in keep], ([row[index] for index in keep] for row in rows), indent=2)


def _outputs(screen: Screen, last_try: Mapping[str, AttemptRecord], here: Path | None) -> None:
    outputs = [(node_id, attempt) for node_id, attempt in last_try.items() if attempt.output_path]
    if not outputs:
        return
    screen.blank()
    screen.line(("output notebooks", "bold"))
    rows = [
        [node_id, f"try {attempt.try_number}", shown_path(attempt.output_path, here)] for node_id, attempt in outputs
    ]
    screen.table([Column("NODE", fold=True), Column("TRY"), Column("OUTPUT", fold=True)], rows, indent=2)


def _hints(screen: Screen, run: RunRecord, counts: Mapping[str, int]) -> None:
    hints = []
    if run.status == RunStatus.RUNNING:
        hints.append(f"follow it: orchestrate show {run.run_id} --watch")
    if run.status == RunStatus.QUEUED:
        hints.append(f"queued until a run slot is free (max_runs, max_active_runs); orchestrate cancel {run.run_id}")
    if counts.get(NodeStatus.FAILED.value):
        hints.append(f"a node's whole log: orchestrate logs {run.run_id} NODE")
    if run.status in (RunStatus.FAILED, RunStatus.CANCELLED):
        hints.append(f"run what failed or never ran again: orchestrate retry {run.run_id}")
    if run.left_out:
        hints.append("a retry does not run what was left out: fix it, then start a new run (orchestrate run)")
    if hints:
        screen.blank()
        for hint in hints:
            screen.line((hint, "dim"))
