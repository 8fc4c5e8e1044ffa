"""Write a run's history into a store the way an execution does (claim, tries, node states), for view tests."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from orchestrate_ext.model import AttemptRecord, AttemptStatus, NodeRunRecord, NodeStatus, RunRecord, RunStatus
from orchestrate_ext.store import StateStore


@dataclass(frozen=True)
class Step:
    """One node of a recorded run: its final (or current) status, and how its tries went."""

    node_id: str
    status: NodeStatus = NodeStatus.SUCCESS
    error: str | None = None
    tries: int = 1
    seconds: float = 1.5
    kind: str = "dbt"
    waiting_for: str | None = None
    output: bool = False


_ENDING = {
    NodeStatus.SUCCESS: AttemptStatus.SUCCESS,
    NodeStatus.WARNED: AttemptStatus.SUCCESS,
    NodeStatus.FAILED: AttemptStatus.FAILED,
    NodeStatus.CANCELLED: AttemptStatus.CANCELLED,
}


def record_run(
    store: StateStore,
    run_id: str,
    at: datetime,
    steps: Sequence[Step],
    *,
    status: RunStatus | None = None,
    schedule: str | None = None,
    trigger: str = "manual",
    logs: Path | None = None,
    heartbeat: datetime | None = None,
) -> RunRecord:
    """Record a run created at ``at`` whose node ``n`` starts ``n`` seconds later.

    ``status`` None: failed when a node failed, else success; ``RUNNING`` leaves it going.
    Log files (one line each) are written under ``logs`` when given.
    """
    run = RunRecord(run_id, RunStatus.RUNNING, at, at, trigger=trigger, schedule=schedule)
    with store.transaction() as tx:
        tx.insert_run(run, [NodeRunRecord(run_id, step.node_id, step.kind, NodeStatus.PENDING) for step in steps])
        epoch = tx.claim_run(run_id, "test-owner", at) or 0
        tx.mark_run_started(run_id, epoch, at)
        if heartbeat is not None:
            tx.beat(run_id, epoch, heartbeat)
    end = at
    for number, step in enumerate(steps):
        start = at + timedelta(seconds=number)
        end = max(end, _play(store, run_id, epoch, step, start, logs))
    final = status or (RunStatus.FAILED if any(s.status == NodeStatus.FAILED for s in steps) else RunStatus.SUCCESS)
    if final != RunStatus.RUNNING:
        with store.transaction() as tx:
            tx.finish_run(run_id, final, epoch, end)
    with store.read() as tx:
        return tx.get_run(run_id)


def _play(store: StateStore, run_id: str, epoch: int, step: Step, start: datetime, logs: Path | None) -> datetime:
    if step.status in (NodeStatus.PENDING, NodeStatus.QUEUED, NodeStatus.WAITING, NodeStatus.UPSTREAM_FAILED):
        error = step.error or ("upstream failed" if step.status == NodeStatus.UPSTREAM_FAILED else None)
        with store.transaction() as tx:
            tx.set_node_state(
                NodeRunRecord(run_id, step.node_id, step.kind, step.status, error=error, waiting_for=step.waiting_for),
                0,
                epoch,
            )
        return start
    moment = start
    for try_number in range(1, step.tries + 1):
        last = try_number == step.tries
        log_path = None
        if logs is not None:
            log_path = logs / f"{step.node_id.replace('/', '__')}.{try_number}.log"
            log_path.parent.mkdir(parents=True, exist_ok=True)
            log_path.write_text(f"log of {step.node_id} try {try_number}\n", encoding="utf-8")
        output = str(logs / f"{step.node_id}.try{try_number}.ipynb") if step.output and logs else None
        running = AttemptRecord(
            run_id,
            step.node_id,
            try_number,
            AttemptStatus.RUNNING,
            moment,
            log_path=str(log_path) if log_path else None,
            output_path=output,
        )
        with store.transaction() as tx:
            tx.start_attempt(
                running,
                NodeRunRecord(run_id, step.node_id, step.kind, NodeStatus.RUNNING, started_at=moment),
                epoch,
                host="test",
                pid=1,
            )
        if last and step.status == NodeStatus.RUNNING:
            return moment
        finished = moment + timedelta(seconds=step.seconds)
        ending = _ENDING.get(step.status, AttemptStatus.SUCCESS) if last else AttemptStatus.FAILED
        error = step.error if (last or step.status == NodeStatus.FAILED) else "failed before a retry"
        node_status = step.status if last else NodeStatus.UP_FOR_RETRY
        if last and step.status == NodeStatus.UP_FOR_RETRY:
            ending = AttemptStatus.FAILED
        with store.transaction() as tx:
            tx.finish_attempt(
                AttemptRecord(run_id, step.node_id, try_number, ending, moment, finished, error, output_path=output),
                NodeRunRecord(run_id, step.node_id, step.kind, node_status, try_number, moment, finished, error),
                epoch,
            )
        moment = finished
    return moment
