"""Claims on runs and the writes they fence.

* Executing a run starts by *claiming* it: ``owner`` becomes the executing
  process and ``epoch`` goes up by one. Every later write of that execution
  names the epoch it got and is refused once somebody else has claimed the
  run since, so a process that was presumed dead cannot overwrite anything.
* Each fence is a conditional write that holds under READ COMMITTED: the
  run's row is read with a row lock (``SELECT ... FOR UPDATE`` on PostgreSQL;
  SQLite's write transactions exclude each other) or updated with
  ``WHERE epoch = ?`` and its row count checked. A claim that expects an
  epoch (a takeover) is a compare-and-set: of two processes taking over the
  same run, exactly one wins.
* Writes of one node are also fenced on the attempt number: a node state or
  attempt of try N is refused once an attempt N+1 exists.
* Try numbers are allocated here, under the claim (:meth:`ClaimStatements.allocate_tries`):
  a node's number only grows (``run_nodes.try_number`` never goes down), so two
  owners of a run never share a try number, nor the log file named after it.
* A resource hold names the claim (run and epoch) it was taken under; see
  :mod:`orchestrate_ext.store.resources_sql`.
* ``cancel_requested_at`` is set by any process (``orchestrate cancel``, the
  JupyterLab panel) under the run's row lock; the executing process polls it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from orchestrate_ext.errors import RunNotFound
from orchestrate_ext.model import AttemptRecord, AttemptStatus, NodeRunRecord, NodeStatus, RunStatus, result_id
from orchestrate_ext.store.records import RunOwnership
from orchestrate_ext.store.runs_sql import (
    ATTEMPT_COLUMNS,
    NODE_COLUMNS,
    NODE_VALUES,
    OWNERSHIP_COLUMNS,
    RunStatements,
)
from orchestrate_ext.store.sql import one


@dataclass(frozen=True, slots=True)
class AttemptEnding:
    """How a takeover closes a try that was still marked running (crashed, or a result found on disk)."""

    node_id: str
    try_number: int
    status: AttemptStatus
    error: str | None
    output_path: str | None = None


class ClaimStatements(RunStatements):
    """Claims and fenced writes on one transaction."""

    # -- claiming

    def claim_run(self, run_id: str, owner: str, now: datetime, *, expected_epoch: int | None = None) -> int | None:
        """Make ``owner`` the executor of ``run_id``; returns the new epoch.

        With ``expected_epoch``, only when the run's epoch is still that one
        (None otherwise: somebody claimed it first). A cancel request is kept
        while the run is unfinished (a recovering process honours it) and dropped
        when a finished run is executed again (``orchestrate retry``).
        Raises :class:`RunNotFound`.
        """
        sql = self.sql
        statement = (
            "UPDATE runs SET owner = ?, epoch = epoch + 1, heartbeat_at = ?, "
            "cancel_requested_at = CASE WHEN status = 'running' THEN cancel_requested_at END WHERE run_id = ?"
        )
        params: list[object] = [owner, sql.time(now), run_id]
        if expected_epoch is not None:
            statement += " AND epoch = ?"
            params.append(expected_epoch)
        row = one(sql, statement + " RETURNING epoch", params)
        if row is not None:
            return int(row[0])
        if one(sql, "SELECT 1 FROM runs WHERE run_id = ?", (run_id,)) is None:
            raise RunNotFound(run_id)
        return None

    def claim_again(self, run_id: str, owner: str, now: datetime, expected_epoch: int) -> int | None:
        """Claim ``run_id`` to execute it again (``orchestrate retry``): a compare-and-set on its epoch.

        The claim is taken only while the run's epoch is still ``expected_epoch``
        (the one the caller read before it prepared the retry, and checked under
        :meth:`lock_run` in this same unit of work), and the run becomes ``running``
        at once, so that a second retry, a delete and the scheduler see it
        executing. Returns the new epoch, or None when the epoch moved on.
        """
        row = one(
            self.sql,
            "UPDATE runs SET owner = ?, epoch = epoch + 1, heartbeat_at = ?, status = ?, finished_at = NULL, "
            "cancel_requested_at = CASE WHEN status = 'running' THEN cancel_requested_at END "
            "WHERE run_id = ? AND epoch = ? RETURNING epoch",
            (owner, self.sql.time(now), RunStatus.RUNNING.value, run_id, expected_epoch),
        )
        return int(row[0]) if row else None

    def lock_run(self, run_id: str) -> RunOwnership:
        """Who executes the run, its row locked until the transaction ends (raises :class:`RunNotFound`)."""
        row = one(
            self.sql, f"SELECT {OWNERSHIP_COLUMNS} FROM runs WHERE run_id = ?{self.sql.dialect.lock_rows}", (run_id,)
        )
        if row is None:
            raise RunNotFound(run_id)
        return self._ownership(row)

    def take_over(
        self, run_id: str, owner: str, now: datetime, expected_epoch: int, endings: Sequence[AttemptEnding]
    ) -> int | None:
        """Claim a run whose owner died and close its tries that were running, atomically.

        A try ending in success also settles its node (its result was found
        after the crash). The dead owner's resource holds and waits go too.
        Returns the new epoch, or None when another process took the run over first.
        """
        epoch = self.claim_run(run_id, owner, now, expected_epoch=expected_epoch)
        if epoch is None:
            return None
        sql = self.sql
        for ending in endings:
            closed = sql.execute(
                "UPDATE attempts SET status = ?, finished_at = ?, error = ?, output_path = COALESCE(?, output_path) "
                "WHERE run_id = ? AND node_id = ? AND try_number = ? AND status = ?",
                (
                    ending.status.value,
                    sql.time(now),
                    ending.error,
                    ending.output_path,
                    run_id,
                    ending.node_id,
                    ending.try_number,
                    AttemptStatus.RUNNING.value,
                ),
            )
            if closed.rowcount == 1 and ending.status == AttemptStatus.SUCCESS:
                node = one(
                    sql,
                    "SELECT kind, started_at FROM run_nodes WHERE run_id = ? AND node_id = ?",
                    (run_id, ending.node_id),
                )
                kind, started = (node[0], sql.read_time(node[1])) if node else ("", None)
                done = NodeRunRecord(
                    run_id,
                    ending.node_id,
                    kind,
                    NodeStatus.SUCCESS,
                    started_at=started,
                    finished_at=now,
                    result=result_id(run_id, ending.try_number),
                )
                self._write_node(done, ending.try_number)
        for table in ("resource_holds", "resource_waits"):
            sql.execute(f"DELETE FROM {table} WHERE run_id = ?", (run_id,))
        return epoch

    def holds_claim(self, run_id: str, epoch: int) -> bool:
        """Whether ``epoch`` is still the run's claim, locking the run's row until the transaction ends."""
        row = one(self.sql, f"SELECT epoch FROM runs WHERE run_id = ?{self.sql.dialect.lock_rows}", (run_id,))
        return row is not None and int(row[0]) == epoch

    def claim_epoch(self, run_id: str) -> int | None:
        """The run's current epoch (None when there is no such run); no lock taken."""
        row = one(self.sql, "SELECT epoch FROM runs WHERE run_id = ?", (run_id,))
        return None if row is None else int(row[0])

    def beat(self, run_id: str, epoch: int, now: datetime) -> bool:
        """Record that the owner lives; False when the claim was lost."""
        cursor = self.sql.execute(
            "UPDATE runs SET heartbeat_at = ? WHERE run_id = ? AND epoch = ?", (self.sql.time(now), run_id, epoch)
        )
        return cursor.rowcount == 1

    # -- fenced writes

    def set_node_state(self, state: NodeRunRecord, try_number: int, epoch: int) -> bool:
        """Write the node's state, fenced on claim ``epoch`` and on the try number; False when refused.

        The fence and the write are one statement: it writes only while the run's
        row, read under a row lock, still has ``epoch`` (the lock is held to the
        end of the unit of work, as :meth:`holds_claim` holds it).
        """
        return self._write_node(state, try_number, epoch=epoch)

    def start_attempt(self, attempt: AttemptRecord, state: NodeRunRecord, epoch: int, *, host: str, pid: int) -> bool:
        """Record a new try and the node's new state together (refused when a newer try exists)."""
        newest = self._newest_try_under_claim(attempt, epoch)
        if newest is None or newest >= attempt.try_number:
            return False
        sql = self.sql
        sql.execute(
            f"INSERT INTO attempts ({ATTEMPT_COLUMNS}, epoch, host, pid) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                attempt.run_id,
                attempt.node_id,
                attempt.try_number,
                attempt.status.value,
                sql.time(attempt.started_at),
                sql.time(attempt.finished_at),
                attempt.error,
                attempt.log_path,
                attempt.output_path,
                attempt.worker,
                epoch,
                host,
                pid,
            ),
        )
        return self._write_node(state, attempt.try_number)

    def finish_attempt(self, attempt: AttemptRecord, state: NodeRunRecord, epoch: int) -> bool:
        """Close a running try and update the node's state together.

        Refused (False) when the claim was lost, a newer try exists, or the try
        is not ``running`` any more (another process closed it).
        """
        newest = self._newest_try_under_claim(attempt, epoch)
        if newest is None or newest > attempt.try_number:
            return False
        sql = self.sql
        closed = sql.execute(
            "UPDATE attempts SET status = ?, finished_at = ?, error = ?, output_path = COALESCE(?, output_path), "
            "worker = COALESCE(?, worker) WHERE run_id = ? AND node_id = ? AND try_number = ? AND status = ?",
            (
                attempt.status.value,
                sql.time(attempt.finished_at),
                attempt.error,
                attempt.output_path,
                attempt.worker,
                attempt.run_id,
                attempt.node_id,
                attempt.try_number,
                AttemptStatus.RUNNING.value,
            ),
        )
        return closed.rowcount == 1 and self._write_node(state, attempt.try_number)

    def allocate_tries(self, run_id: str, node_ids: Sequence[str], epoch: int) -> dict[str, int] | None:
        """The next try number of each node, reserved for claim ``epoch`` (None once the claim is lost).

        A number is one more than any the node had (tried or only reserved), and is
        recorded at once: a later claim never gets it again.
        """
        if not self.holds_claim(run_id, epoch):
            return None
        sql = self.sql
        numbers: dict[str, int] = {}
        for node_id in node_ids:
            row = one(
                sql,
                "SELECT MAX(n) FROM (SELECT try_number AS n FROM run_nodes WHERE run_id = ? AND node_id = ? "
                "UNION ALL SELECT try_number FROM attempts WHERE run_id = ? AND node_id = ?) t",
                (run_id, node_id, run_id, node_id),
            )
            numbers[node_id] = int(row[0] or 0) + 1
            sql.execute(
                "UPDATE run_nodes SET try_number = ? WHERE run_id = ? AND node_id = ?",
                (numbers[node_id], run_id, node_id),
            )
        return numbers

    def mark_run_started(self, run_id: str, epoch: int, now: datetime) -> bool:
        """The run (re)starts executing: its first start is kept, a later one counts as a resumption."""
        sql = self.sql
        cursor = sql.execute(
            "UPDATE runs SET status = ?, finished_at = NULL, started_at = COALESCE(started_at, ?), "
            "resumed_at = CASE WHEN started_at IS NULL THEN resumed_at ELSE ? END, "
            "resumptions = resumptions + CASE WHEN started_at IS NULL THEN 0 ELSE 1 END "
            "WHERE run_id = ? AND epoch = ?",
            (RunStatus.RUNNING.value, sql.time(now), sql.time(now), run_id, epoch),
        )
        return cursor.rowcount == 1

    def add_left_out(self, run_id: str, left_out: Mapping[str, str], epoch: int) -> bool:
        """Record more nodes the run leaves out (a retry's), merged into those it has; a newer reason wins.

        Fenced like every write of an execution: False once another claim has replaced epoch ``epoch``.
        """
        sql = self.sql
        row = one(
            sql, f"SELECT left_out FROM runs WHERE run_id = ? AND epoch = ?{sql.dialect.lock_rows}", (run_id, epoch)
        )
        if row is None:
            return False
        if not left_out:
            return True
        merged = {**(json.loads(row[0]) if row[0] else {}), **left_out}
        cursor = sql.execute(
            "UPDATE runs SET left_out = ? WHERE run_id = ? AND epoch = ?",
            (json.dumps(merged, sort_keys=True), run_id, epoch),
        )
        return cursor.rowcount == 1

    def finish_run(self, run_id: str, status: RunStatus, epoch: int, now: datetime) -> bool:
        """Close the run with its final status; its resource holds and waits go with it."""
        sql = self.sql
        cursor = sql.execute(
            "UPDATE runs SET status = ?, finished_at = ? WHERE run_id = ? AND epoch = ?",
            (status.value, sql.time(now), run_id, epoch),
        )
        if cursor.rowcount != 1:
            return False
        for table in ("resource_holds", "resource_waits"):
            sql.execute(f"DELETE FROM {table} WHERE run_id = ?", (run_id,))
        return True

    def _newest_try_under_claim(self, attempt: AttemptRecord, epoch: int) -> int | None:
        """The node's newest try number, read after the run's row is locked; None when ``epoch`` lost the claim.

        Both statements are sent before either result is read (one round trip on
        PostgreSQL); the database runs them in order, so the try is read under the lock.
        """
        sql = self.sql
        claim = sql.execute(f"SELECT epoch FROM runs WHERE run_id = ?{sql.dialect.lock_rows}", (attempt.run_id,))
        newest = sql.execute(
            "SELECT COALESCE(MAX(try_number), 0) FROM attempts WHERE run_id = ? AND node_id = ?",
            (attempt.run_id, attempt.node_id),
        )
        row = claim.fetchone()
        if row is None or int(row[0]) != epoch:
            return None
        return int(newest.fetchone()[0])

    def _write_node(self, state: NodeRunRecord, try_number: int, *, epoch: int | None = None) -> bool:
        """Insert or update the node's state unless a newer try exists; with ``epoch``, only while the run's
        claim is that epoch (its row locked), in the same statement."""
        sql = self.sql
        if epoch is None:
            source, params = f"VALUES ({NODE_VALUES}, ?)", (*self._node_row(state), try_number)
        else:
            source = f"SELECT {NODE_VALUES}, ? FROM runs WHERE run_id = ? AND epoch = ?{sql.dialect.lock_rows}"
            params = (*self._node_row(state), try_number, state.run_id, epoch)
        cursor = sql.execute(
            f"INSERT INTO run_nodes ({NODE_COLUMNS}, try_number) {source} "
            "ON CONFLICT (run_id, node_id) DO UPDATE SET "
            "status = excluded.status, started_at = excluded.started_at, finished_at = excluded.finished_at, "
            "error = excluded.error, waiting_for = excluded.waiting_for, "
            "try_number = CASE WHEN excluded.try_number > run_nodes.try_number THEN excluded.try_number "
            "ELSE run_nodes.try_number END, "
            "fingerprint = excluded.fingerprint, result = excluded.result, reason = excluded.reason "
            "WHERE excluded.try_number >= (SELECT COALESCE(MAX(a.try_number), 0) FROM attempts a "
            "WHERE a.run_id = excluded.run_id AND a.node_id = excluded.node_id)",
            params,
        )
        if cursor.rowcount != 1:
            return False
        self._note_latest(state)
        return True

    # -- cancellation

    def request_cancel(self, run_id: str, now: datetime) -> RunStatus:
        """Ask whoever executes ``run_id`` to cancel it; returns the run's status at that moment."""
        sql = self.sql
        row = one(sql, f"SELECT status FROM runs WHERE run_id = ?{sql.dialect.lock_rows}", (run_id,))
        if row is None:
            raise RunNotFound(run_id)
        if row[0] == RunStatus.RUNNING.value:
            sql.execute(
                "UPDATE runs SET cancel_requested_at = COALESCE(cancel_requested_at, ?) WHERE run_id = ?",
                (sql.time(now), run_id),
            )
        return RunStatus(row[0])

    def cancel_requested(self, run_id: str) -> bool:
        row = one(self.sql, "SELECT cancel_requested_at FROM runs WHERE run_id = ?", (run_id,))
        return bool(row and row[0])
