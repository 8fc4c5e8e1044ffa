"""Commands contributed by installed plugins (:class:`~orchestrate_ext.interfaces.CommandPlugin`).

Importing this module adds them to the ``orchestrate`` group. A plugin that
fails to load adds nothing here; the command that loads the project then
reports the error with its exit code.
"""

from __future__ import annotations

import click

from orchestrate_ext.cli.app import main
from orchestrate_ext.errors import PluginError
from orchestrate_ext.interfaces import CommandPlugin
from orchestrate_ext.project import load_plugins


def add_plugin_commands(group: click.Group) -> None:
    """Add every installed plugin's commands to ``group``; names the core uses stay the core's."""
    try:
        plugins = load_plugins()
    except PluginError:
        return
    for plugin in plugins.values():
        if isinstance(plugin, CommandPlugin):
            for command in plugin.cli_commands():
                if command.name and command.name not in group.commands:
                    group.add_command(command)


add_plugin_commands(main)
