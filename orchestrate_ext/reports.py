"""JSON documents about runs, shared by the CLI and the REST API."""

from __future__ import annotations

from typing import Any

from orchestrate_ext.clock import isoformat
from orchestrate_ext.model import AttemptRecord, NodeRunRecord, RunRecord
from orchestrate_ext.store import StateStore


def run_summary(run: RunRecord) -> dict[str, Any]:
    return {
        "run_id": run.run_id,
        "status": run.status.value,
        "trigger": run.trigger,
        "schedule": run.schedule,
        "selection": run.selection,
        "logical_date": isoformat(run.logical_date),
        "created_at": isoformat(run.created_at),
        "started_at": isoformat(run.started_at),
        "finished_at": isoformat(run.finished_at),
    }


def node_summary(state: NodeRunRecord) -> dict[str, Any]:
    return {
        "id": state.node_id,
        "kind": state.kind,
        "status": state.status.value,
        "attempts": state.attempts,
        "started_at": isoformat(state.started_at),
        "finished_at": isoformat(state.finished_at),
        "error": state.error,
    }


def attempt_summary(attempt: AttemptRecord) -> dict[str, Any]:
    return {
        "node_id": attempt.node_id,
        "try_number": attempt.try_number,
        "status": attempt.status.value,
        "started_at": isoformat(attempt.started_at),
        "finished_at": isoformat(attempt.finished_at),
        "error": attempt.error,
        "log_path": attempt.log_path,
        "output_path": attempt.output_path,
    }


def run_document(store: StateStore, run_id: str, *, with_attempts: bool = False) -> dict[str, Any]:
    """A run with each of its nodes (and, optionally, every attempt)."""
    document = run_summary(store.get_run(run_id))
    document["nodes"] = [node_summary(state) for state in store.get_node_states(run_id)]
    if with_attempts:
        document["attempts"] = [attempt_summary(attempt) for attempt in store.get_attempts(run_id)]
    return document


def runs_document(store: StateStore, limit: int = 50) -> list[dict[str, Any]]:
    """The newest runs first."""
    return [run_summary(run) for run in store.list_runs(limit)]
