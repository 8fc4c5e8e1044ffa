"""Commands that build, show and run the graph (the history views are in ``history_commands``)."""

from __future__ import annotations

import json
import logging
import signal
import sys
import threading
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
from rich.console import Console

from orchestrate_ext.cli import completion
from orchestrate_ext.cli.app import EXIT_FAILED, emit_json, main, project_option
from orchestrate_ext.clock import Clock, parse_datetime
from orchestrate_ext.errors import BadInput, ConfigError, OrchestrateError
from orchestrate_ext.execution.claims import refuse_if_executing
from orchestrate_ext.execution.coordinator import RunCoordinator, queued_line
from orchestrate_ext.execution.executor import Executor
from orchestrate_ext.execution.liveness import ProcessIdentity
from orchestrate_ext.execution.recovery import recover_run
from orchestrate_ext.interfaces import DescribingPlugin, Observer, WorkerRequirements
from orchestrate_ext.launcher import LOCAL, WorkerNeeds
from orchestrate_ext.model import NodeStatus, RunStatus
from orchestrate_ext.parameters import check_run_parameters, parameter_name_problem
from orchestrate_ext.partial_graph import Choice, choose
from orchestrate_ext.problems import validation_warnings
from orchestrate_ext.progress import TerminalProgress
from orchestrate_ext.project import Project, load_plugins
from orchestrate_ext.reports import run_document
from orchestrate_ext.run_request import RunRequest
from orchestrate_ext.scaffold import write_initial_config
from orchestrate_ext.scheduling.definitions import discover_schedules
from orchestrate_ext.selection import select
from orchestrate_ext.store import StateStore


@main.command()
@click.option("--force", is_flag=True, help="Overwrite an existing orchestrate.yaml.")
@project_option
def init(project_dir: Path | None, force: bool) -> None:
    """Write an orchestrate.yaml for the dbt project and notebooks found here."""
    path, notes = write_initial_config(project_dir or Path.cwd(), force=force, plugins=load_plugins().values())
    for note in notes:
        click.echo(note)
    click.echo(f"wrote {path}; check it, then run `orchestrate validate`")


@main.command()
@project_option
def validate(project_dir: Path | None) -> None:
    """Check everything `run`, `schedules`, `scheduler` and `backfill` would check, without running anything.

    The configuration, every node's metadata, references and cycles, the state path, the runners, every
    schedule (names, time zones, selections, `after` links) and each plugin's own checks.
    """
    project = Project.load(project_dir)
    graph = project.graph
    project.config.check_state_path()
    _ = project.runners
    config = project.config
    definitions = discover_schedules(
        config.core.schedules, graph, config.workspace.config_path, config.broken_schedules
    )
    counts: dict[str, int] = {}
    for node in graph.nodes.values():
        counts[node.kind] = counts.get(node.kind, 0) + 1
    warnings = validation_warnings(project, graph)
    for warning in warnings:
        click.echo(f"warning: {warning}", err=True)
    for key, section in project.config.sections.items():
        if isinstance(plugin := project.plugins[key], DescribingPlugin):
            for line in plugin.describe(section, project.config.workspace):
                click.echo(line)
    where = _check_workers(project)
    detail = ", ".join(f"{count} {kind}" for kind, count in sorted(counts.items()))
    click.echo(
        f"ok: {len(graph.nodes)} nodes ({detail}), {len(definitions)} schedule(s), no cycles, every reference "
        f"resolved, {where}"
    )


def _check_workers(project: Project) -> str:
    """That the machines running tries (this one, or the Dask cluster's workers) have what the nodes need."""
    needs = WorkerNeeds()
    for key, section in project.config.sections.items():
        if isinstance(plugin := project.plugins[key], WorkerRequirements):
            needs |= plugin.worker_needs(section, project.graph)
    launcher = project.launcher  # a Dask cluster that does not answer is a ConfigError saying so
    try:
        problems = launcher.check(needs)
        workers = launcher.workers()
    finally:
        project.close()
    if problems:
        raise ConfigError("the nodes cannot run where they would: " + "; ".join(problems))
    if launcher.name == LOCAL:
        return "this machine has the modules and kernels they need"
    return f"{len(workers)} {launcher.name} worker(s) have the modules and kernels they need"


@main.command()
@click.option("--select", "-s", "selection", default=None, help="Nodes to run, e.g. 'tag:finance+'.")
@click.option("--logical-date", default=None, help="The date the run is for (ISO-8601); default: now.")
@click.option(
    "--only-changed/--all",
    "only_changed",
    default=None,
    help="Run only nodes whose code or inputs changed since their last success, and what is downstream of "
    "them; reuse the rest (default: defaults.only_changed).",
)
@click.option(
    "--param",
    "params",
    multiple=True,
    metavar="NAME=VALUE",
    help='A parameter for every notebook of the run; VALUE is JSON (5, "x", [1, 2]) or else text. Repeatable.',
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as one JSON object.")
@project_option
def run(
    project_dir: Path | None,
    selection: str | None,
    logical_date: str | None,
    only_changed: bool | None,
    params: tuple[str, ...],
    as_json: bool,
) -> None:
    """Run the pipeline (or a selection of it) now.

    A broken node (a reference that does not resolve, a cycle, invalid metadata) and everything
    downstream of it are left out with a warning; the rest runs, and the exit status is the rest's.
    The run records what it left out and why (`orchestrate show`).
    """
    when = parse_logical_date(logical_date)
    parameters = parse_params(params)
    project = Project.load(project_dir)
    partial = project.partial_graph
    choice = choose(partial, select(partial.graph, selection))
    check_run_parameters((choice.graph.nodes[node_id] for node_id in choice.node_ids), parameters)
    _ = project.runners  # a plugin refuses bad input here (e.g. a dbt profile that cannot load): before the store
    warn_left_out(choice)
    store = project.open_store()
    observers = project.observers(store, partial.graph)
    executor = project.executor(store, listeners=[_progress(as_json), *observers], graph=choice.graph)
    limit_key, max_active = _schedule_limit(project, selection)
    request = RunRequest.of(
        choice.node_ids,
        when,
        selection=selection,
        parameters=parameters,
        only_changed=only_changed,
        left_out=choice.left_out,
        limit_key=limit_key,
        max_active=max_active,
    )
    coordinator = RunCoordinator(
        store, project.clock, owner=executor.supervisor.owner, max_runs=project.config.core.max_runs
    )
    record = coordinator.submit(executor, request)
    _execute_and_report(project, executor, store, record.run_id, as_json, observers, coordinator=coordinator)


def _schedule_limit(project: Project, selection: str | None) -> tuple[str | None, int | None]:
    """The schedule of the same selection as a manual run, and its ``max_active_runs`` (which the run counts
    against); (None, None) when no schedule runs that selection."""
    config = project.config
    if not config.core.schedules:
        return None, None
    try:
        definitions = discover_schedules(
            config.core.schedules,
            project.partial_graph.graph,
            config.workspace.config_path,
            config.broken_schedules,
        )
    except OrchestrateError:  # a broken node or schedule limits nothing here (`orchestrate validate` names it)
        return None, None
    for name, definition in sorted(definitions.items()):
        if definition.selection_text == selection:
            return name, definition.max_active_runs
    return None, None


def _progress(as_json: bool) -> TerminalProgress:
    """Progress on stderr; the summary on stdout, unless stdout is for ``--json``."""
    return TerminalProgress(summary=Console(soft_wrap=True, stderr=as_json))


def warn_left_out(choice: Choice) -> None:
    """Each node the run leaves out, once, on stderr: why, and so what to fix."""
    for line in choice.warnings:
        click.echo(f"warning: {line}", err=True)


def parse_logical_date(text: str | None) -> datetime:
    """``--logical-date`` (ISO-8601; default: now) as an aware datetime; ``BadInput`` naming the option."""
    try:
        return parse_datetime(text) if text else datetime.now(UTC)
    except ValueError as exc:
        raise BadInput(f"--logical-date: {exc}") from None


def parse_params(params: tuple[str, ...]) -> dict[str, Any]:
    """``--param name=value`` options as a mapping: values are JSON where they parse, else text."""
    found: dict[str, Any] = {}
    for item in params:
        name, sep, raw = item.partition("=")
        name = name.strip()
        if not sep:
            raise BadInput(f"--param '{item}': write NAME=VALUE with NAME a Python identifier, e.g. --param top_n=5")
        if problem := parameter_name_problem(name):
            raise BadInput(f"--param '{item}': {problem}")
        try:
            found[name] = json.loads(raw, parse_constant=_not_json)
        except ValueError:
            found[name] = raw
    return found


def _not_json(name: str) -> None:
    raise ValueError(name)


@main.command()
@click.argument("run_id", shell_complete=completion.run_ids)
@click.option("--json", "as_json", is_flag=True, help="Print the result as one JSON object.")
@project_option
def retry(project_dir: Path | None, run_id: str, as_json: bool) -> None:
    """Run again what failed or never ran in RUN_ID.

    A broken node (a reference that does not resolve) does not stop the retry:
    the run's nodes that are broken now, and those downstream of them, are left
    out with a warning (skipped, and added to what the run left out); the rest runs.

    Of two retries of one run only one executes it: the other exits 2 naming the process that holds it.

    A run whose process died (kill -9) is recovered first, the same way the scheduler takes such a run
    over: the dead process's leftover node processes are killed (and waited for) before its resources
    are released, its tries still marked running are closed, and a try that finished before the crash
    keeps its result instead of running again.
    """
    project = Project.load(project_dir)
    _ = project.runners
    store = project.open_store()
    with store.read() as tx:
        seen = refuse_if_executing(tx, run_id, project.clock.now())
    if seen.status == RunStatus.RUNNING:  # its owner died: recover it the way the scheduler's takeover does
        taken = recover_run(store, seen, ProcessIdentity.current().owner, project.clock.now(), runners=project.runners)
        if taken is None:
            with store.read() as tx:
                refuse_if_executing(tx, run_id, project.clock.now())  # another retry took it over: say who
    with store.read() as tx:
        seen = tx.run_ownership(run_id)
        unfinished = {state.node_id for state in tx.node_states(run_id) if not state.status.is_done}
    partial = project.partial_graph  # may run `dbt parse`: outside any unit of work, the claim checks `seen`
    choice = choose(partial, unfinished & set(partial.graph.nodes))
    warn_left_out(choice)
    observers = project.observers(store, partial.graph)
    executor = project.executor(store, listeners=[_progress(as_json), *observers], graph=choice.graph)
    _execute_and_report(
        project, executor, store, run_id, as_json, observers, left_out=choice.left_out, expected_epoch=seen.epoch
    )


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
    project: Project,
    executor: Executor,
    store: StateStore,
    run_id: str,
    as_json: bool,
    observers: Sequence[Observer] = (),
    left_out: Mapping[str, str] | None = None,
    expected_epoch: int | None = None,
    coordinator: RunCoordinator | None = None,
) -> None:
    cancel = threading.Event()
    previous = signal.signal(signal.SIGINT, lambda *_: cancel.set())
    try:
        if coordinator is not None:  # the run is queued: start it once the limits allow (Ctrl-C cancels it)
            admission = coordinator.wait(
                run_id, cancel, on_queued=lambda admission: click.echo(queued_line(run_id, admission), err=True)
            )
            if admission.status != RunStatus.RUNNING:
                _report_unstarted(store, run_id, admission.status, as_json)
        with _Ticker(observers, project.clock):
            finished = executor.execute(run_id, cancel, left_out=left_out, expected_epoch=expected_epoch)
    finally:
        signal.signal(signal.SIGINT, previous)
        project.close()
    try:
        with store.read() as tx:
            document = project.redactor().document(run_document(tx, run_id))
        if as_json:
            emit_json(document)
        else:
            _print_failures(document)
    finally:
        for observer in observers:
            observer.close(OBSERVER_CLOSE_SECONDS)
    sys.exit(0 if finished.status == RunStatus.SUCCESS else EXIT_FAILED)


def _report_unstarted(store: StateStore, run_id: str, status: RunStatus, as_json: bool) -> None:
    """A queued run that never started (it was cancelled while queued): say so and exit."""
    if as_json:
        with store.read() as tx:
            emit_json(run_document(tx, run_id))
    click.echo(f"run {run_id} {status.value} while queued; it never started", err=True)
    sys.exit(EXIT_FAILED)


def _print_failures(document: dict[str, Any]) -> None:
    failed = [node for node in document["nodes"] if node["status"] == NodeStatus.FAILED]
    for node in failed:
        click.echo(f"\nFAILED {node['id']} after {node['attempts']} attempt(s):\n  {node['error']}")
    if failed:
        click.echo(
            f"\nsee a log with `orchestrate logs {document['run_id']} NODE_ID`; "
            f"run the rest again with `orchestrate retry {document['run_id']}`"
        )
