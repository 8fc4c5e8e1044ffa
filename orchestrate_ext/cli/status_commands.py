"""``orchestrate status`` (is the pipeline healthy?) and ``orchestrate freshness`` (when each node last succeeded).

``status`` exits 0 when healthy and 1 when a node is failing, stale or broken
(left out of every run), a schedule is broken, or the scheduler stopped on an
error, so it serves a cron check or a shell prompt; bad input (an unreadable
orchestrate.yaml) exits 2 as everywhere.
Both only read (the store opened read-only).
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from orchestrate_ext.cli import completion
from orchestrate_ext.cli.app import EXIT_FAILED, main, project_option
from orchestrate_ext.cli.reading import reading, utc_option
from orchestrate_ext.cli.status_views import freshness_screen, status_screen
from orchestrate_ext.health import check_health, health_document, refreshing_nodes
from orchestrate_ext.schedule_api import schedule_definitions
from orchestrate_ext.scheduling.definitions import discover_schedule_set
from orchestrate_ext.scheduling.exits import last_exit
from orchestrate_ext.selection import select
from orchestrate_ext.staleness import assess, freshness_document


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@utc_option
@project_option
def status(project_dir: Path | None, as_json: bool, utc: bool) -> None:
    """Is the pipeline healthy? Scheduler, schedules, runs going on, failing, stale and broken nodes.

    Exit code 0: healthy; 1: a node is failing in its latest run, stale or broken, a schedule is
    broken, or the scheduler stopped on an error.
    """
    with reading(project_dir, utc=utc) as read:
        project = read.project
        partial = project.partial_graph
        schedules = discover_schedule_set(
            project.config.core.schedules,
            partial,
            project.config.workspace.config_path,
            project.config.broken_schedules,
        )
        with read.store.read() as tx:
            health = check_health(
                tx,
                partial.runnable(),
                schedules.definitions,
                read.now,
                partial=partial,
                broken_schedules=schedules.broken,
                last_exit=last_exit(project.config.workspace.state_dir),
            )
    if as_json:
        read.emit(health_document(health))
    else:
        read.show(status_screen(health, read.style))
    sys.exit(0 if health.healthy else EXIT_FAILED)


@main.command()
@click.argument("selector", required=False, shell_complete=completion.node_ids)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list, stalest first.")
@utc_option
@project_option
def freshness(project_dir: Path | None, selector: str | None, as_json: bool, utc: bool) -> None:
    """When each node last succeeded, stalest first, and why a stale one is stale.

    SELECTOR narrows the list as --select does elsewhere (e.g. tag:finance, +daily_revenue).
    """
    with reading(project_dir, utc=utc) as read:
        graph = read.project.graph
        chosen = select(graph, selector)
        definitions = schedule_definitions(read.project)
        with read.store.read() as tx:
            paused = {name for name, state in tx.schedule_states().items() if state.paused}
            latest = tx.latest_node_states(chosen)
            items = assess(graph, chosen, definitions, latest, refreshing_nodes(tx), paused, read.now)
    if as_json:
        read.emit([freshness_document(item) for item in items])
        return
    read.show(freshness_screen(items, read.style))
