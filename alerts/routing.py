"""Which routes an event goes to, and where that is.

Routes come from ``alerts.routes`` in orchestrate.yaml and from nodes' own
metadata (``orchestrate.alerts`` in a notebook, ``meta.orchestrate.alerts``
in dbt); a node's own routes match that node only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from pydantic import ValidationError

from alerts.channels import EMAIL, SLACK, WEBHOOK
from alerts.config import AlertsConfig, Match, NodeRoute, Route, Target
from orchestrate_ext.config import format_validation_error
from orchestrate_ext.errors import ConfigError
from orchestrate_ext.model import Node

MANUAL = "manual"


@dataclass(frozen=True)
class Destination:
    """One place a message goes: a Slack channel, the webhook, or a set of e-mail addresses."""

    channel: str
    target: str
    route: str
    fallback: tuple[Destination, ...] = field(default=(), compare=False)

    @property
    def key(self) -> str:
        return f"{self.channel}:{self.target}"


def node_routes(node: Node) -> list[NodeRoute]:
    """The routes in a node's own metadata; raises ``ConfigError`` naming the node's file."""
    raw = node.settings.get("alerts") or []
    where = f"{node.kind} '{node.path or node.id}' (orchestrate.alerts)"
    routes = []
    for index, item in enumerate(raw):
        try:
            routes.append(NodeRoute.model_validate(item))
        except ValidationError as exc:
            raise ConfigError(format_validation_error(exc, where, prefix=f"alerts.{index}")) from exc
    return routes


def _matches(match: Match, node: Node | None, schedule: str | None) -> bool:
    if match.schedule and (schedule or MANUAL) not in match.schedule:
        return False
    needs_node = match.owner or match.tag or match.kind
    if not needs_node:
        return True
    if node is None:
        return False
    if match.owner and (node.owner or "").lower() not in {owner.lower() for owner in match.owner}:
        return False
    if match.tag and not node.tags & set(match.tag):
        return False
    return not (match.kind and not {node.kind, node.resource_type} & set(match.kind))


class Router:
    """Finds the destinations of an event from the configured and the node-level routes.

    Args:
        invalid: where a node whose own routes are invalid is reported (node id, error); its routes are
            then left out and the others kept. Without it (``orchestrate validate``) they raise ``ConfigError``.
    """

    def __init__(
        self, config: AlertsConfig, nodes: Mapping[str, Node], invalid: Callable[[str, str], None] | None = None
    ) -> None:
        self.config = config
        self._node_routes: dict[str, list[NodeRoute]] = {}
        for node_id, node in nodes.items():
            if not node.settings.get("alerts"):
                continue
            try:
                routes = node_routes(node)
                for route in routes:
                    self._check_channels(route, f"node {node_id}")
            except ConfigError as exc:
                if invalid is None:
                    raise
                invalid(node_id, str(exc))
                continue
            self._node_routes[node_id] = routes

    def _check_channels(self, target: Target, where: str) -> None:
        if target.slack is not None and self.config.slack is None:
            raise ConfigError(f"{where}: its alert route sends to Slack but orchestrate.yaml has no 'alerts.slack'")
        if target.email and self.config.email is None:
            raise ConfigError(f"{where}: its alert route sends e-mail but orchestrate.yaml has no 'alerts.email'")

    def wants(self, kind: str) -> bool:
        """Whether any route could send events of ``kind`` (cheap check before capturing them)."""
        routes: Iterable[NodeRoute] = [*self.config.routes, *(r for rs in self._node_routes.values() for r in rs)]
        return any(kind in route.on for route in routes)

    def destinations(self, kind: str, node: Node | None, schedule: str | None) -> list[Destination]:
        """Every destination of an event, each once (the first route to name it wins)."""
        found: dict[str, Destination] = {}
        for index, route in enumerate(self.config.routes):
            if kind in route.on and _matches(route.match, node, schedule):
                for destination in self.expand(route, _route_label(route, index), route.fallback):
                    found.setdefault(destination.key, destination)
        if node is not None:
            for own in self._node_routes.get(node.id, []):
                if kind in own.on:
                    for destination in self.expand(own, f"{node.id} metadata", None):
                        found.setdefault(destination.key, destination)
        return list(found.values())

    def expand(self, target: Target, label: str, fallback: Target | None) -> list[Destination]:
        """The destinations a route (or fallback) names, with its fallback attached."""
        backups: tuple[Destination, ...] = ()
        fallback = fallback or self.config.fallback
        if fallback is not None and fallback is not target:
            backups = tuple(self.expand(fallback, f"{label} fallback", fallback))
        result = []
        if target.slack is not None and self.config.slack is not None:
            if self.config.slack.uses_webhook:
                result.append(Destination(WEBHOOK, "", label, backups))
            else:
                result.append(Destination(SLACK, target.slack, label, backups))
        if target.email:
            result.append(Destination(EMAIL, ",".join(sorted(set(target.email))), label, backups))
        return result

    def test_destinations(self, index: int | None = None) -> list[tuple[str, list[Destination]]]:
        """Each configured route (or the one at ``index``) with its destinations, for ``orchestrate alerts test``."""
        routes = list(enumerate(self.config.routes))
        if index is not None:
            if not 0 <= index < len(routes):
                raise ConfigError(
                    f"--route {index}: orchestrate.yaml has {len(routes)} alert route(s); use 0 to {len(routes) - 1}"
                    if routes
                    else "--route: orchestrate.yaml has no alert routes under 'alerts.routes'"
                )
            routes = [routes[index]]
        return [
            (_route_label(route, i), self.expand(route, _route_label(route, i), route.fallback)) for i, route in routes
        ]


def _route_label(route: Route, index: int) -> str:
    return f"route {index}" + (f" ({route.name})" if route.name else "")
