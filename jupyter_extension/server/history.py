"""Reading the run history for the API: run lists, run detail, freshness, logs, output notebooks.

Everything is a query of the state store (filters, pages and each node's
latest state are answered in SQL, never by loading runs into Python) and
comes out as the CLI's JSON documents (:mod:`orchestrate_ext.reports`), so
the API and ``orchestrate show --json`` describe a run alike.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from jupyter_extension.server.errors import NotFound
from jupyter_extension.server.paths import contained_file
from orchestrate_ext.clock import isoformat
from orchestrate_ext.errors import BadInput, NodeNotFound, did_you_mean
from orchestrate_ext.model import AttemptRecord, RunStatus
from orchestrate_ext.reports import run_document, run_summary
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
    """A page of runs, newest first, with the number of runs that match."""
    if not 1 <= limit <= 500:
        raise BadInput(f"limit {limit} is out of range; use 1 to 500")
    if offset < 0:
        raise BadInput(f"offset {offset} is negative")
    query = run_filter.query(limit, offset)
    with store.read() as tx:
        runs = tx.find_runs(query)
        total = tx.count_runs(query)
    return {"runs": [run_summary(run) for run in runs], "total": total, "limit": limit, "offset": offset}


def _seconds(start: datetime | None, end: datetime | None) -> float | None:
    return None if start is None or end is None else round((end - start).total_seconds(), 3)


def run_detail(store: StateStore, state_dir: Path, run_id: str) -> dict[str, Any]:
    """``orchestrate show --json`` plus durations and whether each attempt has a log and an output."""
    with store.read() as tx:
        document = run_document(tx, run_id, with_attempts=True)
    document["duration_seconds"] = _duration(document["started_at"], document["finished_at"])
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
    return _seconds(datetime.fromisoformat(start), datetime.fromisoformat(end))


def latest_by_node(store: StateStore) -> dict[str, dict[str, Any]]:
    """By node id: ``last_status``, ``last_run_id``, ``last_finished_at``, ``last_success_at`` (one query)."""
    with store.read() as tx:
        latest = tx.latest_node_states()
    return {
        node_id: {
            "id": node_id,
            "last_status": entry.status.value,
            "last_run_id": entry.run_id,
            "last_finished_at": isoformat(entry.finished_at),
            "last_success_at": isoformat(entry.last_success_at),
            "last_success_run_id": entry.last_success_run_id,
        }
        for node_id, entry in latest.items()
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
