"""Shell completion (click's) of run ids, node ids and schedule names, and ``orchestrate completion SHELL``.

Click completes command and option names by itself; the functions here are the
``shell_complete`` callbacks of arguments whose values live in the project:

* run ids: the newest runs whose id starts with what was typed (a store query);
* a run's node ids (``logs RUN NODE``): the nodes of that run;
* node ids (``runs --node``, ``freshness``): every node the history knows;
* schedule names: ``schedules:`` in orchestrate.yaml and those a scheduler stored.

They read only orchestrate.yaml and the state store (read-only), never dbt's
project, so completing never runs ``dbt parse``; and they never fail: a
project that cannot be read completes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
from click.shell_completion import CompletionItem, get_completion_class

from orchestrate_ext.cli.app import main
from orchestrate_ext.config import find_config, load_config
from orchestrate_ext.errors import OrchestrateError
from orchestrate_ext.model import RunStatus
from orchestrate_ext.project import load_plugins
from orchestrate_ext.store import StoreTx, open_store
from orchestrate_ext.store.records import RunQuery

LIMIT = 50
"""Most values offered at once."""
PROG = "orchestrate"
ENV_VAR = "_ORCHESTRATE_COMPLETE"
SHELLS = ("bash", "zsh", "fish")


@contextmanager
def _history(ctx: click.Context) -> Iterator[tuple[StoreTx, Any]]:
    """The project's store (read-only) and its configuration, for the ``--project`` given so far."""
    project = ctx.params.get("project_dir")
    config = load_config(find_config(Path(project) if project else None), load_plugins())
    store = open_store(config.state_location(), read_only=True)
    try:
        with store.read() as tx:
            yield tx, config
    finally:
        store.close()


def _safely(find: Callable[[StoreTx, Any], list[CompletionItem]], ctx: click.Context) -> list[CompletionItem]:
    try:
        with _history(ctx) as (tx, config):
            return find(tx, config)[:LIMIT]
    except (OrchestrateError, OSError):
        return []  # no project here, or a store that cannot be read: nothing to offer


def run_ids(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """Run ids starting with ``incomplete``, newest first; ``cancel`` offers running runs only."""
    statuses = frozenset({RunStatus.RUNNING}) if ctx.info_name == "cancel" else frozenset()

    def find(tx: StoreTx, config: Any) -> list[CompletionItem]:
        query = RunQuery(statuses=statuses, id_prefix=incomplete or None, limit=LIMIT)
        return [
            CompletionItem(run.run_id, help=f"{run.status.value}, {run.schedule or run.trigger}")
            for run in tx.find_runs(query)
        ]

    return _safely(find, ctx)


def run_node_ids(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """The nodes of the run named before (``logs RUN NODE``)."""
    run_id = ctx.params.get("run_id")
    if not run_id:
        return []

    def find(tx: StoreTx, config: Any) -> list[CompletionItem]:
        return [
            CompletionItem(state.node_id, help=state.status.value)
            for state in tx.node_states(run_id)
            if state.node_id.startswith(incomplete)
        ]

    return _safely(find, ctx)


def node_ids(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """Every node id the history knows, with its latest status."""

    def find(tx: StoreTx, config: Any) -> list[CompletionItem]:
        latest = tx.latest_node_states()
        return [
            CompletionItem(node_id, help=latest[node_id].status.value)
            for node_id in sorted(latest)
            if node_id.startswith(incomplete)
        ]

    return _safely(find, ctx)


def schedule_names(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """Schedules of orchestrate.yaml, and those a scheduler stored (node schedules included)."""

    def find(tx: StoreTx, config: Any) -> list[CompletionItem]:
        names = {entry.name for entry in config.core.schedules} | set(tx.schedule_states())
        return [CompletionItem(name) for name in sorted(names) if name.startswith(incomplete)]

    return _safely(find, ctx)


@main.command()
@click.argument("shell", type=click.Choice(SHELLS))
def completion(shell: str) -> None:
    """Print the completion script for SHELL; see "Shell completion" in the README.

    \b
    bash:  eval "$(orchestrate completion bash)"      (in ~/.bashrc)
    zsh:   eval "$(orchestrate completion zsh)"       (in ~/.zshrc)
    fish:  orchestrate completion fish > ~/.config/fish/completions/orchestrate.fish
    """
    cls = get_completion_class(shell)
    assert cls is not None  # click ships all three
    click.echo(cls(main, {}, PROG, ENV_VAR).source())
