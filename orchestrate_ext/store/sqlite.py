"""The default state store: one SQLite file in WAL mode."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import datetime

from orchestrate_ext.errors import RunNotFound
from orchestrate_ext.model import (
    AttemptRecord,
    AttemptStatus,
    NodeRunRecord,
    NodeStatus,
    RunRecord,
    RunStatus,
)
from orchestrate_ext.store.database import SQLiteDatabase
from orchestrate_ext.store.database import text_time as _time
from orchestrate_ext.store.database import time_text as _text

# Each entry migrates the runs tables from version N to N+1; never edit a shipped one.
_MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE runs (
        run_id       TEXT PRIMARY KEY,
        status       TEXT NOT NULL,
        created_at   TEXT NOT NULL,
        started_at   TEXT,
        finished_at  TEXT,
        logical_date TEXT NOT NULL,
        trigger      TEXT NOT NULL,
        selection    TEXT,
        schedule     TEXT
    );
    CREATE INDEX runs_by_creation ON runs (created_at);
    CREATE TABLE run_nodes (
        run_id      TEXT NOT NULL REFERENCES runs (run_id),
        node_id     TEXT NOT NULL,
        kind        TEXT NOT NULL,
        status      TEXT NOT NULL,
        started_at  TEXT,
        finished_at TEXT,
        error       TEXT,
        PRIMARY KEY (run_id, node_id)
    );
    CREATE TABLE attempts (
        run_id      TEXT NOT NULL REFERENCES runs (run_id),
        node_id     TEXT NOT NULL,
        try_number  INTEGER NOT NULL,
        status      TEXT NOT NULL,
        started_at  TEXT NOT NULL,
        finished_at TEXT,
        error       TEXT,
        log_path    TEXT,
        output_path TEXT,
        PRIMARY KEY (run_id, node_id, try_number)
    );
    """,
    # 2: who executes a run (orchestrate_ext.store.run_control): the owning process, a
    # fencing epoch bumped by every claim, its heartbeat, a cancel request from another process;
    # the try a node state belongs to; where each attempt ran.
    """
    ALTER TABLE runs ADD COLUMN owner TEXT;
    ALTER TABLE runs ADD COLUMN epoch INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE runs ADD COLUMN heartbeat_at TEXT;
    ALTER TABLE runs ADD COLUMN cancel_requested_at TEXT;
    ALTER TABLE run_nodes ADD COLUMN try_number INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE attempts ADD COLUMN epoch INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE attempts ADD COLUMN host TEXT;
    ALTER TABLE attempts ADD COLUMN pid INTEGER;
    CREATE INDEX runs_by_status ON runs (status);
    CREATE INDEX runs_by_schedule ON runs (schedule, logical_date);
    CREATE INDEX attempts_running ON attempts (run_id) WHERE status = 'running';
    CREATE INDEX run_nodes_by_node ON run_nodes (node_id, status)
    """,
)

_RUN_COLUMNS = "run_id, status, created_at, started_at, finished_at, logical_date, trigger, selection, schedule"
_NODE_COLUMNS = "run_id, node_id, kind, status, started_at, finished_at, error"
_ATTEMPT_COLUMNS = "run_id, node_id, try_number, status, started_at, finished_at, error, log_path, output_path"


class SQLiteStore:
    """The :class:`~orchestrate_ext.store.base.StateStore` of runs and attempts in SQLite."""

    COMPONENT = "runs"

    def __init__(self, database: SQLiteDatabase) -> None:
        self.database = database
        self.path = database.path
        self._transaction = database.transaction
        self._query = database.query
        database.migrate(self.COMPONENT, _MIGRATIONS)

    # runs

    def create_run(self, run: RunRecord, nodes: Sequence[NodeRunRecord]) -> None:
        with self._transaction() as db:
            self.insert_run(db, run, nodes)

    def insert_run(self, db: sqlite3.Connection, run: RunRecord, nodes: Sequence[NodeRunRecord]) -> None:
        """Write a new run inside the caller's transaction (the scheduler records its tick in the same one)."""
        db.execute(
            f"INSERT INTO runs ({_RUN_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                run.run_id,
                run.status.value,
                _text(run.created_at),
                _text(run.started_at),
                _text(run.finished_at),
                _text(run.logical_date),
                run.trigger,
                run.selection,
                run.schedule,
            ),
        )
        db.executemany(
            f"INSERT INTO run_nodes ({_NODE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [self._node_row(state) for state in nodes],
        )

    def get_run(self, run_id: str) -> RunRecord:
        rows = self._query(f"SELECT {_RUN_COLUMNS} FROM runs WHERE run_id = ?", (run_id,))
        if not rows:
            raise RunNotFound(run_id)
        return self._run(rows[0])

    def list_runs(self, limit: int = 50) -> list[RunRecord]:
        rows = self._query(f"SELECT {_RUN_COLUMNS} FROM runs ORDER BY created_at DESC, run_id DESC LIMIT ?", (limit,))
        return [self._run(row) for row in rows]

    def set_run_status(
        self,
        run_id: str,
        status: RunStatus,
        *,
        started_at: datetime | None = None,
        finished_at: datetime | None = None,
    ) -> None:
        with self._transaction() as db:
            cursor = db.execute(
                "UPDATE runs SET status = ?, started_at = COALESCE(?, started_at), "
                "finished_at = COALESCE(?, finished_at) WHERE run_id = ?",
                (status.value, _text(started_at), _text(finished_at), run_id),
            )
            if cursor.rowcount == 0:
                raise RunNotFound(run_id)

    @staticmethod
    def _run(row: tuple) -> RunRecord:
        run_id, status, created, started, finished, logical, trigger, selection, schedule = row
        return RunRecord(
            run_id=run_id,
            status=RunStatus(status),
            created_at=_time(created),  # type: ignore[arg-type]
            started_at=_time(started),
            finished_at=_time(finished),
            logical_date=_time(logical),  # type: ignore[arg-type]
            trigger=trigger,
            selection=selection,
            schedule=schedule,
        )

    # node states

    def get_node_states(self, run_id: str) -> list[NodeRunRecord]:
        rows = self._query(
            "SELECT n.run_id, n.node_id, n.kind, n.status, "
            "(SELECT COUNT(*) FROM attempts a WHERE a.run_id = n.run_id AND a.node_id = n.node_id), "
            "n.started_at, n.finished_at, n.error FROM run_nodes n WHERE n.run_id = ? ORDER BY rowid",
            (run_id,),
        )
        return [
            NodeRunRecord(
                run_id=row[0],
                node_id=row[1],
                kind=row[2],
                status=NodeStatus(row[3]),
                attempts=row[4],
                started_at=_time(row[5]),
                finished_at=_time(row[6]),
                error=row[7],
            )
            for row in rows
        ]

    def set_node_state(self, state: NodeRunRecord) -> None:
        with self._transaction() as db:
            self._write_node(db, state)

    @staticmethod
    def _node_row(state: NodeRunRecord) -> tuple:
        return (
            state.run_id,
            state.node_id,
            state.kind,
            state.status.value,
            _text(state.started_at),
            _text(state.finished_at),
            state.error,
        )

    def _write_node(self, db: sqlite3.Connection, state: NodeRunRecord) -> None:
        db.execute(
            f"INSERT INTO run_nodes ({_NODE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (run_id, node_id) DO UPDATE SET "
            "status = excluded.status, started_at = excluded.started_at, "
            "finished_at = excluded.finished_at, error = excluded.error",
            self._node_row(state),
        )

    # attempts

    def start_attempt(self, attempt: AttemptRecord, state: NodeRunRecord) -> None:
        with self._transaction() as db:
            insert_attempt(db, attempt)
            self._write_node(db, state)

    def finish_attempt(self, attempt: AttemptRecord, state: NodeRunRecord) -> bool:
        with self._transaction() as db:
            if not close_running_attempt(db, attempt):
                return False
            self._write_node(db, state)
            return True

    def get_attempts(self, run_id: str, node_id: str | None = None) -> list[AttemptRecord]:
        sql = f"SELECT {_ATTEMPT_COLUMNS} FROM attempts WHERE run_id = ?"
        params: list[object] = [run_id]
        if node_id is not None:
            sql += " AND node_id = ?"
            params.append(node_id)
        rows = self._query(sql + " ORDER BY started_at, node_id, try_number", params)
        return [
            AttemptRecord(
                run_id=row[0],
                node_id=row[1],
                try_number=row[2],
                status=AttemptStatus(row[3]),
                started_at=_time(row[4]),  # type: ignore[arg-type]
                finished_at=_time(row[5]),
                error=row[6],
                log_path=row[7],
                output_path=row[8],
            )
            for row in rows
        ]

    def close(self) -> None:
        self.database.close()


def insert_attempt(
    db: sqlite3.Connection, attempt: AttemptRecord, *, epoch: int = 0, host: str | None = None, pid: int | None = None
) -> None:
    """Record a new try inside the caller's transaction, with the claim (epoch) and process that runs it."""
    db.execute(
        f"INSERT INTO attempts ({_ATTEMPT_COLUMNS}, epoch, host, pid) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            attempt.run_id,
            attempt.node_id,
            attempt.try_number,
            attempt.status.value,
            _text(attempt.started_at),
            _text(attempt.finished_at),
            attempt.error,
            attempt.log_path,
            attempt.output_path,
            epoch,
            host,
            pid,
        ),
    )


def close_running_attempt(db: sqlite3.Connection, attempt: AttemptRecord) -> bool:
    """Record how a try ended, inside the caller's transaction; False when it is not running any more."""
    cursor = db.execute(
        "UPDATE attempts SET status = ?, finished_at = ?, error = ?, output_path = COALESCE(?, output_path) "
        "WHERE run_id = ? AND node_id = ? AND try_number = ? AND status = ?",
        (
            attempt.status.value,
            _text(attempt.finished_at),
            attempt.error,
            attempt.output_path,
            attempt.run_id,
            attempt.node_id,
            attempt.try_number,
            AttemptStatus.RUNNING.value,
        ),
    )
    return cursor.rowcount == 1
