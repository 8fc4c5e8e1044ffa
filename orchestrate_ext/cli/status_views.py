"""The human views of ``orchestrate status`` and ``orchestrate freshness`` (see :mod:`orchestrate_ext.health`).

Like :mod:`orchestrate_ext.cli.views`: records in, a
:class:`~orchestrate_ext.cli.screen.Screen` out, nothing read here.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text

from orchestrate_ext.cli.screen import Cell, Column, Screen, styled
from orchestrate_ext.cli.views import counts_text, progress_text, run_took, run_trigger, status_text
from orchestrate_ext.health import Health, ScheduleHealth
from orchestrate_ext.marks import STALE_MARK
from orchestrate_ext.staleness import NodeFreshness, StaleBy, StaleReason
from orchestrate_ext.timefmt import TimeStyle, between, span

STALE_SHOWN = 15
"""Stale nodes ``status`` lists (``orchestrate freshness`` lists them all)."""
ERROR_HEAD = 2
"""Lines of a failing node's error that ``status`` shows."""
SILENT_AFTER = 60.0
"""A running run whose heartbeat is older than this many seconds is flagged: its process may be gone."""


def status_screen(health: Health, style: TimeStyle) -> Screen:
    screen = Screen()
    _verdict(screen, health, style)
    screen.blank()
    _scheduler(screen, health, style)
    screen.blank()
    _schedules(screen, health.schedules, style)
    screen.blank()
    _running(screen, health, style)
    screen.blank()
    _broken(screen, health)
    screen.blank()
    _failing(screen, health, style)
    screen.blank()
    _stale(screen, health, style)
    return screen


def _verdict(screen: Screen, health: Health, style: TimeStyle) -> None:
    when = style.absolute(health.now, seconds=False)
    if health.healthy:
        screen.line(
            ("✓ healthy", "bold green"),
            f": {health.nodes_checked} nodes checked, none failing, none stale ({when})",
        )
        return
    parts = []
    if health.failing:
        parts.append(f"{len(health.failing)} failing")
    if health.stale:
        parts.append(f"{len(health.stale)} stale")
    problems = [f"{', '.join(parts)} of {health.nodes_checked} nodes"] if parts else []
    if health.broken:
        with_it = f" ({len(health.blocked)} more left out with them)" if health.blocked else ""
        problems.append(f"{len(health.broken)} node(s) broken{with_it}")
    if health.broken_schedules:
        problems.append(f"{len(health.broken_schedules)} schedule(s) broken")
    if health.unloaded:
        problems.append(f"nothing of {', '.join(f'`{key}:`' for key in health.unloaded)} could be loaded")
    if health.scheduler_failed:
        problems.append("the scheduler stopped on an error")
    screen.line(("✗ unhealthy", "bold red"), f": {'; '.join(problems)} ({when})")


def _scheduler(screen: Screen, health: Health, style: TimeStyle) -> None:
    lease = health.scheduler
    label = ("scheduler  ", "bold")
    if lease.active:
        where = f"on {lease.host} (pid {lease.pid})" if lease.host else f"as {lease.holder}"
        screen.line(label, ("✓ running", "green"), f" {where} since {style.both(lease.acquired_at)}")
        screen.line(
            ("lease held by ", "dim"), (f"{lease.holder}, renewed {style.relative(lease.renewed_at)}", "dim"), indent=11
        )
        return
    nothing = not any(schedule.next_fire_at for schedule in health.schedules)
    hint = "no schedule fires by time" if nothing else "start it with `orchestrate scheduler`"
    screen.line(label, ("✗ not running", "yellow" if nothing else "red"), f"; {hint}")
    stopped = health.last_exit
    if stopped is not None and stopped.error:
        screen.line(("last exit ", "bold"), (f"{style.both(stopped.at)}: ", "dim"), (stopped.reason, "red"), indent=11)
    if lease.holder:
        screen.line(
            (f"last held by {lease.holder}, until {style.both(lease.expires_at)}", "dim"),
            indent=11,
        )


def _schedules(screen: Screen, schedules: Sequence[ScheduleHealth], style: TimeStyle) -> None:
    if not schedules:
        screen.line(("schedules  ", "bold"), "none; add `schedules:` to orchestrate.yaml or `schedule` to a node")
        return
    screen.line(("schedules", "bold"))
    rows = []
    for schedule in schedules:
        if schedule.paused:
            upcoming: Text | str = styled("paused", "yellow")
        elif schedule.next_fire_at is not None:
            upcoming = style.both(schedule.next_fire_at)
        else:
            upcoming = "on its triggers"
        rows.append([schedule.name, "; ".join(schedule.triggers), upcoming, *_last_run(schedule, style)])
    columns = [
        Column("NAME"),
        Column("TRIGGER", fold=True),
        Column("NEXT FIRE"),
        Column("LAST RUN"),
        Column("TOOK", justify="right"),
        Column("STARTED"),
    ]
    screen.table(columns, rows, indent=2)


def _last_run(schedule: ScheduleHealth, style: TimeStyle) -> list[Text | str]:
    run = schedule.last_run
    if run is None:
        return ["none yet", "", ""]
    label = status_text(run.status, run=True)
    label.append(f" {run.run_id}", style="")
    return [label, run_took(run, style), style.relative(run.started_at or run.created_at)]


def _running(screen: Screen, health: Health, style: TimeStyle) -> None:
    if not health.running:
        screen.line(("running now  ", "bold"), "none")
        return
    screen.line((f"running now ({health.running_total})", "bold"))
    rows: list[list[Cell]] = []
    for progress in health.running:
        beat = between(progress.heartbeat_at, style.now)
        heartbeat = style.relative(progress.heartbeat_at) if progress.heartbeat_at else "none yet"
        heartbeat_cell: Text | str = heartbeat
        if beat is not None and beat > SILENT_AFTER:
            heartbeat_cell = styled(f"{heartbeat}: its process may be gone", "yellow")
        rows.append(
            [
                progress.run.run_id,
                progress_text(progress.counts),
                counts_text(progress.counts),
                run_took(progress.run, style),
                run_trigger(progress.run),
                heartbeat_cell,
            ]
        )
    columns = [
        Column("RUN"),
        Column("PROGRESS"),
        Column("NODES"),
        Column("TOOK", justify="right"),
        Column("TRIGGER"),
        Column("HEARTBEAT"),
    ]
    screen.table(columns, rows, indent=2)
    if health.running_total > len(health.running):
        screen.line(
            (f"… and {health.running_total - len(health.running)} more: orchestrate runs --status running", "dim"),
            indent=2,
        )


def _broken(screen: Screen, health: Health) -> None:
    """Broken nodes and schedules: left out of every run until fixed, with why and what waits for them."""
    if not health.broken and not health.broken_schedules and not health.unloaded:
        screen.line(("broken  ", "bold"), "none")
        return
    total = len(health.broken) + len(health.broken_schedules) + len(health.unloaded)
    screen.line((f"broken ({total}): left out of every run until fixed", "bold"))
    waiting: dict[str, list[str]] = {}
    for node_id, cause in health.blocked.items():
        waiting.setdefault(cause, []).append(node_id)
    for key, reason in health.unloaded.items():
        screen.line(("✗ ", "red"), (f"every node of `{key}:`", "bold"), indent=2)
        screen.line((reason, "red"), indent=6)
    for node_id, reason in health.broken.items():
        screen.line(("✗ ", "red"), (node_id, "bold"), indent=2)
        screen.line((reason, "red"), indent=6)
        if waiting.get(node_id):
            screen.line((f"left out with it: {', '.join(sorted(waiting[node_id]))}", "dim"), indent=6)
    for name, reason in health.broken_schedules.items():
        screen.line(("✗ ", "red"), (f"schedule {name}", "bold"), indent=2)
        screen.line((reason, "red"), indent=6)
    screen.line(("check the whole project: orchestrate validate", "dim"), indent=2)


def _failing(screen: Screen, health: Health, style: TimeStyle) -> None:
    if not health.failing:
        screen.line(("failing  ", "bold"), "none")
        return
    screen.line((f"failing ({len(health.failing)})", "bold"))
    for node in health.failing:
        screen.line(
            ("✗ ", "red"),
            (node.node_id, "bold"),
            (f"  in run {node.run_id}, {style.relative(node.finished_at)}", "dim"),
            indent=2,
        )
        for line in error_head(node.error):
            screen.line((line, "red"), indent=6)
    newest = max(health.failing, key=lambda node: (node.finished_at is not None, node.finished_at or health.now))
    screen.line((f"the whole run: orchestrate show {newest.run_id}", "dim"), indent=2)


def error_head(error: str | None, lines: int = ERROR_HEAD) -> list[str]:
    """The first lines of an error that say something (dbt's first line only names the model)."""
    found = [line.rstrip()[:200] for line in (error or "").strip().splitlines() if line.strip()]
    return found[:lines]


def _stale(screen: Screen, health: Health, style: TimeStyle) -> None:
    if not health.stale:
        screen.line(("stale  ", "bold"), "none")
        return
    screen.line((f"stale ({len(health.stale)})", "bold"))
    shown = health.stale[:STALE_SHOWN]
    screen.table(
        [Column("NODE", fold=True), Column("LAST SUCCESS"), Column("WHY", fold=True)],
        [[_stale_name(item), style.both(item.last_success_at), _why(item, style)] for item in shown],
        indent=2,
    )
    if len(health.stale) > len(shown):
        screen.line((f"… and {len(health.stale) - len(shown)} more: orchestrate freshness", "dim"), indent=2)


def _stale_name(item: NodeFreshness) -> Text:
    mark, colour = STALE_MARK
    text = styled(f"{mark} ", colour)
    text.append(item.node_id)
    return text


def reason_text(reason: StaleReason, style: TimeStyle) -> str:
    if reason.by == StaleBy.FRESHNESS:
        window = span(reason.freshness or 0)
        if reason.since is None:
            return f"freshness {window}: never succeeded"
        return f"freshness {window}: due {style.relative(reason.since)}"
    return f"schedule {reason.schedule} fired {style.both(reason.since)}"


def _why(item: NodeFreshness, style: TimeStyle) -> str:
    return "; ".join(reason_text(reason, style) for reason in item.reasons)


def freshness_screen(items: Sequence[NodeFreshness], style: TimeStyle) -> Screen:
    """Every node's last success, stalest first, with why a stale one is stale."""
    screen = Screen()
    if not items:
        screen.line("no runnable nodes selected")
        return screen
    rows: list[list[Cell]] = []
    for item in items:
        if item.stale:
            mark, colour = STALE_MARK
            state = styled(f"{mark} stale", colour)
        elif item.refreshing:
            state = styled("▶ refreshing", "cyan")
        elif item.freshness is None and not item.schedules:
            state = styled("· no rule", "dim")
        else:
            state = styled("✓ fresh", "green")
        latest: Text | str = status_text(item.latest_status) if item.latest_status else "never ran"
        rows.append(
            [
                item.node_id,
                state,
                style.both(item.last_success_at),
                item.last_success_run_id or "",
                latest,
                _why(item, style) or _rules(item),
            ]
        )
    columns = [
        Column("NODE", fold=True),
        Column("STATE"),
        Column("LAST SUCCESS"),
        Column("RUN"),
        Column("LATEST"),
        Column("WHY / RULES", fold=True),
    ]
    screen.table(columns, rows)
    stale = sum(item.stale for item in items)
    unruled = sum(item.freshness is None and not item.schedules for item in items)
    screen.line((f"{len(items)} nodes, {stale} stale, {unruled} without a freshness SLA or schedule", "dim"))
    return screen


def _rules(item: NodeFreshness) -> str:
    rules = [f"freshness {span(item.freshness)}"] if item.freshness else []
    rules += [f"schedule {name}" for name in item.schedules]
    return ", ".join(rules)
