"""The scheduler's side of the API, through :mod:`orchestrate_ext.schedule_api` only.

Schedules do not depend on Lab: they are kept by a separate ``orchestrate
scheduler`` process. This module lists them, pauses and resumes them, asks
for a run's cancellation, and tells whether a scheduler holds the project's
lease (and starts one, detached, when asked).
"""

from __future__ import annotations

import shlex
import time
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from jupyter_extension.plugin import HELD_SCHEDULE
from jupyter_extension.server.detached import DetachedCommands
from jupyter_extension.server.errors import Conflict
from jupyter_extension.server.paths import relative_to_root
from orchestrate_ext import schedule_api as api
from orchestrate_ext.clock import isoformat
from orchestrate_ext.config import format_validation_error
from orchestrate_ext.errors import BadInput, StoreError
from orchestrate_ext.model import RunStatus
from orchestrate_ext.project import Project
from orchestrate_ext.reports import run_summary
from orchestrate_ext.scheduling.backfill import backfill_dates, parse_bound
from orchestrate_ext.scheduling.exits import last_exit

SCHEDULER_LOG = "scheduler.log"


def schedule_documents(project: Project, root: Path) -> list[dict[str, Any]]:
    """``orchestrate schedules --json`` entries, plus what the panel shows (next run, last run, notebook,
    what is wrong); then the schedules held because their notebook is a copy (they do not fire)."""
    partial = project.partial_graph
    blocked = partial.blocked()
    documents = []
    for info in api.list_schedules(project):
        document = api.schedule_document(info)
        target = info.definition.target
        node = partial.graph.nodes.get(target) if target else None
        notebook = None
        if node is not None and node.kind == "notebook":
            notebook = relative_to_root(root, project.root / node.path)
        last_run = info.last_run
        problem = None
        if target is not None:
            problem = partial.broken.get(target)
            if problem is None and target in blocked:
                problem = f"it waits for {blocked[target]}, which is broken"
        document.update(
            {
                "target": target,
                "notebook": notebook,
                "next_fire_at": document["next_fire_times"][0] if document["next_fire_times"] else None,
                "last_run_id": last_run.run_id if last_run else None,
                "last_status": last_run.status.value if last_run else None,
                "last_run_at": isoformat(last_run.created_at) if last_run else None,
                "problem": problem,
                "copy_of": None,
            }
        )
        documents.append(document)
    return documents + _held_documents(project, root)


def _held_documents(project: Project, root: Path) -> list[dict[str, Any]]:
    """Notebooks carrying another notebook's schedule (copies): listed, marked, never fired."""
    held = []
    for node in project.partial_graph.graph.nodes.values():
        copied = node.settings.get(HELD_SCHEDULE)
        if not copied:
            continue
        schedule = copied.get("schedule") or {}
        held.append(
            {
                "name": node.id.removeprefix("notebook."),
                "origin": "notebook metadata",
                "cron": schedule.get("cron"),
                "timezone": schedule.get("timezone") or "UTC",
                "triggers": [],
                "selection": None,
                "paused": True,
                "next_fire_times": [],
                "target": node.id,
                "notebook": relative_to_root(root, project.root / node.path),
                "next_fire_at": None,
                "last_run_id": None,
                "last_status": None,
                "last_run_at": None,
                "problem": None,
                "copy_of": copied["copy_of"],
            }
        )
    return held


def set_paused(project: Project, root: Path, name: str, paused: bool) -> dict[str, Any]:
    if paused:
        api.pause_schedule(project, name)
    else:
        api.resume_schedule(project, name)
    return next(item for item in schedule_documents(project, root) if item["name"] == name)


def cancel(project: Project, run_id: str) -> dict[str, Any]:
    """Ask the process executing ``run_id`` to cancel it (409 when the run already ended)."""
    status = api.request_cancel(project, run_id)
    if status not in (RunStatus.RUNNING, RunStatus.QUEUED):  # a queued run is cancelled at once
        raise Conflict(f"run {run_id} already ended: {status.value}")
    store = project.open_store(read_only=True)
    try:
        with store.read() as tx:
            return run_summary(tx.get_run(run_id))
    finally:
        store.close()


def scheduler_command(project: Project) -> list[str]:
    return ["scheduler", "--project", str(project.root)]


def _lease(project: Project) -> api.LeaseStatus:
    """The lease; read twice when the store is being created by a scheduler just started (a reader then
    finds the file before its schema)."""
    try:
        return api.scheduler_status(project)
    except StoreError:
        time.sleep(0.5)
        return api.scheduler_status(project)


LOG_TAIL_LINES = 20
_LOG_TAIL_BYTES = 64 * 1024


def scheduler_status(project: Project, detached: DetachedCommands | None = None) -> dict[str, Any]:
    """The scheduler's state for the panel: ``running`` (holder, since), ``starting`` (a scheduler started
    from here has not taken the lease yet), ``failed`` (its last exit was an error, or the one started from
    here exited with an error code: ``reason`` and the last lines of its log say why), ``stopping`` (it gave
    the lease up and finishes its running nodes) or ``stopped``."""
    lease = _lease(project)
    log = project.config.workspace.state_dir / SCHEDULER_LOG
    starting = None if lease.active or detached is None else detached.running("scheduler")
    code = None if lease.active or starting is not None or detached is None else detached.exit_code("scheduler")
    stopped = last_exit(project.config.workspace.state_dir)
    reason = None
    if lease.active:
        state = "running"
        detail = f"pid {lease.pid} on {lease.host}" if lease.pid else lease.holder
    elif starting is not None and lease.pid == starting:
        state = "stopping"  # it held the lease and gave it up: it is finishing its running nodes
        detail = f"stopping (pid {starting}): running nodes finish first"
    elif starting is not None:
        state = "starting"
        detail = f"starting (pid {starting}); it logs to {_shown(project, log)}"
    elif (stopped is not None and stopped.error) or code:
        state = "failed"
        reason = stopped.reason if stopped is not None and stopped.error else f"the scheduler exited with code {code}"
        detail = (f"The last scheduler stopped at {isoformat(stopped.at)}: " if stopped else "") + reason
        if log.exists():
            detail += f" (its log: {_shown(project, log)})"
    else:
        state = "stopped"
        detail = f"A scheduler started from here logs to {_shown(project, log)}." if log.exists() else None
        if stopped is not None:
            reason = stopped.reason
    return {
        **api.lease_document(lease),
        "state": state,
        "since": isoformat(lease.acquired_at) if lease.active else None,
        "reason": reason,
        "log": _shown(project, log) if log.exists() else None,
        "log_tail": _log_tail(project, log) if state == "failed" else [],
        "last_exit": stopped.document() if stopped is not None else None,
        "running": lease.active,
        "starting": state == "starting",
        "detail": detail,
        "command": "orchestrate " + shlex.join(scheduler_command(project)),
    }


def _log_tail(project: Project, log: Path, lines: int = LOG_TAIL_LINES) -> list[str]:
    """The last ``lines`` non-empty lines of the scheduler's log, secrets removed."""
    try:
        with log.open("rb") as handle:
            handle.seek(max(0, log.stat().st_size - _LOG_TAIL_BYTES))
            text = handle.read().decode("utf-8", errors="replace")
    except OSError:
        return []
    redact = project.redactor()
    return [redact(line) for line in text.splitlines() if line.strip()][-lines:]


def stop_scheduler(project: Project, detached: DetachedCommands | None = None) -> dict[str, Any]:
    """Ask the running scheduler to stop (SIGTERM); it finishes running nodes first (409 when none runs here)."""
    try:
        lease = api.stop_scheduler(project)
    except api.SchedulerNotStopped as exc:
        raise Conflict(str(exc)) from None
    status = scheduler_status(project, detached)
    return {**status, "stopping": True, "detail": f"stopping (pid {lease.pid}): running nodes finish first"}


def start_scheduler(project: Project, detached: DetachedCommands) -> dict[str, Any]:
    """Start ``orchestrate scheduler`` in its own session; it outlives Jupyter."""
    status = scheduler_status(project, detached)
    if status["state"] == "stopping":
        raise Conflict(f"the scheduler is still stopping ({status['detail']}); start it again once it has stopped")
    if status["running"] or status["starting"]:
        raise Conflict(f"a scheduler is already running for this project ({status['detail']})")
    log = project.config.workspace.state_dir / SCHEDULER_LOG
    pid = detached.start(scheduler_command(project), cwd=project.root, log_path=log, key="scheduler")
    shown = _shown(project, log)
    return {
        **status,
        "state": "starting",
        "starting": True,
        "started_pid": pid,
        "detail": f"starting (pid {pid}); it logs to {shown}",
    }


def _shown(project: Project, path: Path) -> str:
    """A file of the project as the panel shows it: relative to the project folder."""
    return path.relative_to(project.root).as_posix() if path.is_relative_to(project.root) else str(path)


def ticks(project: Project, schedule: str | None, limit: int) -> dict[str, Any]:
    """The newest tick records (of one schedule, or all): ran, skipped with its reason, or deduplicated."""
    if not 1 <= limit <= 500:
        raise BadInput(f"limit {limit} is out of range; use 1 to 500")
    if schedule is not None:
        api.get_definition(api.schedule_definitions(project), schedule)
    return {"ticks": [api.tick_document(tick) for tick in api.list_ticks(project, schedule, limit)]}


class BackfillRequest(BaseModel):
    """The body of ``POST /orchestrate/api/backfills``: what ``orchestrate backfill`` takes."""

    model_config = ConfigDict(extra="forbid", strict=True)

    schedule: str
    start: str
    end: str
    parallel: int = Field(default=1, ge=1, le=32)
    force: bool = False

    @classmethod
    def parse(cls, body: object) -> BackfillRequest:
        try:
            return cls.model_validate(body)
        except ValidationError as exc:
            raise BadInput(format_validation_error(exc, "request body")) from None


def start_backfill(project: Project, detached: DetachedCommands, body: object) -> dict[str, Any]:
    """Check a backfill as ``orchestrate backfill`` would, then start that command in its own session."""
    request = BackfillRequest.parse(body)
    definition = api.get_definition(api.schedule_definitions(project), request.schedule)
    dates = backfill_dates(
        definition,
        parse_bound(request.start, definition.timezone, end=False),
        parse_bound(request.end, definition.timezone, end=True),
    )
    if not dates:
        raise BadInput(
            f"schedule '{request.schedule}' does not fire between {request.start} and {request.end} "
            f"({definition.timezone}); widen the range"
        )
    stamp = project.clock.now().strftime("%Y%m%dT%H%M%S")
    log = project.config.workspace.state_dir / "backfills" / f"{request.schedule.replace('/', '__')}-{stamp}.log"
    args = ["backfill", request.schedule, "--start", request.start, "--end", request.end]
    args += ["--parallel", str(request.parallel), "--project", str(project.root)]
    if request.force:
        args.append("--force")
    pid = detached.start(args, cwd=project.root, log_path=log, key=f"backfill:{request.schedule}")
    return {
        "schedule": request.schedule,
        "dates": len(dates),
        "first": isoformat(dates[0]),
        "last": isoformat(dates[-1]),
        "parallel": request.parallel,
        "pid": pid,
        "log": str(log),
    }
