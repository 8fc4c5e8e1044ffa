"""The scheduler's side of the API, through :mod:`orchestrate_ext.scheduling.api` only.

Schedules do not depend on Lab: they are kept by a separate ``orchestrate
scheduler`` process. This module lists them, pauses and resumes them, asks
for a run's cancellation, and tells whether a scheduler holds the project's
lease (and starts one, detached, when asked).
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

from jupyter_extension.server.errors import Conflict
from jupyter_extension.server.launcher import Launcher
from jupyter_extension.server.paths import relative_to_root
from orchestrate_ext.clock import isoformat
from orchestrate_ext.model import RunStatus
from orchestrate_ext.project import Project
from orchestrate_ext.reports import run_summary
from orchestrate_ext.scheduling import api

SCHEDULER_LOG = "scheduler.log"


def schedule_documents(project: Project, root: Path) -> list[dict[str, Any]]:
    """``orchestrate schedules --json`` entries, plus what the panel shows (next run, last run, notebook)."""
    documents = []
    for info in api.list_schedules(project):
        document = api.schedule_document(info)
        target = info.definition.target
        node = project.graph.nodes.get(target) if target else None
        notebook = None
        if node is not None and node.kind == "notebook":
            notebook = relative_to_root(root, project.root / node.path)
        last_run = info.last_run
        document.update(
            {
                "target": target,
                "notebook": notebook,
                "next_fire_at": document["next_fire_times"][0] if document["next_fire_times"] else None,
                "last_run_id": last_run.run_id if last_run else None,
                "last_status": last_run.status.value if last_run else None,
                "last_run_at": isoformat(last_run.created_at) if last_run else None,
            }
        )
        documents.append(document)
    return documents


def set_paused(project: Project, root: Path, name: str, paused: bool) -> dict[str, Any]:
    if paused:
        api.pause_schedule(project, name)
    else:
        api.resume_schedule(project, name)
    return next(item for item in schedule_documents(project, root) if item["name"] == name)


def cancel(project: Project, run_id: str) -> dict[str, Any]:
    """Ask the process executing ``run_id`` to cancel it (409 when the run already ended)."""
    status = api.request_cancel(project, run_id)
    if status != RunStatus.RUNNING:
        raise Conflict(f"run {run_id} already ended: {status.value}")
    store = project.open_store(read_only=True)
    try:
        with store.read() as tx:
            return run_summary(tx.get_run(run_id))
    finally:
        store.close()


def scheduler_command(project: Project) -> list[str]:
    return ["scheduler", "--project", str(project.root)]


def scheduler_status(project: Project) -> dict[str, Any]:
    lease = api.scheduler_status(project)
    log = project.config.workspace.state_dir / SCHEDULER_LOG
    if lease.active:
        detail = f"pid {lease.pid} on {lease.host}" if lease.pid else lease.holder
    else:
        detail = f"A scheduler started from here logs to {log}." if log.exists() else None
    return {
        **api.lease_document(lease),
        "running": lease.active,
        "detail": detail,
        "command": "orchestrate " + shlex.join(scheduler_command(project)),
    }


def start_scheduler(project: Project, launcher: Launcher) -> dict[str, Any]:
    """Start ``orchestrate scheduler`` in its own session; it outlives Jupyter."""
    status = scheduler_status(project)
    if status["running"]:
        raise Conflict(f"a scheduler is already running for this project ({status['detail']})")
    log = project.config.workspace.state_dir / SCHEDULER_LOG
    pid = launcher.start(scheduler_command(project), cwd=project.root, log_path=log, key="scheduler")
    return {**status, "started_pid": pid, "detail": f"started pid {pid}; it logs to {log}"}
