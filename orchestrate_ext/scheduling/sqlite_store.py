"""The :class:`~orchestrate_ext.scheduling.store.ScheduleStore` in the project's SQLite file.

Its tables form the ``schedules`` component of the database (migrated on
its own); runs are written through the runs store in the same transaction
as their tick, so a crash can neither lose a tick nor leave a run without one.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from orchestrate_ext.model import NodeRunRecord, RunRecord
from orchestrate_ext.scheduling.sqlite_lease import LEASE, SQLiteLease
from orchestrate_ext.scheduling.store import (
    Fence,
    LeaseLost,
    NewTick,
    ScheduleState,
    StartResult,
    StateUpdate,
    TickBatch,
    TickRecord,
    TickStatus,
    Trigger,
)
from orchestrate_ext.store import SQLiteStore
from orchestrate_ext.store.database import text_time as _time
from orchestrate_ext.store.database import time_text as _text
from orchestrate_ext.store.run_control import SQLiteRunControl

COMPONENT = "schedules"

# Each entry migrates the schedules tables from version N to N+1; never edit a shipped one.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE schedule_state (
        name         TEXT PRIMARY KEY,
        fingerprint  TEXT NOT NULL,
        next_fire_at TEXT,
        paused       INTEGER NOT NULL DEFAULT 0,
        cursor       TEXT,
        updated_at   TEXT NOT NULL
    );
    CREATE INDEX schedule_state_due ON schedule_state (next_fire_at)
        WHERE paused = 0 AND next_fire_at IS NOT NULL;
    CREATE TABLE ticks (
        tick_id      INTEGER PRIMARY KEY AUTOINCREMENT,
        schedule     TEXT NOT NULL,
        scheduled_at TEXT NOT NULL,
        trigger      TEXT NOT NULL,
        key          TEXT NOT NULL,
        status       TEXT NOT NULL,
        reason       TEXT,
        run_id       TEXT,
        duplicate_of TEXT,
        parameters   TEXT,
        created_at   TEXT NOT NULL,
        updated_at   TEXT NOT NULL,
        UNIQUE (schedule, key)
    );
    CREATE UNIQUE INDEX ticks_one_per_run ON ticks (run_id) WHERE run_id IS NOT NULL;
    CREATE INDEX ticks_pending ON ticks (scheduled_at, tick_id) WHERE status = 'pending';
    CREATE INDEX ticks_by_schedule ON ticks (schedule, tick_id);
    CREATE TABLE scheduler_lease (
        name        TEXT PRIMARY KEY,
        holder      TEXT NOT NULL,
        epoch       INTEGER NOT NULL,
        acquired_at TEXT NOT NULL,
        renewed_at  TEXT NOT NULL,
        expires_at  TEXT NOT NULL
    );
    CREATE TABLE file_state (
        schedule TEXT NOT NULL,
        path     TEXT NOT NULL,
        mtime_ns INTEGER NOT NULL,
        size     INTEGER NOT NULL,
        PRIMARY KEY (schedule, path)
    )
    """,
)

_TICK_COLUMNS = (
    "tick_id, schedule, scheduled_at, trigger, key, status, created_at, updated_at, reason, run_id, "
    "duplicate_of, parameters"
)


class SQLiteScheduleStore(SQLiteLease):
    """Schedules, ticks and the lease in the SQLite file of ``runs`` (a :class:`SQLiteStore`)."""

    def __init__(self, runs: SQLiteStore) -> None:
        self.runs = runs
        self.database = runs.database
        self.database.migrate(COMPONENT, MIGRATIONS)

    # -- fencing

    @staticmethod
    def _check_fence(db: sqlite3.Connection, fence: Fence) -> None:
        if fence is None:
            return
        row = db.execute("SELECT holder, epoch FROM scheduler_lease WHERE name = ?", (LEASE,)).fetchone()
        if row is None or (row[0], row[1]) != fence:
            holder = f"'{row[0]}'" if row else "nobody"
            raise LeaseLost(f"the scheduler lease is held by {holder} now; this scheduler stands by")

    # -- schedule state

    def states(self) -> dict[str, ScheduleState]:
        rows = self.database.query(
            "SELECT name, fingerprint, next_fire_at, paused, cursor, updated_at FROM schedule_state"
        )
        return {row[0]: _state(row) for row in rows}

    def save_states(self, states: Sequence[ScheduleState], fence: Fence, now: datetime) -> None:
        with self.database.transaction() as db:
            self._check_fence(db, fence)
            db.executemany(
                "INSERT INTO schedule_state (name, fingerprint, next_fire_at, cursor, updated_at) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET fingerprint = excluded.fingerprint, "
                "next_fire_at = excluded.next_fire_at, cursor = excluded.cursor, updated_at = excluded.updated_at",
                [
                    (state.name, state.fingerprint, _text(state.next_fire_at), _text(state.cursor), _text(now))
                    for state in states
                ],
            )

    def paused(self) -> set[str]:
        return {row[0] for row in self.database.query("SELECT name FROM schedule_state WHERE paused = 1")}

    def due(self, now: datetime, limit: int) -> list[ScheduleState]:
        rows = self.database.query(
            "SELECT name, fingerprint, next_fire_at, paused, cursor, updated_at FROM schedule_state "
            "WHERE paused = 0 AND next_fire_at IS NOT NULL AND next_fire_at <= ? ORDER BY next_fire_at LIMIT ?",
            (_text(now), limit),
        )
        return [_state(row) for row in rows]

    def set_paused(self, name: str, paused: bool, now: datetime, next_fire_at: datetime | None) -> ScheduleState:
        with self.database.transaction() as db:
            row = db.execute(
                "INSERT INTO schedule_state (name, fingerprint, next_fire_at, paused, updated_at) "
                "VALUES (?, '', ?, ?, ?) ON CONFLICT (name) DO UPDATE SET paused = excluded.paused, "
                "next_fire_at = CASE WHEN excluded.paused THEN next_fire_at ELSE excluded.next_fire_at END, "
                "updated_at = excluded.updated_at "
                "RETURNING name, fingerprint, next_fire_at, paused, cursor, updated_at",
                (name, _text(next_fire_at), int(paused), _text(now)),
            ).fetchone()
        return _state(row)

    # -- ticks

    def record_ticks(
        self, schedule: str, ticks: Sequence[NewTick], update: StateUpdate | None, fence: Fence, now: datetime
    ) -> list[TickRecord]:
        return self.record_batches([(schedule, ticks, update)], fence, now)

    def record_batches(self, batches: Sequence[TickBatch], fence: Fence, now: datetime) -> list[TickRecord]:
        with self.database.transaction() as db:
            self._check_fence(db, fence)
            rows = []
            for schedule, ticks, update in batches:
                ids = [self._insert_tick(db, tick, now) for tick in ticks]
                if update is not None:
                    self._apply(db, schedule, update, now)
                rows += [
                    db.execute(f"SELECT {_TICK_COLUMNS} FROM ticks WHERE tick_id = ?", (tick_id,)).fetchone()
                    for tick_id in ids
                    if tick_id is not None
                ]
        return [_tick(row) for row in rows]

    @staticmethod
    def _insert_tick(db: sqlite3.Connection, tick: NewTick, now: datetime) -> int | None:
        row = db.execute(
            "INSERT INTO ticks (schedule, scheduled_at, trigger, key, status, reason, duplicate_of, "
            "created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (schedule, key) DO NOTHING RETURNING tick_id",
            (
                tick.schedule,
                _text(tick.scheduled_at),
                tick.trigger.value,
                tick.key,
                tick.status.value,
                tick.reason,
                tick.duplicate_of,
                _text(now),
                _text(now),
            ),
        ).fetchone()
        return None if row is None else int(row[0])

    @staticmethod
    def _apply(db: sqlite3.Connection, schedule: str, update: StateUpdate, now: datetime) -> None:
        db.execute(
            "UPDATE schedule_state SET next_fire_at = COALESCE(?, next_fire_at), cursor = COALESCE(?, cursor), "
            "updated_at = ? WHERE name = ?",
            (_text(update.next_fire_at), _text(update.cursor), _text(now), schedule),
        )
        for path, signature in update.files.items():
            if signature is None:
                db.execute("DELETE FROM file_state WHERE schedule = ? AND path = ?", (schedule, path))
            else:
                db.execute(
                    "INSERT INTO file_state VALUES (?, ?, ?, ?) ON CONFLICT (schedule, path) DO UPDATE SET "
                    "mtime_ns = excluded.mtime_ns, size = excluded.size",
                    (schedule, path, signature[0], signature[1]),
                )

    def pending_ticks(self, schedule: str | None = None) -> list[TickRecord]:
        sql = f"SELECT {_TICK_COLUMNS} FROM ticks WHERE status = 'pending'"
        params: list[object] = []
        if schedule is not None:
            sql += " AND schedule = ?"
            params.append(schedule)
        return [_tick(row) for row in self.database.query(sql + " ORDER BY scheduled_at, tick_id", params)]

    def start_run(
        self,
        tick_id: int,
        run: RunRecord,
        nodes: Sequence[NodeRunRecord],
        *,
        owner: str | None,
        parameters: Mapping[str, Any],
        fence: Fence,
        now: datetime,
        dedupe: bool = True,
    ) -> StartResult:
        with self.database.transaction() as db:
            self._check_fence(db, fence)
            row = db.execute("SELECT status FROM ticks WHERE tick_id = ?", (tick_id,)).fetchone()
            if row is None or row[0] != TickStatus.PENDING.value:
                return StartResult(started=False)
            covering = self._covering_run(db, run) if dedupe else None
            if covering is not None:
                db.execute(
                    "UPDATE ticks SET status = ?, reason = ?, duplicate_of = ?, updated_at = ? WHERE tick_id = ?",
                    (TickStatus.DEDUPLICATED.value, _covered(covering), covering[0], _text(now), tick_id),
                )
                return StartResult(started=False, duplicate_of=covering[0])
            db.execute(
                "UPDATE ticks SET status = 'ran', run_id = ?, parameters = ?, updated_at = ? WHERE tick_id = ?",
                (run.run_id, json.dumps(dict(parameters)), _text(now), tick_id),
            )
            self._insert_run(db, run, nodes, owner, now)
            return StartResult(started=True)

    def create_tick_run(
        self,
        tick: NewTick,
        run: RunRecord,
        nodes: Sequence[NodeRunRecord],
        *,
        owner: str | None,
        parameters: Mapping[str, Any],
        fence: Fence,
        now: datetime,
        dedupe: bool = True,
    ) -> tuple[TickRecord | None, StartResult]:
        with self.database.transaction() as db:
            self._check_fence(db, fence)
            covering = self._covering_run(db, run) if dedupe else None
            if covering is not None:
                tick = replace(
                    tick, status=TickStatus.DEDUPLICATED, reason=_covered(covering), duplicate_of=covering[0]
                )
            tick_id = self._insert_tick(db, tick, now)
            if tick_id is None:
                return None, StartResult(started=False)
            if covering is None:
                db.execute(
                    "UPDATE ticks SET status = 'ran', run_id = ?, parameters = ? WHERE tick_id = ?",
                    (run.run_id, json.dumps(dict(parameters)), tick_id),
                )
                self._insert_run(db, run, nodes, owner, now)
            row = db.execute(f"SELECT {_TICK_COLUMNS} FROM ticks WHERE tick_id = ?", (tick_id,)).fetchone()
        return _tick(row), StartResult(started=covering is None, duplicate_of=covering[0] if covering else None)

    def _insert_run(
        self, db: sqlite3.Connection, run: RunRecord, nodes: Sequence[NodeRunRecord], owner: str | None, now: datetime
    ) -> None:
        self.runs.insert_run(db, run, nodes)
        if owner is not None:
            SQLiteRunControl.claim_in(db, run.run_id, owner, now)

    @staticmethod
    def _covering_run(db: sqlite3.Connection, run: RunRecord) -> tuple[str, str] | None:
        """A running or successful run of the same schedule and logical date, if any."""
        if run.schedule is None:
            return None
        row = db.execute(
            "SELECT run_id, status FROM runs WHERE schedule = ? AND logical_date = ? "
            "AND status IN ('running', 'success') ORDER BY created_at DESC LIMIT 1",
            (run.schedule, _text(run.logical_date)),
        ).fetchone()
        return None if row is None else (row[0], row[1])

    def close_tick(
        self,
        tick_id: int,
        status: TickStatus,
        reason: str,
        fence: Fence,
        now: datetime,
        duplicate_of: str | None = None,
    ) -> bool:
        with self.database.transaction() as db:
            self._check_fence(db, fence)
            cursor = db.execute(
                "UPDATE ticks SET status = ?, reason = ?, duplicate_of = ?, updated_at = ? "
                "WHERE tick_id = ? AND status = 'pending'",
                (status.value, reason, duplicate_of, _text(now), tick_id),
            )
            return cursor.rowcount == 1

    def list_ticks(self, schedule: str | None = None, limit: int = 50) -> list[TickRecord]:
        sql = f"SELECT {_TICK_COLUMNS} FROM ticks"
        params: list[object] = []
        if schedule is not None:
            sql += " WHERE schedule = ?"
            params.append(schedule)
        rows = self.database.query(sql + " ORDER BY scheduled_at DESC, tick_id DESC LIMIT ?", [*params, limit])
        return [_tick(row) for row in rows]

    def tick_for_run(self, run_id: str) -> TickRecord | None:
        rows = self.database.query(f"SELECT {_TICK_COLUMNS} FROM ticks WHERE run_id = ?", (run_id,))
        return _tick(rows[0]) if rows else None

    def last_ticks(self) -> dict[str, TickRecord]:
        rows = self.database.query(
            f"SELECT {_TICK_COLUMNS} FROM ticks WHERE tick_id IN (SELECT MAX(tick_id) FROM ticks GROUP BY schedule)"
        )
        return {row[1]: _tick(row) for row in rows}

    def file_state(self, schedule: str) -> dict[str, tuple[int, int]]:
        rows = self.database.query("SELECT path, mtime_ns, size FROM file_state WHERE schedule = ?", (schedule,))
        return {row[0]: (row[1], row[2]) for row in rows}


def _covered(covering: tuple[str, str]) -> str:
    return f"run {covering[0]} ({covering[1]}) already covers this schedule and logical date"


def _state(row: tuple) -> ScheduleState:
    return ScheduleState(
        name=row[0],
        fingerprint=row[1],
        next_fire_at=_time(row[2]),
        paused=bool(row[3]),
        cursor=_time(row[4]),
        updated_at=_time(row[5]),
    )


def _tick(row: tuple) -> TickRecord:
    return TickRecord(
        tick_id=row[0],
        schedule=row[1],
        scheduled_at=_time(row[2]),  # type: ignore[arg-type]
        trigger=Trigger(row[3]),
        key=row[4],
        status=TickStatus(row[5]),
        created_at=_time(row[6]),  # type: ignore[arg-type]
        updated_at=_time(row[7]),  # type: ignore[arg-type]
        reason=row[8],
        run_id=row[9],
        duplicate_of=row[10],
        parameters=json.loads(row[11]) if row[11] else {},
    )
