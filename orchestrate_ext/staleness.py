"""Is each node's data fresh? Its last success, held against its freshness SLA and its schedules.

A runnable node is **stale** when either holds:

* it has ``sla: {freshness: 24h}`` (notebook metadata or dbt ``meta``) and has
  not succeeded within that long (a node that never succeeded is stale);
* a schedule that runs it (cron, not paused) fired after its last success,
  and no run that includes the node is going on now (a node being refreshed
  is not stale by its schedule; its freshness SLA still counts).

A yaml schedule runs the nodes its ``select`` picks; a node's own schedule
runs that node (and, with ``ancestors: all``, its ancestors). Success means
``success``, ``warned`` or ``reused``.

:func:`assess` is pure: it takes the graph, the schedules, each node's latest
state (one store query) and the nodes being refreshed, and the time.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from orchestrate_ext.clock import isoformat
from orchestrate_ext.graph import Graph
from orchestrate_ext.model import NodeStatus
from orchestrate_ext.scheduling.definitions import ScheduleDefinition
from orchestrate_ext.selection import select
from orchestrate_ext.sla import SlaSettings
from orchestrate_ext.store.records import NodeLatest


class StaleBy(StrEnum):
    FRESHNESS = "freshness"
    """Not succeeded within its ``sla.freshness``."""
    SCHEDULE = "schedule"
    """A schedule that runs it fired after its last success."""


@dataclass(frozen=True)
class StaleReason:
    by: StaleBy
    since: datetime | None
    """When the node became stale: the end of its freshness window, or the schedule's fire time."""
    schedule: str | None = None
    freshness: float | None = None
    """The SLA's seconds (``by`` freshness)."""


@dataclass(frozen=True)
class NodeFreshness:
    """One node's last success and whether it is stale (see the module docstring)."""

    node_id: str
    kind: str
    last_success_at: datetime | None
    last_success_run_id: str | None
    latest_status: NodeStatus | None
    latest_run_id: str | None
    freshness: float | None
    schedules: tuple[str, ...]
    refreshing: bool
    reasons: tuple[StaleReason, ...]

    @property
    def stale(self) -> bool:
        return bool(self.reasons)


def schedules_of(definitions: Mapping[str, ScheduleDefinition], graph: Graph) -> dict[str, list[ScheduleDefinition]]:
    """Each node's schedules (those with a cron expression), by node id."""
    found: dict[str, list[ScheduleDefinition]] = {}
    for definition in definitions.values():
        if definition.cron_schedule is None:
            continue
        if definition.target is None:
            members = select(graph, definition.select)
        elif definition.target in graph.nodes:
            members = {definition.target}
            if definition.ancestors == "all":
                members |= graph.ancestors([definition.target])
        else:
            continue  # the node left the project; validation reports it
        for node_id in members:
            found.setdefault(node_id, []).append(definition)
    return found


def freshness_of(settings: Mapping[str, Any]) -> float | None:
    """A node's ``sla.freshness`` in seconds, or None."""
    raw = settings.get("sla")
    if not raw:
        return None
    return SlaSettings.model_validate(raw).freshness


def assess(
    graph: Graph,
    node_ids: Collection[str],
    definitions: Mapping[str, ScheduleDefinition],
    latest: Mapping[str, NodeLatest],
    refreshing: Collection[str],
    paused: Collection[str],
    now: datetime,
) -> list[NodeFreshness]:
    """Every runnable node of ``node_ids``, stalest first (never succeeded, then oldest success)."""
    by_node = schedules_of({name: d for name, d in definitions.items() if name not in paused}, graph)
    previous: dict[str, datetime | None] = {}
    found = []
    for node_id in node_ids:
        node = graph.nodes[node_id]
        if not node.runnable:
            continue
        state = latest.get(node_id)
        succeeded = state.last_success_at if state else None
        reasons: list[StaleReason] = []
        window = freshness_of(node.settings)
        if window is not None and (succeeded is None or now - succeeded > timedelta(seconds=window)):
            since = succeeded + timedelta(seconds=window) if succeeded else None
            reasons.append(StaleReason(StaleBy.FRESHNESS, since, freshness=window))
        schedules = by_node.get(node_id, [])
        if node_id not in refreshing:
            for definition in schedules:
                if definition.name not in previous:
                    cron = definition.cron_schedule
                    previous[definition.name] = cron.previous_at_or_before(now) if cron else None
                fired = previous[definition.name]
                if fired is not None and (succeeded is None or succeeded < fired):
                    reasons.append(StaleReason(StaleBy.SCHEDULE, fired, schedule=definition.name))
        found.append(
            NodeFreshness(
                node_id=node_id,
                kind=node.kind,
                last_success_at=succeeded,
                last_success_run_id=state.last_success_run_id if state else None,
                latest_status=state.status if state else None,
                latest_run_id=state.run_id if state else None,
                freshness=window,
                schedules=tuple(sorted(definition.name for definition in schedules)),
                refreshing=node_id in refreshing,
                reasons=tuple(reasons),
            )
        )
    found.sort(key=lambda item: (item.last_success_at is not None, item.last_success_at or now, item.node_id))
    return found


def reason_document(reason: StaleReason) -> dict[str, Any]:
    return {
        "by": reason.by.value,
        "since": isoformat(reason.since),
        "schedule": reason.schedule,
        "freshness_seconds": reason.freshness,
    }


def freshness_document(item: NodeFreshness) -> dict[str, Any]:
    return {
        "node_id": item.node_id,
        "kind": item.kind,
        "last_success_at": isoformat(item.last_success_at),
        "last_success_run_id": item.last_success_run_id,
        "latest_status": item.latest_status.value if item.latest_status else None,
        "latest_run_id": item.latest_run_id,
        "freshness_seconds": item.freshness,
        "schedules": list(item.schedules),
        "refreshing": item.refreshing,
        "stale": item.stale,
        "reasons": [reason_document(reason) for reason in item.reasons],
    }
