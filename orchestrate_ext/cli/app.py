"""The ``orchestrate`` command group and the one place errors become exit codes.

Exit codes: 0 everything succeeded, 1 a node failed (or the engine hit an
error), 2 bad input. Commands live in the sibling modules and register on
the :data:`main` group when their module is imported. The group imports a module only
when one of its commands is called (:data:`COMMAND_MODULES`), and the
installed plugins' commands only when a name is none of the core's, so
``orchestrate status`` does not pay for importing the scheduler and the
executor; ``--help`` and completion list them all. Error messages pass
through the redactor's credential patterns (the project, and so its secret
values, may not have loaded).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from importlib import import_module
from pathlib import Path
from typing import Any

import click

from orchestrate_ext import __version__
from orchestrate_ext.errors import BadInput, OrchestrateError, RunNotFound

EXIT_FAILED = 1
EXIT_BAD_INPUT = 2


COMMAND_MODULES: dict[str, str] = {
    **dict.fromkeys(("init", "validate", "run", "retry"), "run_commands"),
    "graph": "graph_commands",
    **dict.fromkeys(("runs", "show", "logs"), "history_commands"),
    **dict.fromkeys(("status", "freshness"), "status_commands"),
    **dict.fromkeys(("scheduler", "schedules", "pause", "unpause", "ticks", "backfill", "cancel"), "schedule_commands"),
    "plan": "plan_commands",
    "export": "export_commands",
    "state": "state_commands",
    "completion": "completion",
}
"""Each core command, and the module of ``orchestrate_ext.cli`` that defines it."""


class _Group(click.Group):
    """Loads commands on demand (see the module docstring); maps every orchestrate-ext error to an exit code."""

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands:
            module = COMMAND_MODULES.get(cmd_name)
            if module is not None:
                import_module(f"orchestrate_ext.cli.{module}")
            else:
                self._add_plugin_commands()
        return self.commands.get(cmd_name)

    def list_commands(self, ctx: click.Context) -> list[str]:
        for module in sorted(set(COMMAND_MODULES.values())):
            import_module(f"orchestrate_ext.cli.{module}")
        self._add_plugin_commands()
        return sorted(self.commands)

    def _add_plugin_commands(self) -> None:
        from orchestrate_ext.cli.plugin_commands import add_plugin_commands

        add_plugin_commands(self, reserved=COMMAND_MODULES)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (BadInput, RunNotFound) as exc:
            click.echo(f"error: {_redacted(exc)}", err=True)
            ctx.exit(EXIT_BAD_INPUT)
        except OrchestrateError as exc:
            click.echo(f"error: {_redacted(exc)}", err=True)
            ctx.exit(EXIT_FAILED)


def _redacted(exc: Exception) -> str:
    from orchestrate_ext.redact import Redactor  # loaded when an error is shown, not for every start-up

    return Redactor()(str(exc))


def project_option(function: Callable[..., Any]) -> Callable[..., Any]:
    """``--project DIR`` on a command: the folder holding orchestrate.yaml."""
    return click.option(
        "--project",
        "project_dir",
        type=click.Path(path_type=Path),
        default=None,
        help="Folder with orchestrate.yaml (default: the current folder).",
    )(function)


def emit_json(document: object, *, indent: int | None = 2) -> None:
    """Print ``document``; ``indent=None`` for large documents (the C encoder is ~5x faster unindented)."""
    click.echo(json.dumps(document, indent=indent))


@click.group(cls=_Group)
@click.version_option(version=__version__, prog_name="orchestrate")  # not importlib.metadata: start-up
def main() -> None:
    """Run a dbt project and Jupyter notebooks as one pipeline."""
    from orchestrate_ext.secrets import seal_process  # after --version and --help, which answer without it

    seal_process()  # no node process may read this process's environment (orchestrate_ext.secrets)
