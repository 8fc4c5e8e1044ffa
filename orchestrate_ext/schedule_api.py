"""Plain functions over a project's schedules, for the CLI and the JupyterLab server extension.

Each takes the project folder (or a loaded :class:`~orchestrate_ext.project.Project`),
opens the state store, does one thing and closes it again; none needs a
running scheduler. JSON-ready documents come from the ``*_document`` helpers.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from orchestrate_ext.clock import SystemClock, isoformat
from orchestrate_ext.errors import OrchestrateError, RunNotFound, did_you_mean
from orchestrate_ext.execution.liveness import ProcessIdentity, ProcessLiveness, host_name, process_alive
from orchestrate_ext.model import RunRecord, RunStatus
from orchestrate_ext.project import Project
from orchestrate_ext.scheduling.definitions import ScheduleDefinition, ScheduleNotFound, discover_schedules
from orchestrate_ext.store import StateStore, StoreTx
from orchestrate_ext.store.records import Lease, ScheduleState, TickRecord

ProjectRef = Project | Path | str | None
"""A loaded project, or the folder holding its orchestrate.yaml (None: the current folder)."""


@dataclass(frozen=True)
class ScheduleInfo:
    """One schedule with its state: what ``orchestrate schedules`` and the JupyterLab panel show."""

    definition: ScheduleDefinition
    paused: bool
    next_fire_times: list[datetime]
    """The next fire times (UTC); empty for schedules without cron, or paused ones."""
    last_tick: TickRecord | None
    last_run: RunRecord | None


@dataclass(frozen=True)
class LeaseStatus:
    """Whether a scheduler runs for the project, and which one."""

    active: bool
    holder: str | None = None
    host: str | None = None
    pid: int | None = None
    acquired_at: datetime | None = None
    renewed_at: datetime | None = None
    expires_at: datetime | None = None


def _project(project: ProjectRef) -> Project:
    if isinstance(project, Project):
        return project
    return Project.load(Path(project) if project is not None else None)


@contextmanager
def _opened(project: Project, *, read_only: bool) -> Iterator[StateStore]:
    store = project.open_store(read_only=read_only)
    try:
        yield store
    finally:
        store.close()


@contextmanager
def _reading(project: Project) -> Iterator[StoreTx]:
    """A read-only view of the project's store (never creates it)."""
    with _opened(project, read_only=True) as store, store.read() as tx:
        yield tx


@contextmanager
def _writing(project: Project) -> Iterator[StoreTx]:
    with _opened(project, read_only=False) as store, store.transaction() as tx:
        yield tx


def schedule_definitions(project: ProjectRef = None) -> dict[str, ScheduleDefinition]:
    """Every schedule of the project by name (loads the graph: notebooks and dbt's manifest).

    A broken node (a reference that does not resolve) does not hide the other
    schedules: they are read from the partial graph. A schedule that is broken itself
    (an invalid entry of orchestrate.yaml, an unknown ``after``) is a ``ConfigError`` here.
    """
    loaded = _project(project)
    graph = loaded.partial_graph.graph
    config = loaded.config
    return discover_schedules(config.core.schedules, graph, config.workspace.config_path, config.broken_schedules)


def get_definition(definitions: dict[str, ScheduleDefinition], name: str) -> ScheduleDefinition:
    """The schedule called ``name``; raises :class:`ScheduleNotFound` with the closest name."""
    if name in definitions:
        return definitions[name]
    hint = did_you_mean(name, set(definitions)) or (
        f"; schedules: {', '.join(sorted(definitions))}" if definitions else "; this project defines no schedules"
    )
    raise ScheduleNotFound(f"no schedule is called '{name}'{hint}; list them with `orchestrate schedules`")


def list_schedules(project: ProjectRef = None, *, count: int = 3, now: datetime | None = None) -> list[ScheduleInfo]:
    """(a) Every schedule with its next ``count`` fire times, last tick, last run and pause flag."""
    loaded = _project(project)
    definitions = schedule_definitions(loaded)
    now = now or loaded.clock.now()
    with _reading(loaded) as tx:
        states = tx.schedule_states()
        last_ticks = tx.last_ticks()
        infos = []
        for name, definition in sorted(definitions.items()):
            state = states.get(name)
            paused = state.paused if state is not None else False
            cron = definition.cron_schedule
            upcoming = [] if cron is None or paused else _take(cron.iter_after(now), count)
            last_run = _last_run(tx, last_ticks.get(name))
            infos.append(ScheduleInfo(definition, paused, upcoming, last_ticks.get(name), last_run))
    return infos


def _last_run(tx: StoreTx, tick: TickRecord | None) -> RunRecord | None:
    if tick is None or tick.run_id is None:
        return None
    try:
        return tx.get_run(tick.run_id)
    except RunNotFound:  # deleted from the history since
        return None


def _take(iterator: Iterator[datetime], count: int) -> list[datetime]:
    return [next(iterator) for _ in range(count)]


def pause_schedule(project: ProjectRef, name: str) -> ScheduleState:
    """(b) Pause ``name``: it records no tick and starts no run until resumed (runs going on finish)."""
    loaded = _project(project)
    get_definition(schedule_definitions(loaded), name)
    with _writing(loaded) as tx:
        return tx.set_paused(name, True, loaded.clock.now(), None)


def resume_schedule(project: ProjectRef, name: str) -> ScheduleState:
    """(b) Resume ``name`` from its next fire time after now (what passed while paused does not run)."""
    loaded = _project(project)
    definition = get_definition(schedule_definitions(loaded), name)
    now = loaded.clock.now()
    cron = definition.cron_schedule
    with _writing(loaded) as tx:
        return tx.set_paused(name, False, now, cron.next_after(now) if cron else None)


def scheduler_status(project: ProjectRef = None, *, now: datetime | None = None) -> LeaseStatus:
    """(c) Whether a scheduler holds the lease for the project now (and who)."""
    loaded = _project(project)
    now = now or SystemClock().now()
    with _reading(loaded) as tx:
        lease = tx.get_lease()
    return lease_status(lease, now)


def lease_status(lease: Lease | None, now: datetime) -> LeaseStatus:
    """What the stored lease says about the scheduler at ``now`` (its holder alive and the lease current)."""
    if lease is None:
        return LeaseStatus(active=False)
    identity = ProcessIdentity.parse(lease.holder)
    alive = lease.expires_at > now and ProcessLiveness().is_alive(lease.holder, lease.renewed_at, now)
    return LeaseStatus(
        active=alive,
        holder=lease.holder,
        host=identity.host if identity else None,
        pid=identity.pid if identity else None,
        acquired_at=lease.acquired_at,
        renewed_at=lease.renewed_at,
        expires_at=lease.expires_at,
    )


class SchedulerNotStopped(OrchestrateError):
    """The scheduler cannot be stopped from here (none runs, or it runs on another host)."""


def stop_scheduler(project: ProjectRef = None, *, now: datetime | None = None) -> LeaseStatus:
    """Ask the scheduler holding the project's lease to stop (SIGTERM: it takes no new work, lets running
    nodes finish within its grace, records its exit and releases the lease). Returns the lease it signalled.

    Raises:
        SchedulerNotStopped: no scheduler runs, it runs on another host, or its process is gone.
    """
    status = scheduler_status(project, now=now)
    if not status.active or status.holder is None:
        raise SchedulerNotStopped("no scheduler is running for this project; there is nothing to stop")
    identity = ProcessIdentity.parse(status.holder)
    if identity is None or identity.host != host_name():
        raise SchedulerNotStopped(
            f"the scheduler runs on host {status.host or status.holder}; stop it there (SIGTERM to its process)"
        )
    if not process_alive(identity.pid, identity.started):
        raise SchedulerNotStopped(f"the scheduler's process {identity.pid} has already ended")
    try:
        os.kill(identity.pid, signal.SIGTERM)
    except ProcessLookupError:
        raise SchedulerNotStopped(f"the scheduler's process {identity.pid} has already ended") from None
    except PermissionError:
        raise SchedulerNotStopped(
            f"the scheduler (pid {identity.pid}) belongs to another user; stop it as that user"
        ) from None
    return status


def request_cancel(project: ProjectRef, run_id: str) -> RunStatus:
    """(d) Ask the process executing ``run_id`` to cancel it (it polls every second).

    Returns the run's status when asked; only a ``running`` run is flagged. A ``queued`` run is
    cancelled at once (``queued`` is returned; the run is ``cancelled`` now).
    Raises ``RunNotFound``. A run whose process died is closed as cancelled by
    the scheduler that recovers it.
    """
    loaded = _project(project)
    with _writing(loaded) as tx:
        if tx.cancel_queued(run_id, loaded.clock.now()):
            return RunStatus.QUEUED
        return tx.request_cancel(run_id, loaded.clock.now())


def list_ticks(project: ProjectRef = None, schedule: str | None = None, limit: int = 50) -> list[TickRecord]:
    """The newest tick records first, of one schedule or all."""
    loaded = _project(project)
    with _reading(loaded) as tx:
        return tx.list_ticks(schedule, limit)


# -- JSON documents


def tick_document(tick: TickRecord) -> dict[str, Any]:
    return {
        "tick_id": tick.tick_id,
        "schedule": tick.schedule,
        "scheduled_at": isoformat(tick.scheduled_at),
        "trigger": tick.trigger.value,
        "status": tick.status.value,
        "reason": tick.reason,
        "run_id": tick.run_id,
        "duplicate_of": tick.duplicate_of,
        "created_at": isoformat(tick.created_at),
        "updated_at": isoformat(tick.updated_at),
    }


def schedule_document(info: ScheduleInfo) -> dict[str, Any]:
    definition = info.definition
    zone = definition.cron_schedule.zone if definition.cron_schedule else None
    return {
        "name": definition.name,
        "origin": definition.origin,
        "cron": definition.cron,
        "timezone": definition.timezone,
        "triggers": definition.triggers(),
        "selection": definition.selection_text,
        "catchup": definition.catchup.value,
        "max_active_runs": definition.max_active_runs,
        "paused": info.paused,
        "next_fire_times": [moment.astimezone(zone).isoformat() for moment in info.next_fire_times],
        "last_tick": tick_document(info.last_tick) if info.last_tick else None,
        "last_run": None
        if info.last_run is None
        else {"run_id": info.last_run.run_id, "status": info.last_run.status.value},
    }


def lease_document(status: LeaseStatus) -> dict[str, Any]:
    return {
        "active": status.active,
        "holder": status.holder,
        "host": status.host,
        "pid": status.pid,
        "acquired_at": isoformat(status.acquired_at),
        "renewed_at": isoformat(status.renewed_at),
        "expires_at": isoformat(status.expires_at),
    }
