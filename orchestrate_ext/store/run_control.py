"""Claims, fenced writes, heartbeats and cancel requests on the runs tables.

The runs component (:mod:`orchestrate_ext.store.sqlite`, migration 2) has the
columns; this module holds the statements that use them, so that the
scheduler, crash recovery and the executor agree on one protocol:

* Executing a run starts by *claiming* it: ``owner`` becomes the executing
  process and ``epoch`` goes up by one. Every later write of that execution
  names the epoch it got and is refused once somebody else has claimed the
  run since, so a process that was presumed dead cannot overwrite anything.
* Writes of one node are also fenced on the attempt number: a node state or
  attempt of try N is refused once an attempt N+1 exists.
* ``cancel_requested_at`` is set by any process (``orchestrate cancel``, the
  JupyterLab panel); the executing process polls it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from orchestrate_ext.errors import RunNotFound
from orchestrate_ext.model import AttemptRecord, AttemptStatus, NodeRunRecord, RunStatus
from orchestrate_ext.store import SQLiteStore
from orchestrate_ext.store.database import text_time as _time
from orchestrate_ext.store.database import time_text as _text
from orchestrate_ext.store.sqlite import close_running_attempt, insert_attempt


@dataclass(frozen=True, slots=True)
class RunOwnership:
    """Who executes a run that is not finished, as the runs table says."""

    run_id: str
    schedule: str | None
    trigger: str
    owner: str | None
    epoch: int
    created_at: datetime
    heartbeat_at: datetime | None
    cancel_requested_at: datetime | None


class SQLiteRunControl:
    """The claim/fence protocol over a :class:`SQLiteStore`'s tables."""

    def __init__(self, store: SQLiteStore) -> None:
        self.store = store
        self.database = store.database

    # -- claiming

    def claim(self, run_id: str, owner: str, now: datetime) -> int:
        """Make ``owner`` the executor of ``run_id``; returns the new epoch."""
        with self.database.transaction() as db:
            return self.claim_in(db, run_id, owner, now)

    @staticmethod
    def claim_in(db: sqlite3.Connection, run_id: str, owner: str, now: datetime) -> int:
        """:meth:`claim` inside the caller's transaction.

        A cancel request is kept while the run is unfinished (a recovering process honours it) and
        dropped when a finished run is executed again (``orchestrate retry``).
        """
        row = db.execute(
            "UPDATE runs SET owner = ?, epoch = epoch + 1, heartbeat_at = ?, "
            "cancel_requested_at = CASE WHEN status = 'running' THEN cancel_requested_at END "
            "WHERE run_id = ? RETURNING epoch",
            (owner, _text(now), run_id),
        ).fetchone()
        if row is None:
            raise RunNotFound(run_id)
        return int(row[0])

    @staticmethod
    def _holds(db: sqlite3.Connection, run_id: str, epoch: int) -> bool:
        row = db.execute("SELECT epoch FROM runs WHERE run_id = ?", (run_id,)).fetchone()
        return row is not None and row[0] == epoch

    def beat(self, run_id: str, epoch: int, now: datetime) -> bool:
        """Record that the owner lives; False when the claim was lost."""
        with self.database.transaction() as db:
            cursor = db.execute(
                "UPDATE runs SET heartbeat_at = ? WHERE run_id = ? AND epoch = ?", (_text(now), run_id, epoch)
            )
            return cursor.rowcount == 1

    # -- fenced writes

    def set_node_state(self, state: NodeRunRecord, try_number: int, epoch: int) -> bool:
        with self.database.transaction() as db:
            return self._holds(db, state.run_id, epoch) and self._write_node(db, state, try_number)

    def start_attempt(self, attempt: AttemptRecord, state: NodeRunRecord, epoch: int, host: str, pid: int) -> bool:
        with self.database.transaction() as db:
            if not self._holds(db, attempt.run_id, epoch) or self._newest_try(db, attempt) >= attempt.try_number:
                return False
            insert_attempt(db, attempt, epoch=epoch, host=host, pid=pid)
            return self._write_node(db, state, attempt.try_number)

    def finish_attempt(self, attempt: AttemptRecord, state: NodeRunRecord, epoch: int) -> bool:
        with self.database.transaction() as db:
            if not self._holds(db, attempt.run_id, epoch) or self._newest_try(db, attempt) > attempt.try_number:
                return False
            return close_running_attempt(db, attempt) and self._write_node(db, state, attempt.try_number)

    def set_run_status(
        self,
        run_id: str,
        status: RunStatus,
        epoch: int,
        *,
        started_at: datetime | None = None,
        finished_at: datetime | None = None,
    ) -> bool:
        with self.database.transaction() as db:
            cursor = db.execute(
                "UPDATE runs SET status = ?, started_at = COALESCE(?, started_at), "
                "finished_at = COALESCE(?, finished_at) WHERE run_id = ? AND epoch = ?",
                (status.value, _text(started_at), _text(finished_at), run_id, epoch),
            )
            return cursor.rowcount == 1

    @staticmethod
    def _newest_try(db: sqlite3.Connection, attempt: AttemptRecord) -> int:
        row = db.execute(
            "SELECT COALESCE(MAX(try_number), 0) FROM attempts WHERE run_id = ? AND node_id = ?",
            (attempt.run_id, attempt.node_id),
        ).fetchone()
        return int(row[0])

    @staticmethod
    def _write_node(db: sqlite3.Connection, state: NodeRunRecord, try_number: int) -> bool:
        cursor = db.execute(
            "INSERT INTO run_nodes (run_id, node_id, kind, status, started_at, finished_at, error, try_number) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (run_id, node_id) DO UPDATE SET "
            "status = excluded.status, started_at = excluded.started_at, finished_at = excluded.finished_at, "
            "error = excluded.error, try_number = excluded.try_number "
            "WHERE excluded.try_number >= (SELECT COALESCE(MAX(a.try_number), 0) FROM attempts a "
            "WHERE a.run_id = excluded.run_id AND a.node_id = excluded.node_id)",
            (
                state.run_id,
                state.node_id,
                state.kind,
                state.status.value,
                _text(state.started_at),
                _text(state.finished_at),
                state.error,
                try_number,
            ),
        )
        return cursor.rowcount == 1

    # -- cancellation

    def request_cancel(self, run_id: str, now: datetime) -> RunStatus:
        """Ask whoever executes ``run_id`` to cancel it; returns the run's status at that moment."""
        with self.database.transaction() as db:
            row = db.execute("SELECT status FROM runs WHERE run_id = ?", (run_id,)).fetchone()
            if row is None:
                raise RunNotFound(run_id)
            if row[0] == RunStatus.RUNNING.value:
                db.execute(
                    "UPDATE runs SET cancel_requested_at = COALESCE(cancel_requested_at, ?) WHERE run_id = ?",
                    (_text(now), run_id),
                )
            return RunStatus(row[0])

    def cancel_requested(self, run_id: str) -> bool:
        rows = self.database.query("SELECT cancel_requested_at FROM runs WHERE run_id = ?", (run_id,))
        return bool(rows and rows[0][0])

    # -- reading

    def unfinished_runs(self) -> list[RunOwnership]:
        """Every run whose status is still ``running``, oldest first."""
        rows = self.database.query(
            "SELECT run_id, schedule, trigger, owner, epoch, created_at, heartbeat_at, cancel_requested_at "
            "FROM runs WHERE status = ? ORDER BY created_at, run_id",
            (RunStatus.RUNNING.value,),
        )
        return [
            RunOwnership(
                run_id=row[0],
                schedule=row[1],
                trigger=row[2],
                owner=row[3],
                epoch=row[4],
                created_at=_time(row[5]),  # type: ignore[arg-type]
                heartbeat_at=_time(row[6]),
                cancel_requested_at=_time(row[7]),
            )
            for row in rows
        ]

    def active_runs(self) -> dict[str, int]:
        """Unfinished runs per schedule: the run slots each holds, derived from the runs themselves."""
        rows = self.database.query(
            "SELECT schedule, COUNT(*) FROM runs WHERE status = ? AND schedule IS NOT NULL GROUP BY schedule",
            (RunStatus.RUNNING.value,),
        )
        return {row[0]: int(row[1]) for row in rows}

    def runs_for_date(self, schedule: str, logical_date: datetime) -> list[tuple[str, RunStatus]]:
        """Runs of ``schedule`` for one logical date, oldest first, with their status."""
        rows = self.database.query(
            "SELECT run_id, status FROM runs WHERE schedule = ? AND logical_date = ? ORDER BY created_at",
            (schedule, _text(logical_date)),
        )
        return [(row[0], RunStatus(row[1])) for row in rows]

    def last_successes(self, node_ids: Iterable[str]) -> dict[str, datetime]:
        """When each node last succeeded, in any run (nodes that never did are absent)."""
        wanted = sorted(set(node_ids))
        found: dict[str, datetime] = {}
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            marks = ", ".join("?" for _ in chunk)
            rows = self.database.query(
                f"SELECT node_id, MAX(finished_at) FROM run_nodes WHERE status = 'success' "
                f"AND node_id IN ({marks}) GROUP BY node_id",
                chunk,
            )
            found.update({row[0]: _time(row[1]) for row in rows if row[1]})
        return found

    def crash_attempts(self, run_id: str, owner: str, now: datetime, error: str) -> tuple[int, list[AttemptRecord]]:
        """Claim ``run_id`` for ``owner`` and mark its running attempts ``crashed``, in one transaction.

        Returns the new epoch and the attempts marked.
        """
        with self.database.transaction() as db:
            epoch = self.claim_in(db, run_id, owner, now)
            rows = db.execute(
                "UPDATE attempts SET status = ?, finished_at = ?, error = ? WHERE run_id = ? AND status = ? "
                "RETURNING node_id, try_number, started_at, log_path, output_path",
                (AttemptStatus.CRASHED.value, _text(now), error, run_id, AttemptStatus.RUNNING.value),
            ).fetchall()
        crashed = [
            AttemptRecord(
                run_id=run_id,
                node_id=row[0],
                try_number=row[1],
                status=AttemptStatus.CRASHED,
                started_at=_time(row[2]),  # type: ignore[arg-type]
                finished_at=now,
                error=error,
                log_path=row[3],
                output_path=row[4],
            )
            for row in rows
        ]
        return epoch, crashed
