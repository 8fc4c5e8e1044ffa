"""A project: its configuration, its plugins, its graph and its store.

The executor, the launchers and the store are imported when first asked for, so a command that
only shows the graph (``orchestrate graph`` on 10,000 models) does not pay for them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from importlib.metadata import entry_points
from pathlib import Path
from typing import TYPE_CHECKING, cast

from orchestrate_ext.clock import Clock, SystemClock
from orchestrate_ext.config import WorkspaceConfig, find_config, load_config
from orchestrate_ext.errors import OrchestrateError, PluginError
from orchestrate_ext.events import RunListener
from orchestrate_ext.execution.observers import ObserverContext, ObserverPlugin
from orchestrate_ext.graph import Graph, build_graph
from orchestrate_ext.interfaces import (
    ImplicitPlugin,
    NodePlugin,
    NodeRunner,
    Observer,
    Plugin,
    TolerantDiscovery,
)
from orchestrate_ext.model import Node
from orchestrate_ext.partial_graph import PartialGraph, build_partial_graph
from orchestrate_ext.redact import Redactor

if TYPE_CHECKING:
    from orchestrate_ext.execution.executor import Executor
    from orchestrate_ext.launcher import Launcher
    from orchestrate_ext.store import StateStore

PLUGIN_GROUP = "orchestrate_ext.plugins"


def load_plugins() -> dict[str, Plugin]:
    """Every installed plugin, by the config key it owns."""
    plugins: dict[str, Plugin] = {}
    for entry in entry_points(group=PLUGIN_GROUP):
        try:
            loaded = entry.load()
            plugin = loaded() if isinstance(loaded, type) else loaded
        except Exception as exc:
            raise PluginError(f"the plugin '{entry.name}' ({entry.value}) failed to load: {exc}") from exc
        plugins[plugin.config_key] = plugin
    return plugins


@dataclass
class Project:
    config: WorkspaceConfig
    plugins: Mapping[str, Plugin]
    clock: Clock = field(default_factory=SystemClock)

    @classmethod
    def load(cls, project: Path | None = None, clock: Clock | None = None) -> Project:
        plugins = load_plugins()
        config = load_config(find_config(project), plugins)
        return cls(config=config, plugins=plugins, clock=clock or SystemClock())

    @property
    def root(self) -> Path:
        return self.config.workspace.root

    def _enabled(self) -> list[tuple[NodePlugin, object]]:
        """The node plugins whose key the configuration sets, with their section."""
        return [
            (plugin, section)
            for key, section in self.config.sections.items()
            if isinstance(plugin := self.plugins[key], NodePlugin)
        ]

    @cached_property
    def graph(self) -> Graph:
        nodes = [
            node for plugin, section in self._enabled() for node in plugin.discover(self.config.workspace, section)
        ]
        return build_graph(nodes)

    @cached_property
    def partial_graph(self) -> PartialGraph:
        """Every node, with those that are broken marked rather than refusing the project (see
        :mod:`orchestrate_ext.partial_graph`)."""
        nodes: list[Node] = []
        problems: dict[str, str] = {}
        unloaded: dict[str, str] = {}
        for plugin, section in self._enabled():
            try:
                if isinstance(plugin, TolerantDiscovery):
                    found, bad = plugin.discover_tolerant(self.config.workspace, section)
                    problems.update(bad)
                else:
                    found = plugin.discover(self.config.workspace, section)
            except OrchestrateError as exc:  # e.g. `dbt parse` failed: that part is out, the rest runs
                unloaded[plugin.config_key] = str(exc)
                continue
            nodes.extend(found)
        return build_partial_graph(nodes, problems, unloaded)

    @cached_property
    def runners(self) -> dict[str, NodeRunner]:
        runners: dict[str, NodeRunner] = {}
        for plugin, section in self._enabled():
            runners.update(plugin.runners(self.config.workspace, section))
        return runners

    def open_store(self, *, read_only: bool = False) -> StateStore:
        """The project's state store; ``read_only`` for commands that only read (it is then never created).

        A ``state.path`` that cannot be a SQLite file (a folder, /dev/null) is a ``ConfigError``.
        """
        from orchestrate_ext.store import open_store
        from orchestrate_ext.store.files import StateFiles

        self.config.check_state_path()
        store = open_store(self.config.state_location(), read_only=read_only)
        store.files = StateFiles(self.config.workspace.state_dir, self.root)
        return store

    def redactor(self) -> Redactor:
        """Removes the values of the secrets orchestrate.yaml names (as set here) and credential-like text."""
        return Redactor.from_env(self.config.workspace.secret_env)

    def observers(self, store: StateStore, graph: Graph | None = None) -> list[Observer]:
        """The observers of every observer plugin the configuration enables (e.g. alerts), on ``graph``
        (default: the project's graph)."""
        context = ObserverContext(
            workspace=self.config.workspace,
            store=store,
            graph=graph if graph is not None else self.graph,
            clock=self.clock,
        )
        found: list[Observer] = []
        for key, section in self.observer_sections().items():
            found.extend(cast(ObserverPlugin, self.plugins[key]).observers(section, context))
        return found

    def observer_sections(self) -> dict[str, object]:
        """The section of each observer plugin that is on: its key in orchestrate.yaml, or what an
        :class:`~orchestrate_ext.interfaces.ImplicitPlugin` finds without one."""
        sections: dict[str, object] = {}
        for key, plugin in self.plugins.items():
            if not isinstance(plugin, ObserverPlugin):
                continue
            if key in self.config.sections:
                sections[key] = self.config.sections[key]
            elif isinstance(plugin, ImplicitPlugin):
                implicit = plugin.implicit_config(self.config.workspace)
                if implicit is not None:
                    sections[key] = implicit
        return sections

    @cached_property
    def launcher(self) -> Launcher:
        """Where this process runs tries (``executor:``): here, or on a Dask cluster (connected once)."""
        from orchestrate_ext.execution.launchers import open_launcher

        return open_launcher(self.config.core.executor, self.config.workspace.config_path)

    def executor(
        self, store: StateStore, listeners: Sequence[RunListener] = (), graph: Graph | None = None
    ) -> Executor:
        """An executor of ``graph`` (default: the project's graph)."""
        from orchestrate_ext.execution.executor import Executor

        return Executor(
            graph if graph is not None else self.graph,
            self.runners,
            store,
            self.clock,
            state_dir=self.config.workspace.state_dir,
            concurrency=self.config.core.concurrency,
            defaults=self.config.core.defaults,
            listeners=listeners,
            launcher=self.launcher,
            redact=self.redactor(),
        )

    def close(self) -> None:
        """Let go of what the project started (a Dask client or local cluster)."""
        if "launcher" in self.__dict__:
            self.launcher.close()
