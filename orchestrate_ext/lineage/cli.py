"""``orchestrate lineage``: look at the outbox, send what waits in it now.

Added to the ``orchestrate`` group through
:class:`~orchestrate_ext.interfaces.CommandPlugin`; this module must not import
``orchestrate_ext.cli`` (that package imports the plugins' commands). Errors
reach the core's group, which maps them to exit codes.
"""

from __future__ import annotations

import os
from pathlib import Path

import click

from orchestrate_ext.clock import SystemClock, isoformat
from orchestrate_ext.errors import ConfigError
from orchestrate_ext.lineage.config import LineageConfig
from orchestrate_ext.lineage.delivery import Sender
from orchestrate_ext.lineage.outbox import FAILED, PENDING, SENDING, SENT, LineageOutbox
from orchestrate_ext.lineage.transport import open_transport
from orchestrate_ext.project import Project
from orchestrate_ext.redact import Redactor

project_option = click.option(
    "--project",
    "project_dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Folder with orchestrate.yaml (default: the current folder).",
)


def _config(project: Project) -> LineageConfig:
    config = project.observer_sections().get("lineage")
    if not isinstance(config, LineageConfig) or not config.enabled:
        raise ConfigError(
            f"lineage is off for {project.config.workspace.config_path}: add a 'lineage' section with a "
            "'transport', or set OPENLINEAGE_URL (see 'Lineage (OpenLineage)' in the README)"
        )
    return config


@click.group("lineage")
def lineage_group() -> None:
    """Lineage: the OpenLineage events waiting to be sent, and sending them now."""


@lineage_group.command("status")
@project_option
def status_command(project_dir: Path | None) -> None:
    """Count the events in the outbox by status and show the latest error."""
    project = Project.load(project_dir)
    store = project.open_store()
    try:
        with LineageOutbox(store).transaction() as tx:
            counts = tx.counts()
            waiting = tx.events((PENDING, SENDING, FAILED), limit=1)
    finally:
        store.close()
    for status in (PENDING, SENDING, SENT, FAILED):
        click.echo(f"{status}: {counts.get(status, 0)}")
    if waiting and waiting[0].last_error:
        click.echo(f"oldest waiting event: {waiting[0].key}, created {isoformat(waiting[0].created_at)}")
        click.echo(f"  last error: {project.redactor()(waiting[0].last_error)}")


@lineage_group.command("deliver")
@click.option("--timeout", type=float, default=60.0, show_default=True, help="Seconds to keep sending at most.")
@project_option
def deliver_command(project_dir: Path | None, timeout: float) -> None:
    """Send every waiting event now (those waiting for a retry too), oldest first."""
    project = Project.load(project_dir)
    config = _config(project)
    secret = {*project.config.workspace.secret_env}
    key_env = getattr(config.transport, "api_key_env", None)
    if key_env:
        secret.add(key_env)
    redact = Redactor.from_env(secret)
    store = project.open_store()
    try:
        outbox = LineageOutbox(store)
        clock = SystemClock()
        with outbox.transaction() as tx:
            tx.release(clock.now())
        sender = Sender(outbox, clock, config.delivery, lambda: open_transport(config, os.environ), redact)
        left = sender.drain(timeout)
    finally:
        store.close()
    if left:
        raise click.ClickException(f"{left} event(s) still wait in the outbox; is the collector up?")
    click.echo("every event was delivered")
