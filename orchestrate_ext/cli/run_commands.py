"""Commands that build, show and run the graph (the history views are in ``history_commands``)."""

from __future__ import annotations

import logging
import signal
import sys
import threading
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from orchestrate_ext import render
from orchestrate_ext.cli import completion
from orchestrate_ext.cli.app import EXIT_FAILED, emit_json, main, project_option
from orchestrate_ext.clock import Clock, parse_datetime
from orchestrate_ext.errors import BadInput
from orchestrate_ext.execution.claims import refuse_if_executing
from orchestrate_ext.interfaces import CheckingPlugin, Observer
from orchestrate_ext.model import NodeStatus, RunStatus
from orchestrate_ext.progress import TerminalProgress
from orchestrate_ext.project import Project
from orchestrate_ext.reports import run_document
from orchestrate_ext.scaffold import write_initial_config
from orchestrate_ext.selection import select


@main.command()
@click.option("--force", is_flag=True, help="Overwrite an existing orchestrate.yaml.")
@project_option
def init(project_dir: Path | None, force: bool) -> None:
    """Write an orchestrate.yaml for the dbt project and notebooks found here."""
    path = write_initial_config(project_dir or Path.cwd(), force=force)
    click.echo(f"wrote {path}; check it, then run `orchestrate validate`")


@main.command()
@project_option
def validate(project_dir: Path | None) -> None:
    """Check the configuration, every node's metadata and the graph."""
    project = Project.load(project_dir)
    graph = project.graph
    counts: dict[str, int] = {}
    for node in graph.nodes.values():
        counts[node.kind] = counts.get(node.kind, 0) + 1
    warnings = [
        warning
        for key, section in project.config.sections.items()
        if isinstance(plugin := project.plugins[key], CheckingPlugin)
        for warning in plugin.check(section, project.config.workspace, graph)
    ]
    for warning in warnings:
        click.echo(f"warning: {warning}", err=True)
    detail = ", ".join(f"{count} {kind}" for kind, count in sorted(counts.items()))
    click.echo(f"ok: {len(graph.nodes)} nodes ({detail}), no cycles, every reference resolved")


@main.command()
@click.option("--select", "-s", "selection", default=None, help="Nodes to show, e.g. '+daily_revenue'.")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "mermaid", "dot"]), default="text")
@project_option
def graph(project_dir: Path | None, selection: str | None, fmt: str) -> None:
    """Print the pipeline graph."""
    the_graph = Project.load(project_dir).graph
    chosen = select(the_graph, selection)
    if fmt == "json":
        emit_json(the_graph.to_json(chosen))
    else:
        renderers = {"text": render.as_text, "mermaid": render.as_mermaid, "dot": render.as_dot}
        click.echo(renderers[fmt](the_graph, chosen))


@main.command()
@click.option("--select", "-s", "selection", default=None, help="Nodes to run, e.g. 'tag:finance+'.")
@click.option("--logical-date", default=None, help="The date the run is for (ISO-8601); default: now.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as one JSON object.")
@project_option
def run(project_dir: Path | None, selection: str | None, logical_date: str | None, as_json: bool) -> None:
    """Run the pipeline (or a selection of it) now."""
    try:
        when = parse_datetime(logical_date) if logical_date else datetime.now(UTC)
    except ValueError as exc:
        raise BadInput(f"--logical-date: {exc}") from None
    project = Project.load(project_dir)
    chosen = select(project.graph, selection)
    store = project.open_store()
    observers = project.observers(store)
    executor = project.executor(store, listeners=[TerminalProgress(), *observers])
    record = executor.create_run(chosen, when, selection=selection)
    _execute_and_report(executor, store, record.run_id, as_json, observers, project.clock)


@main.command()
@click.argument("run_id", shell_complete=completion.run_ids)
@click.option("--json", "as_json", is_flag=True, help="Print the result as one JSON object.")
@project_option
def retry(project_dir: Path | None, run_id: str, as_json: bool) -> None:
    """Run again what failed or never ran in RUN_ID."""
    project = Project.load(project_dir)
    store = project.open_store()
    with store.read() as tx:
        refuse_if_executing(tx, run_id, project.clock.now())
    observers = project.observers(store)
    executor = project.executor(store, listeners=[TerminalProgress(), *observers])
    _execute_and_report(executor, store, run_id, as_json, observers, project.clock)


OBSERVER_TICK_SECONDS = 1.0
OBSERVER_CLOSE_SECONDS = 30.0
"""The longest a run waits at exit for its observers (e.g. to deliver its alerts)."""


class _Ticker:
    """Calls every observer's ``tick`` once a second from a thread of its own while a run executes."""

    def __init__(self, observers: Sequence[Observer], clock: Clock) -> None:
        self.observers = observers
        self.clock = clock
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._loop, name="observer-ticks", daemon=True)

    def _loop(self) -> None:
        while not self.stopped.wait(OBSERVER_TICK_SECONDS):
            for observer in self.observers:
                try:
                    observer.tick(self.clock.now())
                except Exception as exc:  # an observer must not stop the run
                    logging.getLogger(__name__).error("observer tick failed: %s", type(exc).__name__)

    def __enter__(self) -> _Ticker:
        if self.observers:
            self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopped.set()
        if self.thread.is_alive():
            self.thread.join(OBSERVER_TICK_SECONDS * 5)


def _execute_and_report(
    executor: Any,
    store: Any,
    run_id: str,
    as_json: bool,
    observers: Sequence[Observer] = (),
    clock: Clock | None = None,
) -> None:
    cancel = threading.Event()
    previous = signal.signal(signal.SIGINT, lambda *_: cancel.set())
    try:
        with _Ticker(observers, clock or executor.clock):
            finished = executor.execute(run_id, cancel)
    finally:
        signal.signal(signal.SIGINT, previous)
    try:
        with store.read() as tx:
            document = run_document(tx, run_id)
        if as_json:
            emit_json(document)
        else:
            _print_failures(document)
    finally:
        for observer in observers:
            observer.close(OBSERVER_CLOSE_SECONDS)
    sys.exit(0 if finished.status == RunStatus.SUCCESS else EXIT_FAILED)


def _print_failures(document: dict[str, Any]) -> None:
    failed = [node for node in document["nodes"] if node["status"] == NodeStatus.FAILED]
    for node in failed:
        click.echo(f"\nFAILED {node['id']} after {node['attempts']} attempt(s):\n  {node['error']}", err=True)
    if failed:
        click.echo(
            f"\nsee a log with `orchestrate logs {document['run_id']} NODE_ID`; "
            f"run the rest again with `orchestrate retry {document['run_id']}`",
            err=True,
        )
