"""What an observer plugin (alerts, lineage) gets to watch runs with: the store, the graph, the clock.

It lives above the store (it hands plugins the :class:`~orchestrate_ext.store.StateStore`);
the observer itself (:class:`~orchestrate_ext.interfaces.Observer`) is a base interface.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from orchestrate_ext.clock import Clock
from orchestrate_ext.graph import Graph
from orchestrate_ext.interfaces import Observer, Plugin, Workspace
from orchestrate_ext.store import StateStore


@dataclass(frozen=True)
class ObserverContext:
    """What an observer plugin gets to watch runs with.

    Attributes:
        store: the state store (:class:`~orchestrate_ext.store.StateStore`): read runs, node
            states and attempts, and keep the plugin's own tables as a registered component.
        graph: the project's graph (owners, tags, descendants).
        clock: the engine's clock; tests pass a fake one.
    """

    workspace: Workspace
    store: StateStore
    graph: Graph
    clock: Clock


@runtime_checkable
class ObserverPlugin(Plugin, Protocol):
    """A plugin that watches runs (e.g. alerts) rather than contributing nodes."""

    def observers(self, config: Any, context: ObserverContext) -> Sequence[Observer]: ...
