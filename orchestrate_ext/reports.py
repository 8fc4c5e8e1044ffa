"""JSON documents about runs, shared by the CLI and the REST API.

Two rules every view of a run follows, written once here:

- a run's duration is from its first start to its end (:func:`run_seconds`); a resumption
  (``orchestrate retry``, a takeover) never restarts it, and is noted beside it
  (``resumptions``);
- a failed node's cause is the first lines of its error (:func:`error_head`): dbt's node
  message (``Runtime Error in model …`` then ``Parser Error: syntax error at or near ","``),
  or, for a notebook, the cell and the Python exception.
"""

from __future__ import annotations

import textwrap
from datetime import datetime
from typing import Any

from orchestrate_ext.clock import isoformat
from orchestrate_ext.model import AttemptRecord, NodeRunRecord, NodeStatus, RunRecord
from orchestrate_ext.store import StoreTx
from orchestrate_ext.store.records import RunQuery

ERROR_LINES = 6
"""How many lines of a node's error the views show (the rest is in its log)."""


def error_head(error: str | None, limit: int = ERROR_LINES) -> list[str]:
    """The first ``limit`` lines of ``error`` that say something: blank lines dropped, the common indent removed."""
    if not error:
        return []
    lines = [line.rstrip() for line in textwrap.dedent(error.strip("\n")).splitlines()]
    return [line for line in lines if line.strip()][:limit]


def run_seconds(run: RunRecord, now: datetime | None = None) -> float | None:
    """How long ``run`` took: from its first start to its end (to ``now`` while it runs; None if unknown).

    A run that was resumed counts the time between its executions too: the one rule of the runs
    list, the run page, ``orchestrate runs``/``show`` and the API; views note ``resumptions`` beside it.
    """
    start = run.started_at
    end = run.finished_at if run.finished_at is not None else now
    if start is None or end is None:
        return None
    seconds = (end - start).total_seconds()
    return round(seconds, 3) if seconds >= 0 else None


def run_summary(run: RunRecord, warnings: int | None = None) -> dict[str, Any]:
    """A run's fields; ``warnings`` (the number of ``warned`` nodes) is included when given.

    ``left_out`` lists the nodes the run's selection chose but left out, ``{"id", "reason"}`` each, by id.
    ``duration_seconds`` follows :func:`run_seconds` (None until the run ends).
    """
    summary: dict[str, Any] = {
        "run_id": run.run_id,
        "status": run.status.value,
        "trigger": run.trigger,
        "schedule": run.schedule,
        "selection": run.selection,
        "logical_date": isoformat(run.logical_date),
        "created_at": isoformat(run.created_at),
        "started_at": isoformat(run.started_at),
        "finished_at": isoformat(run.finished_at),
        "duration_seconds": run_seconds(run) if run.finished_at is not None else None,
        "parameters": dict(run.parameters),
        "resumed_at": isoformat(run.resumed_at),
        "resumptions": run.resumptions,
        "only_changed": run.only_changed,
        "left_out": [{"id": node_id, "reason": reason} for node_id, reason in sorted(run.left_out.items())],
    }
    if warnings is not None:
        summary["warnings"] = warnings
    return summary


def node_summary(state: NodeRunRecord) -> dict[str, Any]:
    return {
        "id": state.node_id,
        "kind": state.kind,
        "status": state.status.value,
        "attempts": state.attempts,
        "started_at": isoformat(state.started_at),
        "finished_at": isoformat(state.finished_at),
        "error": state.error,
        "error_lines": error_head(state.error),
        "waiting_for": state.waiting_for,
        "reused_from": state.reused_from,
        "reason": state.reason,
        "fingerprint": state.fingerprint,
    }


def attempt_summary(attempt: AttemptRecord) -> dict[str, Any]:
    return {
        "node_id": attempt.node_id,
        "try_number": attempt.try_number,
        "status": attempt.status.value,
        "started_at": isoformat(attempt.started_at),
        "finished_at": isoformat(attempt.finished_at),
        "error": attempt.error,
        "error_lines": error_head(attempt.error),
        "log_path": attempt.log_path,
        "output_path": attempt.output_path,
        "worker": attempt.worker,
    }


def run_document(tx: StoreTx, run_id: str, *, with_attempts: bool = False) -> dict[str, Any]:
    """A run with each of its nodes (and, optionally, every attempt)."""
    states = tx.node_states(run_id)
    warned = sum(1 for state in states if state.status == NodeStatus.WARNED)
    document = run_summary(tx.get_run(run_id), warnings=warned)
    document["nodes"] = [node_summary(state) for state in states]
    if with_attempts:
        document["attempts"] = [attempt_summary(attempt) for attempt in tx.attempts(run_id)]
    return document


def runs_document(tx: StoreTx, query: RunQuery) -> list[dict[str, Any]]:
    """The runs ``query`` selects, newest first, each with its number of ``warned`` nodes."""
    runs = tx.find_runs(query)
    counts = tx.node_counts([run.run_id for run in runs])
    return [run_summary(run, warnings=counts.get(run.run_id, {}).get(NodeStatus.WARNED.value, 0)) for run in runs]
