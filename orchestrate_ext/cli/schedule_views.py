"""The human views of ``orchestrate schedules`` and ``orchestrate ticks``.

Like :mod:`orchestrate_ext.cli.views`: records in, a
:class:`~orchestrate_ext.cli.screen.Screen` out, nothing read here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from rich.text import Text

from orchestrate_ext.cli.screen import Cell, Column, Screen, styled
from orchestrate_ext.cli.views import run_took, status_text
from orchestrate_ext.model import RunRecord
from orchestrate_ext.schedule_api import ScheduleInfo
from orchestrate_ext.store.records import TickRecord, TickStatus
from orchestrate_ext.timefmt import TimeStyle

TICK_MARKS: dict[TickStatus, tuple[str, str]] = {
    TickStatus.PENDING: ("…", "cyan"),
    TickStatus.RAN: ("→", "green"),
    TickStatus.SKIPPED: ("-", "dim"),
    TickStatus.DEDUPLICATED: ("=", "dim"),
}


def schedules_screen(infos: Sequence[ScheduleInfo], style: TimeStyle, *, more_fire_times: bool = False) -> Screen:
    """One row per schedule: state, triggers, next fire time, last run; ``more_fire_times`` lists the next ones."""
    screen = Screen()
    if not infos:
        screen.line("no schedules; add `schedules:` to orchestrate.yaml or `schedule` to a notebook's metadata")
        return screen
    rows: list[list[Cell]] = []
    for info in infos:
        definition = info.definition
        state = styled("⏸ paused", "yellow") if info.paused else styled("✓ active", "green")
        if info.next_fire_times:
            upcoming: Cell = style.both(info.next_fire_times[0])
        else:
            upcoming = "-" if info.paused else "on its triggers"
        rows.append(
            [
                definition.name,
                state,
                "; ".join(definition.triggers()) or "none",
                upcoming,
                *_last_run(info.last_run, style),
                definition.selection_text or "every node",
                definition.origin,
            ]
        )
    columns = [
        Column("NAME"),
        Column("STATE"),
        Column("TRIGGER", fold=True),
        Column("NEXT FIRE"),
        Column("LAST RUN"),
        Column("TOOK", justify="right"),
        Column("STARTED"),
        Column("RUNS", fold=True),
        Column("FROM", fold=True),
    ]
    screen.table(columns, rows)
    if more_fire_times:
        screen.blank()
        screen.line(("next fire times", "bold"))
        for info in infos:
            if info.next_fire_times:
                screen.line((f"{info.definition.name}: ", "bold"), indent=2)
                for moment in info.next_fire_times:
                    screen.line(style.both(moment), indent=4)
    return screen


def _last_run(run: RunRecord | None, style: TimeStyle) -> list[Cell]:
    if run is None:
        return ["none yet", "", ""]
    label = status_text(run.status, run=True)
    label.append(f" {run.run_id}")
    return [label, run_took(run, style), style.relative(run.started_at or run.created_at)]


def ticks_screen(ticks: Sequence[TickRecord], runs: Mapping[str, RunRecord], style: TimeStyle) -> Screen:
    """One row per tick, newest first, with what became of it (its run and the run's status, or why not)."""
    screen = Screen()
    if not ticks:
        screen.line("no ticks yet; a running `orchestrate scheduler` records one per fire time or event")
        return screen
    rows: list[list[Cell]] = []
    for tick in ticks:
        mark, colour = TICK_MARKS.get(tick.status, ("·", "white"))
        outcome: Cell
        run = runs.get(tick.run_id or "")
        if run is not None:
            outcome = Text(f"run {run.run_id} ")
            outcome.append_text(status_text(run.status, run=True))
        elif tick.run_id:
            outcome = f"run {tick.run_id} (deleted from the history)"
        elif tick.duplicate_of:
            outcome = f"covered by run {tick.duplicate_of}"
        else:
            outcome = tick.reason or ""
        rows.append(
            [
                str(tick.tick_id),
                tick.schedule,
                style.both(tick.scheduled_at),
                tick.trigger.value,
                styled(f"{mark} {tick.status.value}", colour),
                outcome,
            ]
        )
    columns = [
        Column("TICK", justify="right"),
        Column("SCHEDULE"),
        Column("FIRE TIME"),
        Column("TRIGGER"),
        Column("STATUS"),
        Column("OUTCOME", fold=True),
    ]
    screen.table(columns, rows)
    return screen
