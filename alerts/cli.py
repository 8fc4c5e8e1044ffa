"""``orchestrate alerts``: test the routes, look at the outbox, deliver it now.

Added to the ``orchestrate`` group by the core through
:class:`~orchestrate_ext.interfaces.CommandPlugin`; this module must not import
``orchestrate_ext.cli`` (that package imports the plugins' commands). Errors
reach the core's group, which maps them to exit codes.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from alerts.channels import POST, DeliveryError, Outbound
from alerts.config import AlertsConfig
from alerts.delivery import DeliveryWorker
from alerts.messages import test as test_content
from alerts.notifiers import build_notifiers
from alerts.redact import Redactor
from alerts.routing import Router
from alerts.store import FAILED, PENDING, SENDING
from alerts.store_sql import SqlAlertStore
from orchestrate_ext.clock import SystemClock, isoformat
from orchestrate_ext.errors import ConfigError
from orchestrate_ext.project import Project

EXIT_FAILED = 1
"""As the core's CLI: something did not work (here: a destination did not take the test message)."""

project_option = click.option(
    "--project",
    "project_dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Folder with orchestrate.yaml (default: the current folder).",
)


def _config(project: Project) -> AlertsConfig:
    config = project.config.sections.get("alerts")
    if config is None:
        raise ConfigError(
            f"{project.config.workspace.config_path} has no 'alerts' section; add one with 'slack' or 'email' "
            "and 'routes' (see 'Alerts and SLAs' in the README)"
        )
    return config


@click.group("alerts")
def alerts_group() -> None:
    """Alerts: send a test message through each route, inspect and deliver the outbox."""


@alerts_group.command("test")
@click.option("--route", "route", type=int, default=None, help="Only the route with this index (0 is the first).")
@project_option
def test_command(project_dir: Path | None, route: int | None) -> None:
    """Send a test message through each route (or one) and report what happened."""
    project = Project.load(project_dir)
    config = _config(project)
    redact = Redactor.from_env({*config.secret_env_names(), *project.config.workspace.secret_env})
    notifiers = build_notifiers(config, redact)
    routes = Router(config, {}).test_destinations(route)
    if not routes:
        raise ConfigError(
            "orchestrate.yaml has no routes under 'alerts.routes'; add one (see 'Alerts and SLAs' in the README)"
        )
    failures = 0
    for label, destinations in routes:
        for destination in destinations:
            where = f"{label} → {destination.channel} {destination.target}".rstrip()
            notifier = notifiers.get(destination.channel)
            if notifier is None:
                failures += 1
                click.echo(f"✗ {where}: {notifiers.missing.get(destination.channel, 'not configured')}")
                continue
            content = test_content(label, project.root.name)
            try:
                notifier.send(Outbound(0, destination.channel, destination.target, POST, content))
            except DeliveryError as exc:
                failures += 1
                again = "" if exc.permanent else " (temporary; try again)"
                click.echo(f"✗ {where}: {redact(str(exc))}{again}")
            else:
                click.echo(f"✓ {where}: delivered")
    notifiers.close()
    if failures:
        click.echo(f"{failures} destination(s) failed", err=True)
        sys.exit(EXIT_FAILED)


@alerts_group.command("outbox")
@click.option("--all", "show_all", is_flag=True, help="Also show delivered messages.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(min=1))
@project_option
def outbox_command(project_dir: Path | None, show_all: bool, limit: int) -> None:
    """List messages waiting for delivery or failed for good (newest first)."""
    project = Project.load(project_dir)
    _config(project)
    store = SqlAlertStore(project.open_store())
    with store.transaction() as tx:
        messages = tx.messages(() if show_all else (PENDING, SENDING, FAILED), limit)
    if not messages:
        click.echo("the outbox is empty" if show_all else "nothing waiting or failed")
    for message in messages:
        where = f"{message.channel} {message.target}".strip()
        click.echo(
            f"{message.id:>5}  {message.status:<8} {where:<32} {message.content.title}  "
            f"(attempts {message.attempts}, created {isoformat(message.created_at)})"
        )
        if message.last_error:
            click.echo(f"       {message.last_error}")


@alerts_group.command("deliver")
@click.option("--timeout", default=30.0, show_default=True, help="Seconds to keep trying.")
@project_option
def deliver_command(project_dir: Path | None, timeout: float) -> None:
    """Deliver what waits in the outbox now (e.g. after fixing a token)."""
    project = Project.load(project_dir)
    config = _config(project)
    redact = Redactor.from_env({*config.secret_env_names(), *project.config.workspace.secret_env})
    notifiers = build_notifiers(config, redact)
    for reason in notifiers.missing.values():
        click.echo(f"warning: {reason}", err=True)
    store = SqlAlertStore(project.open_store())
    worker = DeliveryWorker(store, notifiers, SystemClock(), config.delivery, redact)
    left = worker.drain(timeout)
    notifiers.close()
    click.echo(f"{left} message(s) still waiting; see `orchestrate alerts outbox`" if left else "outbox delivered")
