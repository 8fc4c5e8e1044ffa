"""One-line reads (and a few writes) of a state store, for tests."""

from __future__ import annotations

from typing import Any

from orchestrate_ext.model import AttemptRecord, NodeRunRecord, RunRecord, RunStatus
from orchestrate_ext.store import StateStore
from orchestrate_ext.store.records import RunQuery, ScheduleState, TickRecord


def run_of(store: StateStore, run_id: str) -> RunRecord:
    with store.read() as tx:
        return tx.get_run(run_id)


def runs_of(store: StateStore, **query: Any) -> list[RunRecord]:
    with store.read() as tx:
        return tx.find_runs(RunQuery(**query))


def node_states_of(store: StateStore, run_id: str) -> list[NodeRunRecord]:
    with store.read() as tx:
        return tx.node_states(run_id)


def statuses_of(store: StateStore, run_id: str) -> dict[str, str]:
    return {state.node_id: state.status.value for state in node_states_of(store, run_id)}


def attempts_of(store: StateStore, run_id: str, node_id: str | None = None) -> list[AttemptRecord]:
    with store.read() as tx:
        return tx.attempts(run_id, node_id)


def ticks_of(store: StateStore, schedule: str | None = None, limit: int = 50) -> list[TickRecord]:
    with store.read() as tx:
        return tx.list_ticks(schedule, limit)


def schedule_states_of(store: StateStore) -> dict[str, ScheduleState]:
    with store.read() as tx:
        return tx.schedule_states()


def pending_ticks_of(store: StateStore) -> list[TickRecord]:
    with store.read() as tx:
        return tx.pending_ticks()


def close_run(store: StateStore, run_id: str, status: RunStatus, owner: str = "test") -> None:
    """End a run as if an execution had: claim it and finish it with ``status``."""
    now = run_of(store, run_id).created_at
    with store.transaction() as tx:
        epoch = tx.claim_run(run_id, owner, now)
        tx.finish_run(run_id, status, epoch or 0, now)
