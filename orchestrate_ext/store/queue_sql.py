"""The run queue: queued runs admitted one compare-and-set at a time (see :mod:`orchestrate_ext.execution.coordinator`).

A run is written ``queued`` with its priority and the schedule whose
``max_active_runs`` it counts against (``limit_key``, ``max_active``); whoever
waits for it (the process that created it) keeps its heartbeat fresh. One
:meth:`QueueStatements.admit_run` decides, inside one unit of work that is
serialized across processes (:meth:`~orchestrate_ext.store.sql.Sql.serialize`:
a transaction-level advisory lock on PostgreSQL; SQLite's one writer), whether
the run may start now and, if so, makes it ``running`` in the same unit of work.
So two processes can never both take the last free slot.

The rules, in order: fewer than ``max_runs`` runs are ``running``; fewer than
``max_active`` runs of its ``limit_key`` are ``running``; and no queued run
whose waiter is alive comes first (higher priority, or the same and older) that
would take the free slot. A queued run whose waiter stopped beating for
``stale_after`` seconds does not hold back the others; nor does a ``running``
run whose process stopped beating that long (it died: crash recovery closes it).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from orchestrate_ext.errors import RunNotFound
from orchestrate_ext.model import NodeStatus, RunStatus
from orchestrate_ext.store.runs_sql import RunStatements
from orchestrate_ext.store.sql import one, rows

_SERIAL_KEY = "run-queue"
_AHEAD_LIMIT = 500
"""Queued runs ahead of one that one admission looks at."""
_QUEUED_CANCEL = "the run was cancelled while queued"


@dataclass(frozen=True, slots=True)
class Admission:
    """What :meth:`QueueStatements.admit_run` decided.

    Attributes:
        status: the run's status after the decision (``running`` when admitted now or before).
        admitted: the run was made ``running`` by this call.
        behind: the run it waits for (a running one holding the slot, or a queued one ahead of it).
        reason: the limit that holds it back (``max_runs: 1``, ``max_active_runs: 1 of schedule 'daily'``).
    """

    status: RunStatus
    admitted: bool = False
    behind: str | None = None
    reason: str | None = None


class QueueStatements(RunStatements):
    """Queueing, admitting and cancelling queued runs on one transaction."""

    def enqueue(
        self, run_id: str, *, priority: int, limit_key: str | None, max_active: int | None, owner: str, now: datetime
    ) -> None:
        """Give a just-inserted ``queued`` run its place in the queue, waited for by ``owner``."""
        self.sql.execute(
            "UPDATE runs SET priority = ?, limit_key = ?, max_active = ?, owner = ?, heartbeat_at = ? "
            "WHERE run_id = ? AND status = ?",
            (priority, limit_key, max_active, owner, self.sql.time(now), run_id, RunStatus.QUEUED.value),
        )

    def admit_run(
        self, run_id: str, owner: str, now: datetime, *, max_runs: int | None, stale_after: float = 30.0
    ) -> Admission:
        """Start the queued run ``run_id`` if the limits allow it now (see the module docstring)."""
        sql = self.sql
        sql.serialize(_SERIAL_KEY)
        me = one(
            sql,
            "SELECT status, priority, created_at, limit_key, max_active FROM runs WHERE run_id = ?",
            (run_id,),
        )
        if me is None:
            raise RunNotFound(run_id)
        status = RunStatus(me[0])
        if status != RunStatus.QUEUED:
            return Admission(status)
        priority, created_at, key, max_active = int(me[1]), me[2], me[3], me[4]
        sql.execute("UPDATE runs SET heartbeat_at = ?, owner = ? WHERE run_id = ?", (sql.time(now), owner, run_id))
        fresh = sql.time(now - timedelta(seconds=stale_after))
        running: dict[str | None, list[str]] = {}
        for row in rows(
            sql,
            "SELECT COALESCE(limit_key, schedule), run_id FROM runs WHERE status = ? AND heartbeat_at >= ? "
            "ORDER BY created_at, run_id",
            (RunStatus.RUNNING.value, fresh),
        ):
            running.setdefault(row[0], []).append(row[1])
        total = sum(len(ids) for ids in running.values())
        if max_runs is not None and total >= max_runs:
            oldest = min((ids[0] for ids in running.values()), default=None)
            return Admission(status, behind=oldest, reason=f"max_runs: {max_runs}")
        if key is not None and max_active is not None and len(running.get(key, [])) >= int(max_active):
            return Admission(
                status, behind=running[key][0], reason=f"max_active_runs: {max_active} of schedule '{key}'"
            )
        ahead = rows(
            sql,
            "SELECT run_id, limit_key, max_active FROM runs WHERE status = ? AND heartbeat_at >= ? "
            "AND (priority > ? OR (priority = ? AND (created_at < ? OR (created_at = ? AND run_id < ?)))) "
            "ORDER BY priority DESC, created_at, run_id LIMIT ?",
            (
                RunStatus.QUEUED.value,
                fresh,
                priority,
                priority,
                created_at,
                created_at,
                run_id,
                _AHEAD_LIMIT,
            ),
        )
        slots = None if max_runs is None else max_runs - total
        taken = {name: len(ids) for name, ids in running.items()}
        for other_id, other_key, other_max in ahead:  # the runs that would be admitted before this one
            if other_key is not None and other_max is not None and taken.get(other_key, 0) >= int(other_max):
                continue  # held back by its own schedule's limit: it takes no slot
            taken[other_key] = taken.get(other_key, 0) + 1
            if slots is not None:
                slots -= 1
                if slots <= 0:
                    return Admission(status, behind=other_id, reason=f"max_runs: {max_runs}")
            if key is not None and other_key == key and max_active is not None and taken[key] >= int(max_active):
                return Admission(status, behind=other_id, reason=f"max_active_runs: {max_active} of schedule '{key}'")
        cursor = sql.execute(
            "UPDATE runs SET status = ?, owner = ?, heartbeat_at = ? WHERE run_id = ? AND status = ?",
            (RunStatus.RUNNING.value, owner, sql.time(now), run_id, RunStatus.QUEUED.value),
        )
        if cursor.rowcount != 1:
            return Admission(status)
        return Admission(RunStatus.RUNNING, admitted=True)

    def cancel_queued(self, run_id: str, now: datetime) -> bool:
        """Cancel a run that is still queued (its nodes too); False when it is not queued (any more)."""
        sql = self.sql
        cursor = sql.execute(
            "UPDATE runs SET status = ?, finished_at = ?, cancel_requested_at = COALESCE(cancel_requested_at, ?) "
            "WHERE run_id = ? AND status = ?",
            (RunStatus.CANCELLED.value, sql.time(now), sql.time(now), run_id, RunStatus.QUEUED.value),
        )
        if cursor.rowcount != 1:
            return False
        final = (NodeStatus.CANCELLED.value, sql.time(now), _QUEUED_CANCEL, run_id, NodeStatus.PENDING.value)
        sql.execute(
            "UPDATE run_nodes SET status = ?, finished_at = ?, error = ? WHERE run_id = ? AND status = ?", final
        )
        sql.execute(
            "UPDATE node_latest SET status = ?, finished_at = ?, error = ? WHERE run_id = ? AND status = ?", final
        )
        return True

    def queued_runs(self) -> list[str]:
        """The queued runs, in the order the coordinator would start them."""
        found = rows(
            self.sql,
            "SELECT run_id FROM runs WHERE status = ? ORDER BY priority DESC, created_at, run_id",
            (RunStatus.QUEUED.value,),
        )
        return [row[0] for row in found]
