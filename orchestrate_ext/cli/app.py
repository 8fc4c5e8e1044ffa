"""The ``orchestrate`` command group and the one place errors become exit codes.

Exit codes: 0 everything succeeded, 1 a node failed (or the engine hit an
error), 2 bad input. Commands live in the sibling modules and register on
:data:`main`. Error messages pass through the redactor's credential patterns
(the project, and so its secret values, may not have loaded).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from orchestrate_ext.errors import BadInput, OrchestrateError, RunNotFound
from orchestrate_ext.redact import Redactor

EXIT_FAILED = 1
EXIT_BAD_INPUT = 2


class _Group(click.Group):
    """Maps every orchestrate-ext error to a message and an exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (BadInput, RunNotFound) as exc:
            click.echo(f"error: {Redactor()(str(exc))}", err=True)
            ctx.exit(EXIT_BAD_INPUT)
        except OrchestrateError as exc:
            click.echo(f"error: {Redactor()(str(exc))}", err=True)
            ctx.exit(EXIT_FAILED)


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
@click.version_option(package_name="orchestrate-ext")
def main() -> None:
    """Run a dbt project and Jupyter notebooks as one pipeline."""
