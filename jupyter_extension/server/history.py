"""Reading the run history for the API: run lists, run detail, freshness, logs, output notebooks.

Everything is a query of the state store (filters, pages and each node's
latest state are answered in SQL, never by loading runs into Python) and
comes out as the CLI's JSON documents (:mod:`orchestrate_ext.reports`), so
the API and ``orchestrate show --json`` describe a run alike.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from jupyter_extension.server.errors import NotFound
from jupyter_extension.server.paths import contained_file
from orchestrate_ext.clock import isoformat
from orchestrate_ext.errors import BadInput, NodeNotFound, RunNotFound, did_you_mean
from orchestrate_ext.model import AttemptRecord, AttemptStatus, NodeStatus, RunStatus
from orchestrate_ext.reports import error_head, run_document, run_summary
from orchestrate_ext.store import StateStore
from orchestrate_ext.store.records import RunQuery

LOG_TAIL_BYTES = 512 * 1024


@dataclass(frozen=True)
class RunFilter:
    """What ``GET /runs`` was asked for; empty collections mean "any"."""

    statuses: Collection[str] = ()
    triggers: Collection[str] = ()
    schedules: Collection[str] = ()

    @classmethod
    def parse(cls, statuses: list[str], triggers: list[str], schedules: list[str]) -> RunFilter:
        known = {status.value for status in RunStatus}
        wanted = {item for value in statuses for item in value.split(",") if item}
        unknown = sorted(wanted - known)
        if unknown:
            raise BadInput(f"unknown run status '{unknown[0]}'; use one of {', '.join(sorted(known))}")
        return cls(frozenset(wanted), frozenset(triggers), frozenset(schedules))

    def query(self, limit: int, offset: int) -> RunQuery:
        return RunQuery(
            statuses=frozenset(RunStatus(status) for status in self.statuses),
            schedules=frozenset(self.schedules),
            triggers=frozenset(self.triggers),
            limit=limit,
            offset=offset,
        )


def list_runs(store: StateStore, run_filter: RunFilter, limit: int, offset: int) -> dict[str, Any]:
    """A page of runs, newest first, each with its failed tries, reused nodes and first failure; and how many match.

    ``failure`` (None when no try failed) is the node whose try failed first and the first lines of
    its error (:func:`~orchestrate_ext.reports.error_head`), for the runs list's tooltip.
    """
    if not 1 <= limit <= 500:
        raise BadInput(f"limit {limit} is out of range; use 1 to 500")
    if offset < 0:
        raise BadInput(f"offset {offset} is negative")
    query = run_filter.query(limit, offset)
    with store.read() as tx:
        runs = tx.find_runs(query)
        total = tx.count_runs(query)
        attempts = {run.run_id: tx.attempts(run.run_id) for run in runs}
        nodes = tx.node_counts([run.run_id for run in runs])
    documents = [
        {
            **run_summary(run),
            **_try_counts(attempts[run.run_id]),
            "reused": nodes.get(run.run_id, {}).get(NodeStatus.REUSED.value, 0),
            "failure": _first_failure(attempts[run.run_id]),
        }
        for run in runs
    ]
    return {"runs": documents, "total": total, "limit": limit, "offset": offset}


_FAILED_TRIES = frozenset({AttemptStatus.FAILED, AttemptStatus.TIMED_OUT, AttemptStatus.CRASHED})


def _try_counts(attempts: list[AttemptRecord]) -> dict[str, int]:
    """What a line of the runs list shows beside the status: how many tries failed, even if retried later."""
    return {"failed_tries": sum(attempt.status in _FAILED_TRIES for attempt in attempts), "tries": len(attempts)}


def _first_failure(attempts: list[AttemptRecord]) -> dict[str, Any] | None:
    """The node whose try failed first, with its error's first lines (its latest failed try's, the closest to now)."""
    failed = [attempt for attempt in attempts if attempt.status in _FAILED_TRIES]
    if not failed:
        return None
    first = min(failed, key=lambda attempt: (attempt.finished_at or attempt.started_at, attempt.node_id))
    latest = max((attempt for attempt in failed if attempt.node_id == first.node_id), key=lambda a: a.try_number)
    return {"node_id": latest.node_id, "try_number": latest.try_number, "error_lines": error_head(latest.error)}


def _seconds(start: datetime | None, end: datetime | None) -> float | None:
    return None if start is None or end is None else round((end - start).total_seconds(), 3)


def run_detail(store: StateStore, state_dir: Path, run_id: str) -> dict[str, Any]:
    """``orchestrate show --json`` (the run's duration by :func:`~orchestrate_ext.reports.run_seconds`) plus
    each node's and try's duration and whether each attempt has a log and an output."""
    with store.read() as tx:
        document = run_document(tx, run_id, with_attempts=True)
    for node in document["nodes"]:
        node["duration_seconds"] = _duration(node["started_at"], node["finished_at"])
    for attempt in document["attempts"]:
        attempt["duration_seconds"] = _duration(attempt["started_at"], attempt["finished_at"])
        attempt["has_log"] = contained_file(state_dir, attempt["log_path"]) is not None
        attempt["has_output"] = contained_file(state_dir, attempt["output_path"]) is not None
    return document


def _duration(start: str | None, end: str | None) -> float | None:
    if start is None or end is None:
        return None
    seconds = _seconds(datetime.fromisoformat(start), datetime.fromisoformat(end))
    return None if seconds is None or seconds < 0 else seconds


def latest_by_node(store: StateStore) -> dict[str, dict[str, Any]]:
    """By node id: ``last_status``, ``last_run_id``, ``last_finished_at``, ``last_success_at``, and the last
    run's ``last_logical_date`` and ``last_started_at`` (for the SLA markers; one query per distinct run)."""
    with store.read() as tx:
        latest = tx.latest_node_states()
        runs = {run_id: tx.get_run(run_id) for run_id in {entry.run_id for entry in latest.values()}}
    return {
        node_id: {
            "id": node_id,
            "last_status": entry.status.value,
            "last_run_id": entry.run_id,
            "last_finished_at": isoformat(entry.finished_at),
            "last_success_at": isoformat(entry.last_success_at),
            "last_success_run_id": entry.last_success_run_id,
            "last_logical_date": isoformat(runs[entry.run_id].logical_date),
            "last_started_at": isoformat(runs[entry.run_id].resumed_at or runs[entry.run_id].started_at),
        }
        for node_id, entry in latest.items()
    }


RECENT = 10
"""How many of a node's latest statuses its card shows."""


def node_recent(store: StateStore, node_id: str) -> dict[str, Any]:
    """The node's status in each of its newest :data:`RECENT` runs, newest first, with its error's first lines."""
    with store.read() as tx:
        entries = tx.node_history(node_id, RECENT)
    return {
        "node_id": node_id,
        "recent": [
            {
                "run_id": entry.run_id,
                "status": entry.status.value,
                "created_at": isoformat(entry.created_at),
                "started_at": isoformat(entry.started_at),
                "finished_at": isoformat(entry.finished_at),
                "error_lines": error_head(entry.error),
            }
            for entry in entries
        ],
    }


def _attempts(store: StateStore, run_id: str, node_id: str, try_number: int | None) -> list[AttemptRecord]:
    with store.read() as tx:
        tx.get_run(run_id)
        attempts = tx.attempts(run_id, node_id)
        known = sorted({state.node_id for state in tx.node_states(run_id)})
    if not attempts:
        if node_id not in known:
            raise NodeNotFound(f"run {run_id} has no node '{node_id}'{did_you_mean(node_id, known)}")
        raise NotFound(f"{node_id} has not started in run {run_id}")
    if try_number is None:
        return attempts
    chosen = [attempt for attempt in attempts if attempt.try_number == try_number]
    if not chosen:
        tries = ", ".join(str(attempt.try_number) for attempt in attempts)
        raise NotFound(f"{node_id} has no try {try_number} in run {run_id}; its tries: {tries}")
    return chosen


def read_logs(store: StateStore, state_dir: Path, run_id: str, node_id: str, try_number: int | None) -> dict[str, Any]:
    """The log of each try of a node (the last ``LOG_TAIL_BYTES`` of each)."""
    entries = []
    for attempt in _attempts(store, run_id, node_id, try_number):
        path = contained_file(state_dir, attempt.log_path)
        text, truncated = _tail(path) if path else (None, False)
        entries.append(
            {
                "try_number": attempt.try_number,
                "status": attempt.status.value,
                "started_at": isoformat(attempt.started_at),
                "finished_at": isoformat(attempt.finished_at),
                "error": attempt.error,
                "log": text,
                "truncated": truncated,
            }
        )
    return {"run_id": run_id, "node_id": node_id, "attempts": entries}


def _tail(path: Path) -> tuple[str, bool]:
    size = path.stat().st_size
    with path.open("rb") as handle:
        if size > LOG_TAIL_BYTES:
            handle.seek(size - LOG_TAIL_BYTES)
        data = handle.read(LOG_TAIL_BYTES)
    return data.decode("utf-8", errors="replace"), size > LOG_TAIL_BYTES


def read_output(
    store: StateStore, state_dir: Path, run_id: str, node_id: str, try_number: int | None
) -> dict[str, Any]:
    """The output notebook of a try (default: the last one) as a Jupyter contents model."""
    attempt = _attempts(store, run_id, node_id, try_number)[-1]
    path = contained_file(state_dir, attempt.output_path)
    if path is None:
        raise NotFound(f"{node_id} try {attempt.try_number} in run {run_id} has no output notebook")
    try:
        content = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise NotFound(f"the output notebook of {node_id} try {attempt.try_number} is not readable yet: {exc}") from exc
    stat = path.stat()
    modified = isoformat(datetime.fromtimestamp(stat.st_mtime).astimezone())
    return {
        "name": path.name,
        "path": f"{run_id}/{path.name}",
        "type": "notebook",
        "format": "json",
        "mimetype": None,
        "content": content,
        "writable": False,
        "created": modified,
        "last_modified": modified,
        "size": stat.st_size,
        "run_id": run_id,
        "node_id": node_id,
        "try_number": attempt.try_number,
    }


def output_html(
    store: StateStore, state_dir: Path, run_id: str, node_id: str, try_number: int | None
) -> tuple[str, str]:
    """The output notebook of a try as one HTML page (nbconvert's ``lab`` template): (file name, HTML)."""
    import nbformat
    from nbconvert import HTMLExporter

    attempt = _attempts(store, run_id, node_id, try_number)[-1]
    path = contained_file(state_dir, attempt.output_path)
    if path is None:
        raise NotFound(f"{node_id} try {attempt.try_number} in run {run_id} has no output notebook")
    try:
        notebook = nbformat.read(path, as_version=4)
    except (OSError, ValueError) as exc:
        raise NotFound(f"the output notebook of {node_id} try {attempt.try_number} is not readable yet: {exc}") from exc
    html, _ = HTMLExporter(template_name="lab").from_notebook_node(notebook)
    return f"{path.stem}.html", html


def delete_runs(store: StateStore, state_dir: Path, run_ids: list[str]) -> dict[str, Any]:
    """Delete finished runs from the store, then their folders (logs and output notebooks) from disk.

    Running runs are kept (cancel them first); so are ids the store does not know. What is
    deleted is decided and deleted in one unit of work that locks the runs' rows, so a run
    a retry claims meanwhile is kept; only the folders of the runs deleted are removed.
    """
    with store.transaction() as tx:
        deleted = tx.delete_runs(run_ids)
        gone = set(deleted)
        kept = []
        for run_id in run_ids:
            if run_id in gone:
                continue
            try:
                tx.run_ownership(run_id)
            except RunNotFound:
                kept.append({"run_id": run_id, "reason": "no such run"})
            else:
                kept.append({"run_id": run_id, "reason": "still running; cancel it first"})
    runs_dir = (state_dir / "runs").resolve()
    for run_id in deleted:
        folder = (runs_dir / run_id).resolve()
        if folder.parent == runs_dir and folder.is_dir():  # a run id is one folder name, never a path
            shutil.rmtree(folder, ignore_errors=True)
    return {"deleted": deleted, "kept": kept}
