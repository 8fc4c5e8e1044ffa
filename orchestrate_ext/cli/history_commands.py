"""Commands that read the run history: ``runs``, ``show`` (``--watch``) and ``logs`` (``--follow``).

Every one opens the store read-only. The human output is a view
(:mod:`orchestrate_ext.cli.views`) drawn for a terminal or a pipe; ``--json``
prints the documents of :mod:`orchestrate_ext.reports`, whose fields only ever
grow.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from orchestrate_ext.cli import completion
from orchestrate_ext.cli.app import EXIT_FAILED, main, project_option
from orchestrate_ext.cli.follow import follow_log, print_log, watch_run
from orchestrate_ext.cli.reading import parse_since, reading, utc_option
from orchestrate_ext.cli.screen import stdout_console
from orchestrate_ext.cli.views import runs_screen, show_screen
from orchestrate_ext.errors import NodeNotFound, did_you_mean
from orchestrate_ext.model import RunStatus
from orchestrate_ext.reports import run_document, run_summary
from orchestrate_ext.store import StoreTx
from orchestrate_ext.store.records import SQL_INT_MAX, RunQuery


def resolve_node(tx: StoreTx, given: str) -> str:
    """The id of the node ``given`` names: its id, or a name that only one node id in the history ends with.

    Raises:
        NodeNotFound: no node (or more than one) in the history goes by that name.
    """
    known = set(tx.latest_node_states())
    if given in known:
        return given
    matches = sorted(node_id for node_id in known if _short_names(node_id) & {given})
    if len(matches) == 1:
        return matches[0]
    if matches:
        raise NodeNotFound(f"--node '{given}' names {len(matches)} nodes ({', '.join(matches)}); give the full node id")
    names = known | {name for node_id in known for name in _short_names(node_id)}
    hint = did_you_mean(given, names) or ("; no run has any node yet" if not known else "")
    raise NodeNotFound(f"--node '{given}' is no node of any run in the history{hint}")


def _short_names(node_id: str) -> set[str]:
    """``daily_revenue`` for ``model.shop.daily_revenue``; ``daily_report`` and ``notebooks/daily_report`` for
    ``notebook.notebooks/daily_report``."""
    tail = node_id.split(".", 2)[-1] if node_id.count(".") >= 2 else node_id.partition(".")[2]
    names = {tail, tail.rsplit("/", 1)[-1]} if tail else set()
    if node_id.startswith("test.") and "." in tail:
        names.add(tail.rsplit(".", 1)[0])  # dbt tests end in a hash
    return names


@main.command()
@click.option(
    "--status",
    "statuses",
    multiple=True,
    type=click.Choice([s.value for s in RunStatus]),
    help="Only runs with this status (repeatable).",
)
@click.option(
    "--schedule",
    "schedules",
    multiple=True,
    shell_complete=completion.schedule_names,
    help="Only runs of this schedule (repeatable).",
)
@click.option(
    "--node", default=None, shell_complete=completion.node_ids, help="Only runs that include this node (id or name)."
)
@click.option(
    "--since", default=None, help="Only runs created since: a duration back (2d, 12h) or a date (2026-11-30)."
)
@click.option("--limit", default=20, show_default=True, type=click.IntRange(min=1, max=SQL_INT_MAX))
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list, newest first.")
@utc_option
@project_option
def runs(
    project_dir: Path | None,
    statuses: tuple[str, ...],
    schedules: tuple[str, ...],
    node: str | None,
    since: str | None,
    limit: int,
    as_json: bool,
    utc: bool,
) -> None:
    """List recent runs, newest first: status, duration, node counts."""
    with reading(project_dir, utc=utc) as read, read.store.read() as tx:
        query = RunQuery(
            statuses=frozenset(RunStatus(status) for status in statuses),
            schedules=frozenset(schedules),
            node_id=resolve_node(tx, node) if node else None,
            since=parse_since(since, read.style) if since else None,
            limit=limit,
        )
        found = tx.find_runs(query)
        if as_json:
            read.emit([run_summary(run) for run in found])
            return
        counts = tx.node_counts([run.run_id for run in found])
        total = tx.count_runs(query) if len(found) == limit else len(found)
        screen = runs_screen(found, counts, total, read.style, filtered=query != RunQuery(limit=limit))
        read.show(screen)


@main.command()
@click.argument("run_id", shell_complete=completion.run_ids)
@click.option("--watch", is_flag=True, help="Follow a running run live until it ends (exit 1 if it fails).")
@click.option("--json", "as_json", is_flag=True)
@utc_option
@project_option
def show(project_dir: Path | None, run_id: str, watch: bool, as_json: bool, utc: bool) -> None:
    """Show one run: its nodes grouped by status, failures first with their error and log."""
    with reading(project_dir, utc=utc) as read:
        if as_json:
            with read.store.read() as tx:
                read.emit(run_document(tx, run_id, with_attempts=True))
            return
        if watch:
            status = watch_run(read, run_id, stdout_console())
            sys.exit(0 if status == RunStatus.SUCCESS else EXIT_FAILED)
        with read.store.read() as tx:
            run, nodes, attempts = tx.get_run(run_id), tx.node_states(run_id), tx.attempts(run_id)
        read.show(show_screen(run, nodes, attempts, read.style, here=Path.cwd()))


@main.command()
@click.argument("run_id", shell_complete=completion.run_ids)
@click.argument("node_id", shell_complete=completion.run_node_ids)
@click.option(
    "--try",
    "try_number",
    type=click.IntRange(min=1, max=SQL_INT_MAX),
    default=None,
    help="Only this attempt, counted from 1 (default: all).",
)
@click.option(
    "--follow", "-f", is_flag=True, help="Keep printing while the node runs (and its retries), until it ends."
)
@project_option
def logs(project_dir: Path | None, run_id: str, node_id: str, try_number: int | None, follow: bool) -> None:
    """Print the log of NODE_ID in RUN_ID."""
    with reading(project_dir) as read:
        with read.store.read() as tx:
            tx.get_run(run_id)
            known = sorted({state.node_id for state in tx.node_states(run_id)})
        if node_id not in known:
            raise NodeNotFound(f"run {run_id} has no node '{node_id}'{did_you_mean(node_id, known)}")
        if follow:
            follow_log(read, run_id, node_id, try_number)
        else:
            print_log(read, run_id, node_id, try_number)
