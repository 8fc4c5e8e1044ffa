"""Run history written straight into a project's store, for views that must show a given state.

A run in the middle of a retry, a node up for retry, a log with colour codes:
states a real run passes through too quickly (or too rarely) to be checked on.
Written through the store's own interface, as the executor writes them.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Try:
    """One try of a node in a seeded run; times are seconds relative to now (negative: in the past)."""

    status: str
    start: float
    end: float | None = None
    error: str | None = None
    log: str | None = None
    output_of: str | None = None
    """A notebook of the project to store as this try's output notebook."""


@dataclass(frozen=True)
class Seeded:
    node_id: str
    status: str
    tries: tuple[Try, ...] = ()
    kind: str = "notebook"


def seed_run(
    lab: Any,
    status: str,
    nodes: list[Seeded],
    *,
    start: float = -120.0,
    end: float | None = -60.0,
    interrupted: float | None = None,
    resumed: float | None = None,
    logical: float = -3600.0,
    trigger: str = "manual",
    selection: str | None = None,
    schedule: str | None = None,
    parameters: dict[str, Any] | None = None,
    left_out: dict[str, str] | None = None,
) -> str:
    """Write a run with these nodes and tries into the store (what a scheduler or a retry would leave).

    Times are seconds relative to now. ``interrupted`` and ``resumed``: the run's first execution ended
    then, and it was resumed (a retry) later; with ``status="running"`` the retry is going on.
    ``left_out``: the nodes the run's selection chose but left out, with why (as a trigger records them).
    ``lab`` is the project folder, or anything with a ``root`` folder (the e2e ``Lab``).
    """
    import secrets as _secrets
    from datetime import UTC, datetime, timedelta

    from orchestrate_ext.model import NodeRunRecord, NodeStatus, RunRecord, RunStatus
    from orchestrate_ext.project import Project

    now = datetime.now(UTC).replace(microsecond=0)

    def at(seconds: float) -> datetime:
        return now + timedelta(seconds=seconds)

    root = lab if isinstance(lab, Path) else Path(lab.root)
    project = Project.load(root)
    store = project.open_store()
    run_id = at(start).strftime("%Y%m%dT%H%M%S") + "-" + _secrets.token_hex(5)
    run_dir = project.config.workspace.state_dir / "runs" / run_id
    run = RunRecord(
        run_id=run_id,
        status=RunStatus.RUNNING,
        created_at=at(start),
        logical_date=at(logical),
        trigger=trigger,
        selection=selection,
        schedule=schedule,
        parameters=dict(parameters or {}),
        left_out=dict(left_out or {}),
    )
    try:
        with store.transaction() as tx:
            tx.insert_run(run, [NodeRunRecord(run_id, node.node_id, node.kind, NodeStatus.PENDING) for node in nodes])
            epoch = tx.claim_run(run_id, "seeded-by-a-test", at(start))
            assert epoch is not None
            tx.mark_run_started(run_id, epoch, at(start))
            if resumed is not None:
                tx.finish_run(run_id, RunStatus.FAILED, epoch, at(interrupted if interrupted is not None else start))
                tx.mark_run_started(run_id, epoch, at(resumed))
            for node in nodes:
                _seed_node(tx, epoch, run_id, run_dir, root, node, at)
            if status != "running":
                tx.finish_run(run_id, RunStatus(status), epoch, at(end if end is not None else 0))
    finally:
        store.close()
    return run_id


def _seed_node(tx: Any, epoch: int, run_id: str, run_dir: Path, root: Path, node: Seeded, at: Any) -> None:
    from orchestrate_ext.model import AttemptRecord, AttemptStatus, NodeRunRecord, NodeStatus

    for number, attempt in enumerate(node.tries, start=1):
        log_path = output_path = None
        if attempt.log is not None:
            log_file = run_dir / "logs" / f"{node.node_id.replace('/', '__')}.{number}.log"
            log_file.parent.mkdir(parents=True, exist_ok=True)
            log_file.write_text(attempt.log, encoding="utf-8")
            log_path = str(log_file)
        if attempt.output_of is not None:
            output = run_dir / "outputs" / f"{Path(attempt.output_of).stem}.try{number}.ipynb"
            output.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(root / attempt.output_of, output)
            output_path = str(output)
        started = AttemptRecord(
            run_id,
            node.node_id,
            number,
            AttemptStatus.RUNNING,
            at(attempt.start),
            log_path=log_path,
            output_path=output_path,
        )
        running = NodeRunRecord(run_id, node.node_id, node.kind, NodeStatus.RUNNING, started_at=at(node.tries[0].start))
        assert tx.start_attempt(started, running, epoch, host="localhost", pid=1)
        if attempt.status != "running":
            end = at(attempt.end if attempt.end is not None else attempt.start)
            finished = AttemptRecord(
                run_id,
                node.node_id,
                number,
                AttemptStatus(attempt.status),
                at(attempt.start),
                end,
                attempt.error,
                log_path,
                output_path,
            )
            assert tx.finish_attempt(finished, running, epoch)
    last = node.tries[-1] if node.tries else None
    error = next((item.error for item in reversed(node.tries) if item.error), None)
    state = NodeRunRecord(
        run_id,
        node.node_id,
        node.kind,
        NodeStatus(node.status),
        started_at=at(node.tries[0].start) if node.tries else None,
        finished_at=at(last.end) if last is not None and last.end is not None else None,
        error=error,
    )
    tx.set_node_state(state, len(node.tries), epoch)


def seed_ticks(lab: Any, schedule: str, ticks: list[tuple[float, str, str | None]], node_id: str) -> list[str]:
    """Record ticks of ``schedule`` as a scheduler would: ``(seconds from now, status, reason)`` each.

    A ``ran`` tick gets a successful run of ``node_id`` (created with the tick); ``skipped`` and
    ``deduplicated`` ones keep their reason. Returns the ids of the runs created.
    """
    import secrets as _secrets
    from datetime import UTC, datetime, timedelta

    from orchestrate_ext.model import NodeRunRecord, NodeStatus, RunRecord, RunStatus
    from orchestrate_ext.project import Project
    from orchestrate_ext.store.records import NewTick, TickStatus, Trigger

    now = datetime.now(UTC).replace(microsecond=0)
    root = lab if isinstance(lab, Path) else Path(lab.root)
    store = Project.load(root).open_store()
    runs: list[str] = []
    try:
        with store.transaction() as tx:
            for offset, status, reason in ticks:
                moment = now + timedelta(seconds=offset)
                tick = NewTick(schedule, moment, Trigger.CRON, f"cron@{moment.isoformat()}")
                if status != "ran":
                    duplicate = reason if status == "deduplicated" else None
                    closed = NewTick(
                        tick.schedule,
                        tick.scheduled_at,
                        tick.trigger,
                        tick.key,
                        TickStatus(status),
                        reason if status == "skipped" else "a run of this date is going on",
                        duplicate,
                    )
                    tx.record_ticks([(schedule, [closed], None)], None, now)
                    continue
                run_id = moment.strftime("%Y%m%dT%H%M%S") + "-" + _secrets.token_hex(5)
                run = RunRecord(run_id, RunStatus.RUNNING, moment, moment, trigger="cron", schedule=schedule)
                nodes = [NodeRunRecord(run_id, node_id, "notebook", NodeStatus.PENDING)]
                tx.create_tick_run(tick, run, nodes, owner="seeded-by-a-test", fence=None, now=moment)
                epoch = tx.run_ownership(run_id).epoch
                tx.mark_run_started(run_id, epoch, moment)
                tx.set_node_state(NodeRunRecord(run_id, node_id, "notebook", NodeStatus.SUCCESS), 0, epoch)
                tx.finish_run(run_id, RunStatus.SUCCESS, epoch, moment + timedelta(seconds=20))
                runs.append(run_id)
    finally:
        store.close()
    return runs
