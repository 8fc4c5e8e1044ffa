"""Is the pipeline healthy? What ``orchestrate status`` answers, read in one unit of work.

:func:`check_health` gathers, from a handful of indexed store queries (never a
scan of the history, so it stays fast with 100,000 runs):

* the scheduler: the lease holder, and whether it is alive;
* each schedule's next fire time and last run;
* the runs going on now, with their progress and heartbeat;
* nodes failing in their latest run, with their error;
* stale nodes (see :mod:`orchestrate_ext.staleness`);
* broken nodes and schedules, left out of every run (with the nodes that wait
  for a broken one), from the partial graph the caller passes;
* why the scheduler last stopped (:mod:`orchestrate_ext.scheduling.exits`).

The pipeline is **healthy** when no node is failing, stale or broken, no
schedule is broken, and the scheduler did not stop on an error (unless one
runs again); a scheduler that is not running is reported but is not unhealthy
by itself (projects may run only by hand). Only nodes of the current graph count.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from orchestrate_ext.clock import isoformat
from orchestrate_ext.graph import Graph
from orchestrate_ext.model import NodeStatus, RunRecord, RunStatus
from orchestrate_ext.partial_graph import PartialGraph
from orchestrate_ext.reports import run_summary
from orchestrate_ext.schedule_api import LeaseStatus, lease_document, lease_status
from orchestrate_ext.scheduling.definitions import ScheduleDefinition
from orchestrate_ext.scheduling.exits import SchedulerExit
from orchestrate_ext.staleness import NodeFreshness, assess, freshness_document
from orchestrate_ext.store import StoreTx
from orchestrate_ext.store.records import RunQuery

RUNNING_SHOWN = 20
"""Runs going on that ``status`` lists (it counts the rest)."""


@dataclass(frozen=True)
class ScheduleHealth:
    name: str
    paused: bool
    triggers: tuple[str, ...]
    next_fire_at: datetime | None
    last_run: RunRecord | None


@dataclass(frozen=True)
class RunProgress:
    run: RunRecord
    counts: Mapping[str, int]
    heartbeat_at: datetime | None
    owner: str | None


@dataclass(frozen=True)
class FailingNode:
    node_id: str
    run_id: str
    finished_at: datetime | None
    error: str | None


@dataclass(frozen=True)
class Health:
    now: datetime
    scheduler: LeaseStatus
    schedules: Sequence[ScheduleHealth]
    running: Sequence[RunProgress]
    running_total: int
    failing: Sequence[FailingNode]
    stale: Sequence[NodeFreshness]
    nodes_checked: int
    broken: Mapping[str, str] = field(default_factory=dict)
    """Broken nodes by id, with what is wrong and how to fix it."""
    blocked: Mapping[str, str] = field(default_factory=dict)
    """Nodes left out because they wait for a broken node, with that node's id."""
    broken_schedules: Mapping[str, str] = field(default_factory=dict)
    unloaded: Mapping[str, str] = field(default_factory=dict)
    """Parts of the project (plugin keys, e.g. ``dbt``) that gave no nodes at all, with why."""
    last_exit: SchedulerExit | None = None
    """Why the scheduler last stopped (shown when none runs now)."""

    @property
    def scheduler_failed(self) -> bool:
        """No scheduler runs, and the last one stopped (or could not start) on an error."""
        return not self.scheduler.active and self.last_exit is not None and self.last_exit.error

    @property
    def healthy(self) -> bool:
        return not (
            self.failing or self.stale or self.broken or self.broken_schedules or self.unloaded or self.scheduler_failed
        )


def check_health(
    tx: StoreTx,
    graph: Graph,
    definitions: Mapping[str, ScheduleDefinition],
    now: datetime,
    *,
    partial: PartialGraph | None = None,
    broken_schedules: Mapping[str, str] | None = None,
    last_exit: SchedulerExit | None = None,
) -> Health:
    """Everything ``orchestrate status`` shows, from one read-only unit of work.

    Args:
        graph: the nodes to check (every node, broken ones too, when ``partial`` is given).
        partial: the project's partial graph, for its broken and left-out nodes.
    """
    states = tx.schedule_states()
    paused = {name for name, state in states.items() if state.paused}
    running_query = RunQuery(statuses=frozenset({RunStatus.RUNNING, RunStatus.QUEUED}), limit=RUNNING_SHOWN)
    running_runs = tx.find_runs(running_query)
    running_total = tx.count_runs(running_query) if len(running_runs) == RUNNING_SHOWN else len(running_runs)
    counts = tx.node_counts([run.run_id for run in running_runs])
    owners = {ownership.run_id: ownership for ownership in tx.unfinished_runs()} if running_runs else {}
    refreshing = refreshing_nodes(tx, owners)
    latest = tx.latest_node_states()
    freshness = assess(graph, list(graph.nodes), definitions, latest, refreshing, paused, now)
    failing = [
        FailingNode(node_id, state.run_id, state.finished_at, state.error)
        for node_id, state in sorted(latest.items())
        if state.status == NodeStatus.FAILED and node_id in graph.nodes
    ]
    return Health(
        now=now,
        scheduler=lease_status(tx.get_lease(), now),
        schedules=[_schedule(tx, definition, name in paused, now) for name, definition in sorted(definitions.items())],
        running=[
            RunProgress(
                run,
                counts.get(run.run_id, {}),
                owners[run.run_id].heartbeat_at if run.run_id in owners else None,
                owners[run.run_id].owner if run.run_id in owners else None,
            )
            for run in running_runs
        ],
        running_total=running_total,
        failing=failing,
        stale=[item for item in freshness if item.stale],
        nodes_checked=len(freshness),
        broken=dict(sorted(partial.broken.items())) if partial is not None else {},
        blocked=dict(sorted(partial.blocked().items())) if partial is not None else {},
        broken_schedules=dict(sorted((broken_schedules or {}).items())),
        unloaded=dict(sorted(partial.unloaded.items())) if partial is not None else {},
        last_exit=last_exit,
    )


def refreshing_nodes(tx: StoreTx, running: Collection[str] | None = None) -> set[str]:
    """Nodes not yet finished in a run going on now (``running``: those runs' ids; default: read them)."""
    run_ids = [ownership.run_id for ownership in tx.unfinished_runs()] if running is None else running
    return {state.node_id for run_id in run_ids for state in tx.node_states(run_id) if not state.status.is_final}


def _schedule(tx: StoreTx, definition: ScheduleDefinition, paused: bool, now: datetime) -> ScheduleHealth:
    cron = definition.cron_schedule
    last = tx.find_runs(RunQuery(schedules=frozenset({definition.name}), limit=1))
    return ScheduleHealth(
        name=definition.name,
        paused=paused,
        triggers=tuple(definition.triggers()),
        next_fire_at=cron.next_after(now) if cron is not None and not paused else None,
        last_run=last[0] if last else None,
    )


def health_document(health: Health) -> dict[str, Any]:
    """``orchestrate status --json``."""
    return {
        "healthy": health.healthy,
        "now": isoformat(health.now),
        "scheduler": lease_document(health.scheduler),
        "schedules": [
            {
                "name": schedule.name,
                "paused": schedule.paused,
                "triggers": list(schedule.triggers),
                "next_fire_at": isoformat(schedule.next_fire_at),
                "last_run": run_summary(schedule.last_run) if schedule.last_run else None,
            }
            for schedule in health.schedules
        ],
        "running": [
            {
                **run_summary(progress.run),
                "node_counts": dict(progress.counts),
                "done": sum(n for s, n in progress.counts.items() if NodeStatus(s).is_final),
                "total": sum(progress.counts.values()),
                "heartbeat_at": isoformat(progress.heartbeat_at),
            }
            for progress in health.running
        ],
        "running_total": health.running_total,
        "failing": [
            {
                "node_id": node.node_id,
                "run_id": node.run_id,
                "finished_at": isoformat(node.finished_at),
                "error": node.error,
            }
            for node in health.failing
        ],
        "stale": [freshness_document(item) for item in health.stale],
        "nodes_checked": health.nodes_checked,
        "broken": [{"node_id": node_id, "reason": reason} for node_id, reason in health.broken.items()],
        "left_out": [
            {"node_id": node_id, "reason": f"it waits for {cause}, which is broken"}
            for node_id, cause in health.blocked.items()
        ],
        "broken_schedules": [{"name": name, "reason": reason} for name, reason in health.broken_schedules.items()],
        "unloaded": [{"plugin": key, "reason": reason} for key, reason in health.unloaded.items()],
        "scheduler_last_exit": health.last_exit.document() if health.last_exit is not None else None,
    }
