"""``orchestrate state``: where the history is kept, and moving it from SQLite to PostgreSQL."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from orchestrate_ext.cli.app import emit_json, main, project_option
from orchestrate_ext.config import check_database_url
from orchestrate_ext.errors import BadInput
from orchestrate_ext.interfaces import StorePlugin
from orchestrate_ext.model import StateLocation
from orchestrate_ext.project import Project
from orchestrate_ext.store import Component, StateStore, open_store
from orchestrate_ext.store.copy import copy_history
from orchestrate_ext.store.schema import CORE_COMPONENTS


@main.group()
def state() -> None:
    """The state store: where runs, ticks and alerts are kept."""


def plugin_components(project: Project) -> list[Component]:
    """The store components of every installed plugin (e.g. the alerts outbox)."""
    return [
        component
        for plugin in project.plugins.values()
        if isinstance(plugin, StorePlugin)
        for component in plugin.store_components()
    ]


@state.command("info")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@project_option
def info(project_dir: Path | None, as_json: bool) -> None:
    """Show the backend, where it is, the schema version of each part and its row counts."""
    project = Project.load(project_dir)
    store = project.open_store(read_only=True)
    try:
        document = store_document(store, [*CORE_COMPONENTS, *plugin_components(project)])
    finally:
        store.close()
    if as_json:
        emit_json(document)
        return
    click.echo(f"backend   {document['backend']}")
    click.echo(f"location  {document['location']}")
    for name, version in sorted(document["schema_versions"].items()):
        click.echo(f"schema    {name} v{version}")
    for table, count in document["rows"].items():
        click.echo(f"rows      {table:<24} {count:>10,}")


def store_document(store: StateStore, components: list[Component]) -> dict[str, Any]:
    versions = store.schema_versions()
    present = [component for component in components if versions.get(component.name) == component.version]
    info = store.info(tuple(table for component in present for table in component.tables))
    return {
        "backend": info.backend,
        "location": info.location,
        "schema_versions": dict(info.versions),
        "rows": dict(info.rows),
    }


@state.command("migrate")
@click.option(
    "--from",
    "source",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="The SQLite file to copy (default: the project's).",
)
@click.option("--to", "target", default=None, help="postgresql://user@host:5432/db (the password from PGPASSWORD).")
@click.option("--to-env", "target_env", default=None, help="An environment variable holding the target URL.")
@click.option("--append", is_flag=True, help="Add what the target lacks (also: resume a copy that stopped).")
@project_option
def migrate(
    project_dir: Path | None, source: Path | None, target: str | None, target_env: str | None, append: bool
) -> None:
    """Copy a SQLite history into PostgreSQL (then point `state: {url: ...}` at it)."""
    project = Project.load(project_dir)
    url = _target_url(target, target_env)
    location = source if source is not None else project.config.state_location().path
    if location is None:
        raise BadInput("the project's state is not a SQLite file; name the file to copy with --from")
    if not location.is_file():
        raise BadInput(f"--from {location}: no such SQLite file; name the state.db to copy")
    components = [*CORE_COMPONENTS, *plugin_components(project)]
    from_store = open_store(StateLocation(path=location))
    to_store = open_store(StateLocation(url=url))
    console = Console(stderr=True)
    try:
        with Progress(
            TextColumn("{task.description:<24}"), BarColumn(), MofNCompleteColumn(), console=console, transient=True
        ) as bar:
            tasks: dict[str, Any] = {}

            def progress(table: str, done: int, total: int) -> None:
                if table not in tasks:
                    tasks[table] = bar.add_task(table, total=total or 1)
                bar.update(tasks[table], completed=done if total else 1)

            copied = copy_history(from_store, to_store, components, append=append, progress=progress)
    finally:
        from_store.close()
        to_store.close()
    for table, (added, read) in copied.items():
        there = f" ({read - added:,} there already)" if read != added else ""
        click.echo(f"{table:<24} {added:>10,} rows added{there}")
    total = sum(added for added, _ in copied.values())
    verb = f"added {total:,} rows" if append else "copied"
    click.echo(
        f"{verb} from {location} into {to_store.location}; now set `state: {{url: ...}}` (or `url_env`) in "
        "orchestrate.yaml to use it"
    )


def _target_url(target: str | None, target_env: str | None) -> str:
    if (target is None) == (target_env is None):
        raise BadInput("name the PostgreSQL database with --to URL or --to-env NAME (one of them)")
    if target_env is not None:
        url = os.environ.get(target_env)
        if not url:
            raise BadInput(f"--to-env {target_env}: that environment variable is not set")
    else:
        url = target or ""
    try:
        check_database_url(url, password_allowed=True)
    except ValueError as exc:
        raise BadInput(f"--to: {exc}") from None
    if target is not None and urlsplit(url).password is not None:
        raise BadInput(
            "--to holds a password, which your shell history and the process list would keep: put it in "
            "PGPASSWORD or ~/.pgpass, or pass the whole URL in an environment variable with --to-env NAME"
        )
    return url
