"""The ``orchestrate`` command line."""

from orchestrate_ext.cli import (  # noqa: F401  (register the commands)
    completion,
    history_commands,
    plugin_commands,
    run_commands,
    schedule_commands,
    state_commands,
    status_commands,
)
from orchestrate_ext.cli.app import main

__all__ = ["main"]
