"""Freshness and overdue markers for the graph, from each node's SLA (``sla:`` in its metadata or dbt ``meta``).

Protocol: :func:`markers` takes the graph, each node's latest state (from
:class:`~jupyter_extension.server.history.NodeHistory`) and the time now, and
returns, by node id, the markers to draw: ``{"kind": "stale" | "overdue", "message"}``.

- ``freshness``: *stale* when the node's last success is older than that, or it never succeeded.
- ``finish_by``: the deadline of the node's latest run is the first such time of day at or
  after the run's logical date, in the node's own schedule's time zone (else ``alerts.timezone``,
  else UTC), as the alerts plugin reckons it; *overdue* when it has passed and the node is not
  done in that run.
- ``max_duration``: *overdue* when the node's latest run started longer ago than that and the
  node is not done in it.

The alerts plugin sends the alerts; this only shows the same verdicts on the graph.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, time, timedelta
from typing import Any

from orchestrate_ext.cron import CronError, zone
from orchestrate_ext.graph import Graph
from orchestrate_ext.model import NodeStatus

_DONE = {status.value for status in NodeStatus if status.is_done}


def _ago(seconds: float) -> str:
    for size, unit in ((86400, "d"), (3600, "h"), (60, "min")):
        if seconds >= size:
            return f"{seconds / size:.0f} {unit}"
    return f"{seconds:.0f} s"


def _zone_name(node_settings: Mapping[str, Any], default: str) -> str:
    schedule = node_settings.get("schedule") or {}
    name = schedule.get("timezone") if isinstance(schedule, Mapping) else None
    return str(name or default)


def finish_deadline(logical_date: datetime, finish_by: str, zone_name: str) -> datetime:
    """The first ``finish_by`` (``HH:MM``) at or after ``logical_date``, in ``zone_name``."""
    try:
        info = zone(zone_name)
    except CronError:
        info = zone("UTC")
    local = logical_date.astimezone(info)
    hour, minute = (int(part) for part in finish_by.split(":"))
    deadline = datetime.combine(local.date(), time(hour, minute), tzinfo=info)
    if deadline < local:
        deadline = datetime.combine(local.date() + timedelta(days=1), time(hour, minute), tzinfo=info)
    return deadline


def markers(
    graph: Graph, latest: Mapping[str, Mapping[str, Any]], now: datetime, default_zone: str = "UTC"
) -> dict[str, list[dict[str, str]]]:
    """By node id, the SLA markers of nodes that have an SLA and miss it now."""
    found: dict[str, list[dict[str, str]]] = {}
    for node_id, node in graph.nodes.items():
        sla = node.settings.get("sla")
        if not sla:
            continue
        entry = latest.get(node_id, {})
        marks: list[dict[str, str]] = []
        freshness = sla.get("freshness")
        if freshness is not None:
            success = entry.get("last_success_at")
            if success is None:
                marks.append({"kind": "stale", "message": f"never succeeded; freshness {_ago(freshness)}"})
            elif (age := (now - datetime.fromisoformat(success)).total_seconds()) > freshness:
                marks.append({"kind": "stale", "message": f"last success {_ago(age)} ago; freshness {_ago(freshness)}"})
        done = entry.get("last_status") in _DONE
        finish_by = sla.get("finish_by")
        logical = entry.get("last_logical_date")
        if finish_by and logical and not done:
            zone_name = _zone_name(node.settings, default_zone)
            deadline = finish_deadline(datetime.fromisoformat(logical), finish_by, zone_name)
            if deadline <= now:
                marks.append(
                    {
                        "kind": "overdue",
                        "message": f"not done by {finish_by} {zone_name} (run {entry.get('last_run_id')})",
                    }
                )
        max_duration = sla.get("max_duration")
        started = entry.get("last_started_at")
        if max_duration is not None and started and not done:
            elapsed = (now - datetime.fromisoformat(started)).total_seconds()
            if elapsed > max_duration:
                marks.append(
                    {
                        "kind": "overdue",
                        "message": f"not done {_ago(elapsed)} after its run started; at most {_ago(max_duration)}",
                    }
                )
        if marks:
            found[node_id] = marks
    return found
