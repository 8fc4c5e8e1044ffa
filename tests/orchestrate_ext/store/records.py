"""Small records for the store contract tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from orchestrate_ext.model import AttemptRecord, AttemptStatus, NodeRunRecord, NodeStatus, RunRecord, RunStatus
from orchestrate_ext.store import StateStore
from orchestrate_ext.store.records import NewTick, Trigger

T0 = datetime(2024, 1, 31, 6, 0, tzinfo=UTC)


def make_run(
    run_id: str = "r1", created: datetime = T0, *, schedule: str | None = None, logical: int = 0, **fields: object
) -> RunRecord:
    return RunRecord(
        run_id=run_id,
        status=RunStatus.RUNNING,
        created_at=created,
        logical_date=T0 + timedelta(minutes=logical),
        schedule=schedule,
        **fields,  # type: ignore[arg-type]
    )


def pending(run_id: str, node_id: str, kind: str = "dbt") -> NodeRunRecord:
    return NodeRunRecord(run_id, node_id, kind, NodeStatus.PENDING)


def insert(store: StateStore, run: RunRecord, *node_ids: str) -> RunRecord:
    with store.transaction() as tx:
        tx.insert_run(run, [pending(run.run_id, node_id) for node_id in node_ids])
    return run


def claim(store: StateStore, run_id: str, owner: str = "me", *, at: datetime = T0) -> int:
    with store.transaction() as tx:
        epoch = tx.claim_run(run_id, owner, at)
    assert epoch is not None
    return epoch


def attempt(run_id: str, node_id: str, try_number: int, status: AttemptStatus, **fields: object) -> AttemptRecord:
    return AttemptRecord(run_id, node_id, try_number, status, started_at=T0, **fields)  # type: ignore[arg-type]


def node(run_id: str, node_id: str, status: NodeStatus, **fields: object) -> NodeRunRecord:
    return NodeRunRecord(run_id, node_id, "dbt", status, **fields)  # type: ignore[arg-type]


def tick(name: str, minute: int, key: str | None = None, **fields: object) -> NewTick:
    moment = T0 + timedelta(minutes=minute)
    return NewTick(name, moment, Trigger.CRON, key or f"cron@{moment.isoformat()}", **fields)  # type: ignore[arg-type]
