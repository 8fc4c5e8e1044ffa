"""The scheduler lease in SQLite: one row, taken in a write transaction, fencing every scheduler write."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import datetime, timedelta

from orchestrate_ext.scheduling.store import Lease
from orchestrate_ext.store.database import SQLiteDatabase
from orchestrate_ext.store.database import text_time as _time
from orchestrate_ext.store.database import time_text as _text

LEASE = "scheduler"
_LEASE_COLUMNS = "holder, epoch, acquired_at, renewed_at, expires_at"


class SQLiteLease:
    """The lease part of :class:`~orchestrate_ext.scheduling.sqlite_store.SQLiteScheduleStore`."""

    database: SQLiteDatabase

    def acquire_lease(
        self, holder: str, now: datetime, ttl: float, holder_is_dead: Callable[[Lease], bool]
    ) -> Lease | None:
        expires = now + timedelta(seconds=ttl)
        with self.database.transaction() as db:
            current = _lease(db.execute(f"SELECT {_LEASE_COLUMNS} FROM scheduler_lease WHERE name = ?", (LEASE,)))
            if current is not None and current.holder == holder:
                db.execute(
                    "UPDATE scheduler_lease SET renewed_at = ?, expires_at = ? WHERE name = ?",
                    (_text(now), _text(expires), LEASE),
                )
                return Lease(holder, current.epoch, current.acquired_at, now, expires)
            if current is not None and current.expires_at > now and not holder_is_dead(current):
                return None
            epoch = (current.epoch if current else 0) + 1
            db.execute(
                "INSERT INTO scheduler_lease VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET "
                "holder = excluded.holder, epoch = excluded.epoch, acquired_at = excluded.acquired_at, "
                "renewed_at = excluded.renewed_at, expires_at = excluded.expires_at",
                (LEASE, holder, epoch, _text(now), _text(now), _text(expires)),
            )
            return Lease(holder, epoch, now, now, expires)

    def release_lease(self, holder: str) -> None:
        """Let the lease expire at once (the holder's name stays, for ``scheduler_status``)."""
        with self.database.transaction() as db:
            db.execute(
                "UPDATE scheduler_lease SET expires_at = renewed_at WHERE name = ? AND holder = ?", (LEASE, holder)
            )

    def get_lease(self) -> Lease | None:
        with self.database.transaction() as db:
            return _lease(db.execute(f"SELECT {_LEASE_COLUMNS} FROM scheduler_lease WHERE name = ?", (LEASE,)))


def _lease(cursor: sqlite3.Cursor) -> Lease | None:
    row = cursor.fetchone()
    if row is None:
        return None
    return Lease(row[0], row[1], _time(row[2]), _time(row[3]), _time(row[4]))  # type: ignore[arg-type]
