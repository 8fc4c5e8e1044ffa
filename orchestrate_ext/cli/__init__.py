"""The ``orchestrate`` command line."""

from orchestrate_ext.cli import plugin_commands, run_commands, schedule_commands  # noqa: F401  (register the commands)
from orchestrate_ext.cli.app import main

__all__ = ["main"]
