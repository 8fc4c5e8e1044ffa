"""One SQLite file shared by every part of the state store.

Each part (runs, schedules, the alert outbox, ...) owns its tables and
migrates them with its own list of migrations, versioned by component in
the ``schema_versions`` table, so parts evolve without touching each other.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from orchestrate_ext.clock import to_utc
from orchestrate_ext.errors import StoreError


def time_text(value: datetime | None) -> str | None:
    """A datetime as stored: ISO-8601 in UTC with microseconds (sorts as text)."""
    return None if value is None else to_utc(value).isoformat(timespec="microseconds")


def text_time(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


class SQLiteDatabase:
    """A SQLite connection in WAL mode, safe across threads and processes.

    One connection guarded by a lock serves every thread of a process; other
    processes share the file through WAL and a busy timeout. Every write is
    one ``BEGIN IMMEDIATE`` transaction.
    """

    def __init__(self, path: Path, busy_timeout: float = 30.0) -> None:
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(path, timeout=busy_timeout, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("PRAGMA foreign_keys=ON")
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS schema_versions (component TEXT PRIMARY KEY, version INTEGER NOT NULL)"
            )
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(f"cannot open the state store {path}: {exc}") from exc
        self._lock = threading.RLock()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction; rolled back if the block raises."""
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    yield self._db
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise
                self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                raise StoreError(f"state store {self.path}: {exc}") from exc

    def query(self, sql: str, params: Sequence[object] = ()) -> list[tuple]:
        with self._lock:
            try:
                return self._db.execute(sql, params).fetchall()
            except sqlite3.Error as exc:
                raise StoreError(f"state store {self.path}: {exc}") from exc

    def migrate(self, component: str, migrations: Sequence[str]) -> None:
        """Bring ``component``'s tables to ``len(migrations)``; never edit a shipped migration."""
        with self.transaction() as db:
            row = db.execute("SELECT version FROM schema_versions WHERE component = ?", (component,)).fetchone()
            version = row[0] if row else 0
            if version > len(migrations):
                raise StoreError(
                    f"the state store {self.path} has {component} schema version {version}, newer than this "
                    f"orchestrate-ext understands ({len(migrations)}); upgrade orchestrate-ext"
                )
            for number in range(version, len(migrations)):
                for statement in migrations[number].split(";"):
                    if statement.strip():
                        db.execute(statement)
            db.execute(
                "INSERT INTO schema_versions VALUES (?, ?) ON CONFLICT (component) DO UPDATE SET version = ?",
                (component, len(migrations), len(migrations)),
            )

    def close(self) -> None:
        with self._lock:
            self._db.close()
