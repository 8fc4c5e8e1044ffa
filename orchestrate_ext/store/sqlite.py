"""The default state store: one SQLite file in WAL mode (nothing to install or start).

One connection guarded by a lock serves every thread of a process; other
processes share the file through WAL and a busy timeout. A write unit of work
is one ``BEGIN IMMEDIATE`` transaction, so write transactions exclude each
other (the fences need nothing more); a read is a ``BEGIN`` (one snapshot)
with ``query_only`` on.
Opened read-only, the file is opened with ``mode=ro`` and never migrated; a
file that does not exist yet reads as an empty store and is not created.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from orchestrate_ext.clock import to_utc
from orchestrate_ext.errors import StoreConflict, StoreError
from orchestrate_ext.store.protocol import StateStore
from orchestrate_ext.store.sql import SQLITE, Dialect, Result, Sql

DIALECT = Dialect(name=SQLITE, lock_rows="")


class SQLiteSql(Sql):
    """A :class:`Sql` session on the store's connection, inside one transaction."""

    dialect = DIALECT

    def __init__(self, connection: sqlite3.Connection) -> None:
        self.connection = connection

    def execute(self, statement: str, params: Sequence[object] = ()) -> Result:
        return self.connection.execute(statement, params)

    def executemany(self, statement: str, rows: Sequence[Sequence[object]]) -> int:
        return max(self.connection.executemany(statement, rows).rowcount, 0)

    def time(self, value: datetime | None) -> object:
        return None if value is None else to_utc(value).isoformat(timespec="microseconds")

    def read_time(self, value: object) -> datetime | None:
        return None if value is None else datetime.fromisoformat(str(value))

    def serialize(self, key: str) -> None:
        """Nothing to do: SQLite runs one write transaction at a time."""

    def serialize_all(self, keys: Sequence[str]) -> None:
        """Nothing to do: SQLite runs one write transaction at a time."""


class SQLiteStore(StateStore):
    """The :class:`StateStore` in the SQLite file at ``path``."""

    backend = SQLITE

    def __init__(self, path: Path, *, read_only: bool = False, busy_timeout: float = 30.0) -> None:
        super().__init__()
        self.path = path
        self.location = str(path)
        self.read_only = read_only
        self._lock = threading.RLock()
        self._in_transaction = threading.local()
        self._scratch = read_only and not path.exists()
        self._db = self._connect(busy_timeout)
        self._open_core()

    def _connect(self, busy_timeout: float) -> sqlite3.Connection:
        try:
            if self._scratch:  # not created yet: read as an empty store, its schema in memory, no file made
                return sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
            if self.read_only:
                return self._connect_read_only(busy_timeout)
            if self.path.is_dir():
                raise StoreError(f"the state store {self.path} is a folder; set `state.path` to a file path")
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self.path, timeout=busy_timeout, isolation_level=None, check_same_thread=False)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute("PRAGMA foreign_keys=ON")
            return db
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(f"cannot open the state store {self.path}: {exc}") from exc

    def _connect_read_only(self, busy_timeout: float) -> sqlite3.Connection:
        """``mode=ro``; where SQLite cannot even add its shared-memory file beside the database (a
        read-only folder), the file is read as immutable."""
        uri = f"{self.path.resolve().as_uri()}?mode=ro"
        try:
            db = sqlite3.connect(uri, uri=True, timeout=busy_timeout, isolation_level=None, check_same_thread=False)
            db.execute("SELECT 1 FROM sqlite_master LIMIT 1")
            return db
        except sqlite3.OperationalError:
            return sqlite3.connect(
                f"{uri}&immutable=1", uri=True, timeout=busy_timeout, isolation_level=None, check_same_thread=False
            )

    @contextmanager
    def _session(self, *, write: bool) -> Iterator[Sql]:
        with self._lock:
            if getattr(self._in_transaction, "active", False):
                raise StoreError("a state store transaction was started inside another one on the same thread")
            self._in_transaction.active = True
            try:
                yield from self._transaction(write)
            finally:
                self._in_transaction.active = False

    def _transaction(self, write: bool) -> Iterator[Sql]:
        try:
            self._db.execute(f"PRAGMA query_only = {0 if write else 1}")
            self._db.execute("BEGIN IMMEDIATE" if write else "BEGIN")
        except sqlite3.Error as exc:
            raise self._error(exc) from exc
        try:
            yield SQLiteSql(self._db)
        except BaseException as exc:
            self._rollback()
            if isinstance(exc, sqlite3.IntegrityError):
                raise StoreConflict(f"state store {self.path}: {exc}") from exc
            if isinstance(exc, sqlite3.Error):
                raise self._error(exc) from exc
            raise
        try:
            self._db.execute("COMMIT")
        except sqlite3.Error as exc:
            self._rollback()
            raise self._error(exc) from exc

    def _rollback(self) -> None:
        """Roll back what is left: SQLite may have rolled back already (a full disk does), and a failed
        rollback must never hide the error that caused it."""
        if self._db.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                self._db.execute("ROLLBACK")

    def _error(self, exc: sqlite3.Error) -> StoreError:
        if getattr(exc, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL:
            return StoreError(
                f"the state store {self.path} cannot be written: its disk is full (or the database reached its size "
                "limit). Free space on that disk, or move the store with `state.path` in orchestrate.yaml; then "
                "`orchestrate retry <run>` continues a run that stopped"
            )
        return StoreError(f"state store {self.path}: {exc}")

    def _has_schema_table(self, sql: Sql) -> bool:
        row = sql.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_versions'").fetchone()
        return row is not None

    def close(self) -> None:
        with self._lock:
            self._db.close()
