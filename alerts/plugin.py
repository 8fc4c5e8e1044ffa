"""The alerts plugin: owns the ``alerts:`` key, watches runs, adds ``orchestrate alerts``.

Published under the entry-point group ``orchestrate_ext.plugins``; the engine
finds it there and never imports it by name. Heavy modules (slack-sdk,
smtplib, click commands) load only when used.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from alerts.config import AlertsConfig
from orchestrate_ext.errors import did_you_mean
from orchestrate_ext.execution.observers import ObserverContext
from orchestrate_ext.interfaces import Observer, Workspace


class AlertsPlugin:
    """An :class:`~orchestrate_ext.execution.observers.ObserverPlugin` with commands and checks."""

    config_key = "alerts"
    config_model = AlertsConfig

    def observers(self, config: AlertsConfig, context: ObserverContext) -> Sequence[Observer]:
        from alerts.observer import AlertsObserver
        from alerts.schedules import schedule_slas

        schedules = schedule_slas(context.workspace.config_path)
        return [AlertsObserver(config, context, schedules=schedules)]

    def store_components(self) -> Sequence[Any]:
        from alerts.store_schema import ALERTS

        return [ALERTS]

    def cli_commands(self) -> Sequence[Any]:
        from alerts.cli import alerts_group

        return [alerts_group]

    def check(self, config: AlertsConfig, workspace: Workspace, graph: Any) -> Sequence[str]:
        """Problems ``orchestrate validate`` reports as warnings; invalid node routes raise ``ConfigError``."""
        from alerts.routing import MANUAL, Router
        from alerts.schedules import schedule_slas

        Router(config, graph.nodes)  # validates the routes in notebook metadata and dbt meta
        warnings = [
            f"alerts: the environment variable {name} is not set here; alerts through it wait in the outbox "
            "until a process that has it (the scheduler) delivers them"
            for name in config.secret_env_names()
            if not os.environ.get(name)
        ]
        nodes = list(graph.nodes.values())
        known = {
            "owner": {node.owner for node in nodes if node.owner},
            "tag": {tag for node in nodes for tag in node.tags},
            "kind": {node.kind for node in nodes} | {node.resource_type for node in nodes},
            "schedule": set(schedule_slas(workspace.config_path)) | {MANUAL},
        }
        for index, route in enumerate(config.routes):
            for key, values in (
                ("owner", route.match.owner),
                ("tag", route.match.tag),
                ("kind", route.match.kind),
                ("schedule", route.match.schedule),
            ):
                for value in values:
                    if value not in known[key] and not (key == "owner" and value.lower() in _lower(known[key])):
                        hint = did_you_mean(value, known[key]) or f"; known: {', '.join(sorted(known[key])) or 'none'}"
                        warnings.append(f"alerts.routes.{index}.match.{key}: no {key} '{value}' in the project{hint}")
        return warnings


def _lower(values: set[str]) -> set[str]:
    return {value.lower() for value in values}
