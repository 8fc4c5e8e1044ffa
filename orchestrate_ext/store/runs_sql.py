"""Runs, node states and attempts: writing new runs and reading the history.

The statements that change a running run's state are fenced on the run's
claim; they live in :mod:`orchestrate_ext.store.claims_sql`. Every node state
write also keeps ``node_latest`` (each node's newest state and newest success)
current, so the history views read it in one query instead of scanning runs.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from orchestrate_ext.errors import RunNotFound
from orchestrate_ext.model import AttemptRecord, AttemptStatus, NodeRunRecord, NodeStatus, RunRecord, RunStatus
from orchestrate_ext.store.files import StateFiles
from orchestrate_ext.store.records import (
    LastSuccess,
    NodeHistoryEntry,
    NodeLatest,
    RunOwnership,
    RunQuery,
    UpstreamSuccess,
)
from orchestrate_ext.store.sql import Result, Sql, marks, one, rows

RUN_COLUMNS = (
    "run_id, status, created_at, started_at, finished_at, logical_date, trigger, selection, schedule, "
    "parameters, resumed_at, resumptions, only_changed, left_out"
)
NODE_COLUMNS = "run_id, node_id, kind, status, started_at, finished_at, error, waiting_for, fingerprint, result, reason"
NODE_VALUES = ", ".join("?" * len(NODE_COLUMNS.split(",")))
ATTEMPT_COLUMNS = "run_id, node_id, try_number, status, started_at, finished_at, error, log_path, output_path, worker"
OWNERSHIP_COLUMNS = "run_id, schedule, trigger, owner, epoch, created_at, heartbeat_at, cancel_requested_at, status"
DONE = tuple(status.value for status in NodeStatus if status.is_done)
"""Node statuses that count as a success (``success``, ``warned``, ``reused``)."""
PRODUCED = (NodeStatus.SUCCESS.value, NodeStatus.WARNED.value)
"""Successes that produced a result (a reuse stands for an earlier one)."""
_PREFIXED_NODE_COLUMNS = ", ".join("n." + column.strip() for column in NODE_COLUMNS.split(","))
_FAILURES = (NodeStatus.FAILED.value, NodeStatus.CANCELLED.value)
"""Final statuses of a node that may have left its data half written (when it had started)."""
_BATCH = 500
"""Values in one ``IN (...)`` list."""
_PARAMETERS = 30_000
"""Parameters in one multi-row insert (SQLite allows 32,766, PostgreSQL 65,535)."""
EVERY_RUN = RunQuery()
"""The newest runs, whatever they are (the first page)."""


class RunStatements:
    """Runs, node states and attempts on one transaction's :class:`~orchestrate_ext.store.sql.Sql`."""

    sql: Sql
    files: StateFiles | None = None
    """Resolves attempts' recorded file paths against the state folder (:mod:`orchestrate_ext.store.files`)."""

    # -- writing

    def insert_run(self, run: RunRecord, nodes: Sequence[NodeRunRecord]) -> None:
        """Write a new run and the first state of each of its nodes, in the given order."""
        self.insert_runs([(run, nodes)])

    def insert_runs(
        self,
        runs: Sequence[tuple[RunRecord, Sequence[NodeRunRecord]]],
        *,
        owner: str | None = None,
        now: datetime | None = None,
    ) -> None:
        """Write new runs and their nodes' first states in a few multi-row inserts (not a statement per row).

        With ``owner``, each run is written claimed by it, as :meth:`claim_run`
        leaves a new run: ``owner``, epoch 1, heartbeat ``now``.
        """
        sql = self.sql
        columns = RUN_COLUMNS
        claim: tuple[object, ...] = ()
        if owner is not None:
            columns, claim = f"{RUN_COLUMNS}, owner, epoch, heartbeat_at", (owner, 1, sql.time(now))
        self._insert_rows(
            f"INSERT INTO runs ({columns}) VALUES ",
            [(*self._run_row(run), *claim) for run, _ in runs],
        )
        self._insert_rows(
            f"INSERT INTO run_nodes ({NODE_COLUMNS}, position) VALUES ",
            [(*self._node_row(state), position) for _, nodes in runs for position, state in enumerate(nodes)],
        )
        newest: dict[str, tuple[RunRecord, NodeRunRecord]] = {}
        for run, nodes in runs:
            for state in nodes:
                seen = newest.get(state.node_id)
                if seen is None or (run.created_at, run.run_id) >= (seen[0].created_at, seen[0].run_id):
                    newest[state.node_id] = (run, state)
        # A node in several of the new runs: only its newest state can be its latest (node_latest keeps the
        # newest run's, and run ids of one format order alike in Python and in the database).
        for _, state in newest.values():
            self._note_latest(state)
        for _, nodes in runs:
            for state in nodes:
                if state.finished_at is not None and newest[state.node_id][1] is not state:
                    self._note_latest(state)  # an older run's finished state may still be the newest success

    def _insert_rows(self, head: str, values: Sequence[tuple[object, ...]], tail: str = "") -> list[Result]:
        """``head`` (``INSERT INTO t (...) VALUES ``) with as many rows per statement as the parameter limit
        allows, then ``tail`` (``ON CONFLICT ...``, ``RETURNING ...``); the statements' results."""
        if not values:
            return []
        width = len(values[0])
        per_statement = max(1, _PARAMETERS // width)
        row = f"({marks(values[0])})"
        return [
            self.sql.execute(head + ", ".join([row] * len(chunk)) + tail, [value for item in chunk for value in item])
            for chunk in (values[start : start + per_statement] for start in range(0, len(values), per_statement))
        ]

    def _run_row(self, run: RunRecord) -> tuple[object, ...]:
        sql = self.sql
        return (
            run.run_id,
            run.status.value,
            sql.time(run.created_at),
            sql.time(run.started_at),
            sql.time(run.finished_at),
            sql.time(run.logical_date),
            run.trigger,
            run.selection,
            run.schedule,
            json.dumps(dict(run.parameters), sort_keys=True),
            sql.time(run.resumed_at),
            run.resumptions,
            int(run.only_changed),
            json.dumps(dict(run.left_out), sort_keys=True) if run.left_out else None,
        )

    def delete_runs(self, run_ids: Collection[str]) -> list[str]:
        """Delete finished runs with their node states, attempts and resource waits; returns the deleted ids.

        Runs still going or queued are kept (cancel them first); so is a run another unit of
        work claims to execute again while this one runs: the finished runs' rows
        are locked before anything is deleted, and only the returned ids are gone
        (their folders are the caller's to remove, those only). Ticks keep their
        record with the run id.
        """
        sql = self.sql
        wanted = sorted(set(run_ids))
        deleted: list[str] = []
        for start in range(0, len(wanted), _BATCH):
            chunk = wanted[start : start + _BATCH]
            deleted += [
                row[0]
                for row in rows(
                    sql,
                    f"SELECT run_id FROM runs WHERE run_id IN ({marks(chunk)}) AND status NOT IN (?, ?) "
                    f"ORDER BY run_id{sql.dialect.lock_rows}",
                    [*chunk, RunStatus.RUNNING.value, RunStatus.QUEUED.value],
                )
            ]
        touched: set[str] = set()
        for start in range(0, len(deleted), _BATCH):
            chunk = deleted[start : start + _BATCH]
            touched.update(
                row[0] for row in rows(sql, f"SELECT node_id FROM node_latest WHERE run_id IN ({marks(chunk)})", chunk)
            )
            touched.update(
                row[0]
                for row in rows(
                    sql, f"SELECT node_id FROM node_latest WHERE last_success_run_id IN ({marks(chunk)})", chunk
                )
            )
            touched.update(
                row[0]
                for row in rows(
                    sql,
                    f"SELECT DISTINCT node_id FROM run_nodes WHERE run_id IN ({marks(chunk)}) AND status IN (?, ?)",
                    [*chunk, *_FAILURES],
                )
            )
            for table in ("attempts", "run_nodes", "resource_waits", "runs"):
                sql.execute(f"DELETE FROM {table} WHERE run_id IN ({marks(chunk)})", chunk)
        for node_id in sorted(touched):
            self._rebuild_latest(node_id)
        return deleted

    # -- keeping node_latest

    def _note_latest(self, state: NodeRunRecord) -> None:
        """Make ``state`` the node's latest when its run is the newest run that has the node."""
        sql = self.sql
        sql.execute(
            "INSERT INTO node_latest (node_id, run_id, run_created_at, status, finished_at, error) "
            "SELECT ?, r.run_id, r.created_at, ?, ?, ? FROM runs r WHERE r.run_id = ? "
            "ON CONFLICT (node_id) DO UPDATE SET run_id = excluded.run_id, "
            "run_created_at = excluded.run_created_at, status = excluded.status, "
            "finished_at = excluded.finished_at, error = excluded.error "
            "WHERE excluded.run_created_at > node_latest.run_created_at OR "
            "(excluded.run_created_at = node_latest.run_created_at AND excluded.run_id >= node_latest.run_id)",
            (state.node_id, state.status.value, sql.time(state.finished_at), state.error, state.run_id),
        )
        if state.finished_at is None:
            return
        if state.status.is_done:
            sql.execute(
                "UPDATE node_latest SET last_success_run_id = ?, last_success_at = ?, "
                "last_success_fingerprint = ?, last_success_result = ? "
                "WHERE node_id = ? AND (last_success_at IS NULL OR last_success_at <= ?)",
                (
                    state.run_id,
                    sql.time(state.finished_at),
                    state.fingerprint,
                    state.result,
                    state.node_id,
                    sql.time(state.finished_at),
                ),
            )
            if state.status != NodeStatus.REUSED:
                sql.execute(
                    "UPDATE node_latest SET last_produced_at = ? "
                    "WHERE node_id = ? AND (last_produced_at IS NULL OR last_produced_at <= ?)",
                    (sql.time(state.finished_at), state.node_id, sql.time(state.finished_at)),
                )
        elif _left_data_behind(state):
            sql.execute(
                "UPDATE node_latest SET last_failure_at = ? "
                "WHERE node_id = ? AND (last_failure_at IS NULL OR last_failure_at < ?)",
                (sql.time(state.finished_at), state.node_id, sql.time(state.finished_at)),
            )

    def _rebuild_latest(self, node_id: str) -> None:
        sql = self.sql
        sql.execute("DELETE FROM node_latest WHERE node_id = ?", (node_id,))
        newest = one(
            sql,
            f"SELECT {_PREFIXED_NODE_COLUMNS} FROM run_nodes n "
            "JOIN runs r ON r.run_id = n.run_id WHERE n.node_id = ? ORDER BY r.created_at DESC, r.run_id DESC",
            (node_id,),
        )
        if newest is None:
            return
        self._note_latest(self._node_state(newest))
        success = one(
            sql,
            f"SELECT run_id, finished_at, fingerprint, result FROM run_nodes WHERE node_id = ? "
            f"AND status IN ({marks(DONE)}) AND finished_at IS NOT NULL ORDER BY finished_at DESC, run_id DESC",
            (node_id, *DONE),
        )
        if success is not None:
            sql.execute(
                "UPDATE node_latest SET last_success_run_id = ?, last_success_at = ?, "
                "last_success_fingerprint = ?, last_success_result = ? WHERE node_id = ?",
                (*success, node_id),
            )
        produced = one(
            sql,
            f"SELECT MAX(finished_at) FROM run_nodes WHERE node_id = ? AND status IN ({marks(PRODUCED)})",
            (node_id, *PRODUCED),
        )
        if produced is not None and produced[0] is not None:
            sql.execute("UPDATE node_latest SET last_produced_at = ? WHERE node_id = ?", (produced[0], node_id))
        failure = one(
            sql,
            "SELECT MAX(finished_at) FROM run_nodes WHERE node_id = ? AND status IN (?, ?) AND started_at IS NOT NULL",
            (node_id, *_FAILURES),
        )
        if failure is not None and failure[0] is not None:
            sql.execute("UPDATE node_latest SET last_failure_at = ? WHERE node_id = ?", (failure[0], node_id))

    # -- reading runs

    def get_run(self, run_id: str) -> RunRecord:
        """The run with that id; raises :class:`RunNotFound`."""
        row = one(self.sql, f"SELECT {RUN_COLUMNS} FROM runs WHERE run_id = ?", (run_id,))
        if row is None:
            raise RunNotFound(run_id)
        return self._run(row)

    def find_runs(self, query: RunQuery = EVERY_RUN) -> list[RunRecord]:
        """The runs ``query`` selects, newest first, one page (``limit``, ``offset``)."""
        where, params = self._run_filter(query)
        found = rows(
            self.sql,
            f"SELECT {RUN_COLUMNS} FROM runs{where} ORDER BY created_at DESC, run_id DESC LIMIT ? OFFSET ?",
            [*params, query.limit, query.offset],
        )
        return [self._run(row) for row in found]

    def count_runs(self, query: RunQuery = EVERY_RUN) -> int:
        """How many runs ``query`` selects, ignoring its page."""
        where, params = self._run_filter(query)
        return int(one(self.sql, f"SELECT COUNT(*) FROM runs{where}", params)[0])

    def _run_filter(self, query: RunQuery) -> tuple[str, list[Any]]:
        clauses: list[str] = []
        params: list[Any] = []
        for column, values in (
            ("status", sorted(status.value for status in query.statuses)),
            ("schedule", sorted(query.schedules)),
            ("trigger", sorted(query.triggers)),
        ):
            if values:
                clauses.append(f"{column} IN ({marks(values)})")
                params += values
        if query.since is not None:
            clauses.append("created_at >= ?")
            params.append(self.sql.time(query.since))
        if query.id_prefix:
            clauses.append("substr(run_id, 1, ?) = ?")  # case-sensitive on both backends, unlike LIKE
            params += [len(query.id_prefix), query.id_prefix]
        if query.node_id is not None:
            clauses.append("EXISTS (SELECT 1 FROM run_nodes n WHERE n.run_id = runs.run_id AND n.node_id = ?)")
            params.append(query.node_id)
        return (" WHERE " + " AND ".join(clauses) if clauses else ""), params

    def node_counts(self, run_ids: Collection[str]) -> dict[str, dict[str, int]]:
        """How many nodes of each run are in each status: ``{run_id: {status: count}}``."""
        found: dict[str, dict[str, int]] = {run_id: {} for run_id in run_ids}
        wanted = sorted(found)
        for start in range(0, len(wanted), _BATCH):
            chunk = wanted[start : start + _BATCH]
            for run_id, status, count in rows(
                self.sql,
                f"SELECT run_id, status, COUNT(*) FROM run_nodes WHERE run_id IN ({marks(chunk)}) "
                "GROUP BY run_id, status",
                chunk,
            ):
                found[run_id][status] = int(count)
        return found

    def runs_for_date(self, schedule: str, logical_date: datetime) -> list[tuple[str, RunStatus]]:
        """Runs of ``schedule`` for one logical date, oldest first, with their status."""
        found = rows(
            self.sql,
            "SELECT run_id, status FROM runs WHERE schedule = ? AND logical_date = ? ORDER BY created_at",
            (schedule, self.sql.time(logical_date)),
        )
        return [(row[0], RunStatus(row[1])) for row in found]

    def active_runs(self) -> dict[str, int]:
        """Running runs per schedule: the run slots each holds, derived from the runs themselves.

        A manual run counts against the schedule named by its ``limit_key`` (one of the same selection).
        """
        found = rows(
            self.sql,
            "SELECT COALESCE(limit_key, schedule), COUNT(*) FROM runs WHERE status = ? "
            "AND COALESCE(limit_key, schedule) IS NOT NULL GROUP BY COALESCE(limit_key, schedule)",
            (RunStatus.RUNNING.value,),
        )
        return {row[0]: int(row[1]) for row in found}

    def run_ownership(self, run_id: str) -> RunOwnership:
        """Who executes the run (raises :class:`RunNotFound`)."""
        row = one(
            self.sql,
            f"SELECT {OWNERSHIP_COLUMNS} FROM runs WHERE run_id = ?",
            (run_id,),
        )
        if row is None:
            raise RunNotFound(run_id)
        return self._ownership(row)

    def unfinished_runs(self) -> list[RunOwnership]:
        """Every run whose status is still ``running``, oldest first."""
        found = rows(
            self.sql,
            f"SELECT {OWNERSHIP_COLUMNS} FROM runs WHERE status = ? ORDER BY created_at, run_id",
            (RunStatus.RUNNING.value,),
        )
        return [self._ownership(row) for row in found]

    def _ownership(self, row: tuple[Any, ...]) -> RunOwnership:
        sql = self.sql
        return RunOwnership(
            run_id=row[0],
            schedule=row[1],
            trigger=row[2],
            owner=row[3],
            epoch=int(row[4]),
            created_at=sql.read_time(row[5]),  # type: ignore[arg-type]
            heartbeat_at=sql.read_time(row[6]),
            cancel_requested_at=sql.read_time(row[7]),
            status=RunStatus(row[8]),
        )

    def upstream_successes(
        self, schedules: Sequence[str], since: datetime | None, limit: int = 500
    ) -> list[UpstreamSuccess]:
        """Successful runs of ``schedules`` that finished after ``since``, oldest finish first."""
        if not schedules:
            return []
        sql = self.sql
        found = rows(
            sql,
            f"SELECT run_id, schedule, logical_date, finished_at FROM runs WHERE status = ? "
            f"AND schedule IN ({marks(schedules)}) AND finished_at > ? ORDER BY finished_at, run_id LIMIT ?",
            [RunStatus.SUCCESS.value, *schedules, sql.time(since or _EARLIEST), limit],
        )
        return [
            UpstreamSuccess(row[0], row[1], sql.read_time(row[2]), sql.read_time(row[3]))  # type: ignore[arg-type]
            for row in found
        ]

    # -- reading node states and attempts

    def node_states(self, run_id: str) -> list[NodeRunRecord]:
        """Each node of the run in the run's order, with ``attempts`` counted from its attempt records."""
        found = rows(
            self.sql,
            f"SELECT {_PREFIXED_NODE_COLUMNS}, "
            "(SELECT COUNT(*) FROM attempts a WHERE a.run_id = n.run_id AND a.node_id = n.node_id) "
            "FROM run_nodes n WHERE n.run_id = ? ORDER BY n.position, n.node_id",
            (run_id,),
        )
        return [self._node_state(row[:-1], attempts=int(row[-1])) for row in found]

    def attempts(self, run_id: str, node_id: str | None = None) -> list[AttemptRecord]:
        """Attempts of a run (optionally of one node), oldest first."""
        statement = f"SELECT {ATTEMPT_COLUMNS} FROM attempts WHERE run_id = ?"
        params: list[object] = [run_id]
        if node_id is not None:
            statement += " AND node_id = ?"
            params.append(node_id)
        found = rows(self.sql, statement + " ORDER BY started_at, node_id, try_number", params)
        return [self._attempt(row) for row in found]

    def latest_node_states(self, node_ids: Collection[str] | None = None) -> dict[str, NodeLatest]:
        """Each node's state in the newest run that has it, and its newest success (one query)."""
        sql = self.sql
        statement = (
            "SELECT node_id, run_id, status, finished_at, error, last_success_run_id, last_success_at FROM node_latest"
        )
        found = rows(sql, statement)
        wanted = None if node_ids is None else set(node_ids)
        return {
            row[0]: NodeLatest(
                node_id=row[0],
                run_id=row[1],
                status=NodeStatus(row[2]),
                finished_at=sql.read_time(row[3]),
                error=row[4],
                last_success_run_id=row[5],
                last_success_at=sql.read_time(row[6]),
            )
            for row in found
            if wanted is None or row[0] in wanted
        }

    def last_successes(self, node_ids: Collection[str]) -> dict[str, LastSuccess]:
        """The newest success of each of ``node_ids`` that has one, and whether it failed since."""
        sql = self.sql
        found: dict[str, LastSuccess] = {}
        wanted = sorted(set(node_ids))
        for start in range(0, len(wanted), _BATCH):
            chunk = wanted[start : start + _BATCH]
            for row in rows(
                sql,
                "SELECT node_id, last_success_run_id, last_success_at, last_success_fingerprint, "
                "last_success_result, last_failure_at, last_produced_at FROM node_latest "
                f"WHERE node_id IN ({marks(chunk)}) AND last_success_at IS NOT NULL",
                chunk,
            ):
                finished_at = sql.read_time(row[2])
                failed_at = sql.read_time(row[5])
                found[row[0]] = LastSuccess(
                    node_id=row[0],
                    run_id=row[1],
                    finished_at=finished_at,  # type: ignore[arg-type]
                    fingerprint=row[3],
                    result=row[4],
                    failed_since=failed_at is not None and finished_at is not None and failed_at >= finished_at,
                    produced_at=sql.read_time(row[6]),
                )
        return found

    def node_history(self, node_id: str, limit: int = 10) -> list[NodeHistoryEntry]:
        """The node's outcome in each of the newest ``limit`` runs that have it, newest first."""
        sql = self.sql
        found = rows(
            sql,
            # Runs newest first, each probed for the node (CROSS JOIN keeps SQLite's planner on that order):
            # the first ``limit`` matches end the scan, instead of sorting every run the node was ever in.
            "SELECT n.run_id, n.status, r.created_at, n.started_at, n.finished_at, n.error "
            "FROM runs r CROSS JOIN run_nodes n "
            "WHERE n.run_id = r.run_id AND n.node_id = ? ORDER BY r.created_at DESC, r.run_id DESC LIMIT ?",
            (node_id, limit),
        )
        return [
            NodeHistoryEntry(
                run_id=row[0],
                status=NodeStatus(row[1]),
                created_at=sql.read_time(row[2]),  # type: ignore[arg-type]
                started_at=sql.read_time(row[3]),
                finished_at=sql.read_time(row[4]),
                error=row[5],
            )
            for row in found
        ]

    def table_counts(self, tables: Sequence[str]) -> dict[str, int]:
        """Rows in each of ``tables`` (names come from the code, never from input)."""
        return {table: int(one(self.sql, f"SELECT COUNT(*) FROM {table}")[0]) for table in tables}

    # -- rows and records

    def _node_row(self, state: NodeRunRecord) -> tuple[object, ...]:
        sql = self.sql
        return (
            state.run_id,
            state.node_id,
            state.kind,
            state.status.value,
            sql.time(state.started_at),
            sql.time(state.finished_at),
            state.error,
            state.waiting_for,
            state.fingerprint,
            state.result,
            state.reason,
        )

    def _run(self, row: tuple[Any, ...]) -> RunRecord:
        sql = self.sql
        return RunRecord(
            run_id=row[0],
            status=RunStatus(row[1]),
            created_at=sql.read_time(row[2]),  # type: ignore[arg-type]
            started_at=sql.read_time(row[3]),
            finished_at=sql.read_time(row[4]),
            logical_date=sql.read_time(row[5]),  # type: ignore[arg-type]
            trigger=row[6],
            selection=row[7],
            schedule=row[8],
            parameters=json.loads(row[9]) if row[9] else {},
            resumed_at=sql.read_time(row[10]),
            resumptions=int(row[11] or 0),
            only_changed=bool(row[12]),
            left_out=json.loads(row[13]) if row[13] else {},
        )

    def _node_state(self, row: tuple[Any, ...], attempts: int = 0) -> NodeRunRecord:
        sql = self.sql
        return NodeRunRecord(
            run_id=row[0],
            node_id=row[1],
            kind=row[2],
            status=NodeStatus(row[3]),
            attempts=attempts,
            started_at=sql.read_time(row[4]),
            finished_at=sql.read_time(row[5]),
            error=row[6],
            waiting_for=row[7],
            fingerprint=row[8],
            result=row[9],
            reason=row[10],
        )

    def _attempt(self, row: tuple[Any, ...]) -> AttemptRecord:
        sql = self.sql
        if self.files is not None:
            row = (*row[:7], self.files.resolve(row[7], row[0]), self.files.resolve(row[8], row[0]), *row[9:])
        return AttemptRecord(
            run_id=row[0],
            node_id=row[1],
            try_number=int(row[2]),
            status=AttemptStatus(row[3]),
            started_at=sql.read_time(row[4]),  # type: ignore[arg-type]
            finished_at=sql.read_time(row[5]),
            error=row[6],
            log_path=row[7],
            output_path=row[8],
            worker=row[9],
        )


def _left_data_behind(state: NodeRunRecord) -> bool:
    """Whether the node started and then failed or was cancelled: its data may be half written."""
    return state.status.value in _FAILURES and state.started_at is not None


_EARLIEST = datetime.fromisoformat("1970-01-01T00:00:00+00:00")
