"""Commands contributed by installed plugins (:class:`~orchestrate_ext.interfaces.CommandPlugin`).

The ``orchestrate`` group adds them when it is asked for a name none of its
own commands has (or for the list of them all). A plugin that fails to load
adds nothing here; the command that loads the project then reports the error
with its exit code.
"""

from __future__ import annotations

from collections.abc import Collection

import click

from orchestrate_ext.errors import PluginError
from orchestrate_ext.interfaces import CommandPlugin
from orchestrate_ext.project import load_plugins


def add_plugin_commands(group: click.Group, reserved: Collection[str] = ()) -> None:
    """Add every installed plugin's commands to ``group``; names the core uses (or ``reserved``) stay the core's."""
    try:
        plugins = load_plugins()
    except PluginError:
        return
    for plugin in plugins.values():
        if isinstance(plugin, CommandPlugin):
            for command in plugin.cli_commands():
                if command.name and command.name not in group.commands and command.name not in reserved:
                    group.add_command(command)
