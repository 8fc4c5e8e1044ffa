"""The ``orchestrate`` command line."""

from orchestrate_ext.cli import run_commands  # noqa: F401  (registers the commands)
from orchestrate_ext.cli.app import main

__all__ = ["main"]
