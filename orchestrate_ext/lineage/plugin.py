"""The lineage plugin: owns the ``lineage:`` key, emits OpenLineage events, adds ``orchestrate lineage``.

Published under the entry-point group ``orchestrate_ext.plugins``; the engine
finds it there and never imports it by name. It is on when orchestrate.yaml
has a ``lineage:`` key (without ``enabled: false``) or, without one, when the
OpenLineage client's own configuration is found (an
:class:`~orchestrate_ext.interfaces.ImplicitPlugin`); off, it costs a look at
the environment and two file paths, and the client is never imported.
"""

from __future__ import annotations

import importlib.util
import logging
import os
from collections.abc import Sequence
from typing import Any

from orchestrate_ext.errors import MissingExtra
from orchestrate_ext.execution.observers import ObserverContext
from orchestrate_ext.interfaces import Observer, Workspace
from orchestrate_ext.lineage.config import LineageConfig, client_configured, disabled

log = logging.getLogger(__name__)


class LineagePlugin:
    """An :class:`~orchestrate_ext.execution.observers.ObserverPlugin` with a store component and commands."""

    config_key = "lineage"
    config_model = LineageConfig

    def __init__(self) -> None:
        self._implicit: LineageConfig | None = None

    def implicit_config(self, workspace: Workspace) -> LineageConfig | None:
        if not client_configured():  # where the client looks: the environment, the current folder
            return None
        self._implicit = LineageConfig()
        return self._implicit

    def observers(self, config: LineageConfig, context: ObserverContext) -> Sequence[Observer]:
        """The lineage observer; a ``lineage:`` section without the client installed is a ``MissingExtra``
        (exit 2), OpenLineage's own configuration without it a warning (it may be meant for other tools)."""
        if not config.enabled or disabled(os.environ):
            return []
        if importlib.util.find_spec("openlineage") is None:
            if config is not self._implicit:
                raise MissingExtra(
                    "lineage", "openlineage", f"the 'lineage' section of {context.workspace.config_path}"
                )
            log.warning(
                "lineage: OpenLineage is configured here (OPENLINEAGE_URL or openlineage.yml) but its client is "
                "not installed; no events are emitted. Install it with: pip install 'orchestrate-ext[lineage]'"
            )
            return []
        from orchestrate_ext.lineage.observer import LineageObserver

        return [LineageObserver(config, context)]

    def store_components(self) -> Sequence[Any]:
        from orchestrate_ext.lineage.outbox import LINEAGE

        return [LINEAGE]

    def cli_commands(self) -> Sequence[Any]:
        from orchestrate_ext.lineage.cli import lineage_group

        return [lineage_group]

    def check(self, config: LineageConfig, workspace: Workspace, graph: Any) -> Sequence[str]:
        """Warnings for ``orchestrate validate``: a missing API key, a client that is not installed."""
        warnings = []
        if config.enabled and importlib.util.find_spec("openlineage") is None:
            warnings.append(
                "lineage: the OpenLineage client is not installed; install it with "
                "`pip install 'orchestrate-ext[lineage]'`"
            )
        key_env = getattr(config.transport, "api_key_env", None)
        if config.enabled and key_env and not os.environ.get(key_env):
            warnings.append(
                f"lineage: the environment variable {key_env} is not set here; events wait in the outbox "
                "until a process that has it (the scheduler) sends them"
            )
        return warnings
