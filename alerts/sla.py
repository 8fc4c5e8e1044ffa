"""SLA deadlines: computed when a run starts, checked on every tick.

- ``finish_by: "07:30"``: the first 07:30 (in the schedule's zone, else
  ``alerts.timezone``) at or after the run's logical date. A run created a day
  or more after that moment (a backfill) is not held to it; a run created late
  but within the day (a catch-up) has missed it.
- ``max_duration: 30m``: done within 30 minutes of the run's start.
- ``freshness: 24h``: succeeded within the last 24 hours, whatever the runs.

A miss is reported once per (run, node, SLA): when the deadline passes, or
earlier, as soon as the node can no longer make it (it or an upstream node
failed, or the run ended without it). It names what holds the node back.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from alerts.content import Blocker
from alerts.store import MET, MISSED, SlaRecord
from orchestrate_ext.clock import duration_text
from orchestrate_ext.model import NodeRunRecord, NodeStatus, RunRecord, RunStatus
from orchestrate_ext.sla import SlaSettings

FINISH_BY = "finish_by"
MAX_DURATION = "max_duration"
RUN_LEVEL = ""
"""The node id of a run's own SLA (a schedule's)."""


@dataclass(frozen=True)
class ScheduleSla:
    """A schedule's time zone and SLA, as the alerts read them from the schedules' configuration."""

    name: str
    timezone: str = "UTC"
    sla: SlaSettings | None = None


def minutes_text(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    if minutes >= 120:
        return f"{minutes // 60} h {minutes % 60} min"
    return f"{minutes} min" if minutes else f"{int(delta.total_seconds())} s"


def finish_by_deadline(logical_date: datetime, at: str, zone: ZoneInfo) -> datetime:
    """The first local ``at`` (``HH:MM``) at or after ``logical_date``, in UTC."""
    hour, minute = (int(part) for part in at.split(":"))
    local = logical_date.astimezone(zone)
    day = local.date()
    while True:
        candidate = datetime.combine(day, time(hour, minute), tzinfo=zone).astimezone(UTC)
        if candidate >= logical_date.astimezone(UTC):
            return candidate
        day += timedelta(days=1)


BACKFILL_AFTER = timedelta(hours=24)
"""A run created this long after its ``finish_by`` deadline is a backfill: not held to it."""


def _zone(run: RunRecord, node: Any, schedules: Mapping[str, ScheduleSla], default_zone: str) -> ZoneInfo:
    """The schedule's zone; else the node's own schedule's; else ``alerts.timezone``."""
    schedule = schedules.get(run.schedule or "")
    if schedule is not None:
        return ZoneInfo(schedule.timezone)
    own = (node.settings.get("schedule") or {}).get("timezone") if node is not None else None
    return ZoneInfo(own or default_zone)


def deadlines(
    run: RunRecord,
    node_ids: Iterable[str],
    graph: Any,
    schedules: Mapping[str, ScheduleSla],
    default_zone: str,
    scope: str,
) -> list[SlaRecord]:
    """The SLA records of a run that starts now: its nodes' and its schedule's."""
    schedule = schedules.get(run.schedule or "")
    started = run.started_at or run.created_at
    subjects: list[tuple[str, SlaSettings, ZoneInfo]] = []
    for node_id in node_ids:
        node = graph.nodes.get(node_id)
        raw = node.settings.get("sla") if node is not None else None
        if raw:
            subjects.append((node_id, SlaSettings.model_validate(raw), _zone(run, node, schedules, default_zone)))
    if schedule is not None and schedule.sla is not None:
        subjects.append((RUN_LEVEL, schedule.sla, ZoneInfo(schedule.timezone)))
    records = []
    for node_id, sla, zone in subjects:
        if sla.finish_by:
            deadline = finish_by_deadline(run.logical_date, sla.finish_by, zone)
            if run.created_at - deadline < BACKFILL_AFTER:
                detail = f"finish_by {sla.finish_by} ({zone.key})"
                records.append(SlaRecord(run.run_id, node_id, FINISH_BY, deadline, scope, detail))
        if sla.max_duration:
            deadline = started + timedelta(seconds=sla.max_duration)
            detail = f"max_duration {duration_text(sla.max_duration)}"
            records.append(SlaRecord(run.run_id, node_id, MAX_DURATION, deadline, scope, detail))
    return records


@dataclass(frozen=True)
class Verdict:
    """What a check decided for one SLA record: met, or missed (``missed`` or ``will miss``)."""

    record: SlaRecord
    status: str
    state: str = ""
    blockers: tuple[Blocker, ...] = ()
    late_by: timedelta | None = None


def judge(
    record: SlaRecord, run: RunRecord, states: Mapping[str, NodeRunRecord], graph: Any, now: datetime
) -> Verdict | None:
    """Met, missed, or None while it can still be met."""
    if record.node_id:
        state = states.get(record.node_id)
        if state is None:
            return Verdict(record, MET)  # no longer part of the run
        done, finished_at = state.status == NodeStatus.SUCCESS, state.finished_at
        hopeless = state.status.is_final and not done
    else:
        done, finished_at = run.status == RunStatus.SUCCESS, run.finished_at
        hopeless = run.status in (RunStatus.FAILED, RunStatus.CANCELLED)
    if done:
        if finished_at is None or finished_at <= record.deadline:
            return Verdict(record, MET)
        return Verdict(record, MISSED, "missed", late_by=finished_at - record.deadline)
    if now >= record.deadline:
        return Verdict(record, MISSED, "missed", tuple(blockers(graph, states, record.node_id or None, now)))
    if hopeless:
        return Verdict(record, MISSED, "will miss", tuple(blockers(graph, states, record.node_id or None, now)))
    return None


def blockers(graph: Any, states: Mapping[str, NodeRunRecord], node_id: str | None, now: datetime) -> list[Blocker]:
    """The nodes holding ``node_id`` (or the whole run) back: the unfinished ones nearest the start.

    Walks up from the node through parents that have not succeeded; a node
    that runs, waits to retry, failed, or waits with every parent done is a
    blocker. The node itself is one when it is the one running or failed.
    """
    members = set(states)
    stack = [node_id] if node_id else [n for n in reversed(list(states)) if states[n].status != NodeStatus.SUCCESS]
    found: dict[str, Blocker] = {}
    seen: set[str] = set()
    while stack:
        current = stack.pop()
        if current in seen:
            continue
        seen.add(current)
        state = states.get(current)
        if state is None or state.status == NodeStatus.SUCCESS:
            continue
        if state.status in (NodeStatus.PENDING, NodeStatus.UPSTREAM_FAILED) and current in graph.nodes:
            waiting_on = [
                parent
                for parent in sorted(graph.runnable_parents(current, members))
                if states[parent].status != NodeStatus.SUCCESS
            ]
            if waiting_on:
                stack.extend(reversed(waiting_on))
                continue
        found[current] = describe(current, state, graph, now)
    order = {node: index for index, node in enumerate(graph.order)}
    return sorted(found.values(), key=lambda b: order.get(b.node_id, len(order)))


def describe(node_id: str, state: NodeRunRecord, graph: Any, now: datetime) -> Blocker:
    node = graph.nodes.get(node_id)
    name = node.name if node is not None else node_id
    status = state.status
    if status == NodeStatus.RUNNING:
        since = state.started_at or now
        return Blocker(node_id, name, "running", f"for {minutes_text(now - since)}")
    if status == NodeStatus.QUEUED:
        return Blocker(node_id, name, "queued", "waiting for a free slot or resource")
    if status == NodeStatus.PENDING:
        return Blocker(node_id, name, "waiting", "not started yet")
    if status == NodeStatus.UP_FOR_RETRY:
        return Blocker(node_id, name, "waiting to retry", f"after {state.attempts} failed attempt(s)")
    detail = (state.error or "").strip().splitlines()[0][:200] if state.error else ""
    return Blocker(node_id, name, status.value.replace("_", " "), detail)
