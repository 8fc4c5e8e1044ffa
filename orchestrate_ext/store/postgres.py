"""The state store on PostgreSQL (psycopg 3 and psycopg_pool): one history, lease and set of ticks for a team.

Connections come from a pool; each unit of work is one transaction at READ
COMMITTED (the fenced writes are conditional writes or take row locks, see
:mod:`orchestrate_ext.store.claims_sql`), a read is a ``READ ONLY`` one.
:meth:`PostgresSql.serialize` takes a transaction-level advisory lock keyed by
the current schema and a name. The password comes from libpq's usual places
(``PGPASSWORD``, ``~/.pgpass``) or from a URL held in an environment
variable; it is never shown: :attr:`PostgresStore.location` and every error
message carry the URL without it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import psycopg
from psycopg import errors as pg_errors
from psycopg_pool import ConnectionPool, PoolTimeout

from orchestrate_ext.errors import StoreConflict, StoreError
from orchestrate_ext.store.protocol import StateStore
from orchestrate_ext.store.sql import POSTGRESQL, Dialect, Result, Sql

DIALECT = Dialect(name=POSTGRESQL, lock_rows=" FOR UPDATE")
CONNECT_TIMEOUT_SECONDS = 10


@lru_cache(maxsize=1024)
def _placeholders(statement: str) -> str:
    """``?`` placeholders as psycopg's ``%s`` (a literal ``%`` doubled)."""
    return statement.replace("%", "%%").replace("?", "%s")


def without_password(url: str) -> str:
    """``url`` with any password replaced by ``***`` (URLs, and ``password=`` in key/value strings)."""
    url = re.sub(r"(://[^:/@\s]*):[^@/\s]*@", r"\1:***@", url)
    return re.sub(r"(password\s*=\s*)\S+", r"\1***", url, flags=re.IGNORECASE)


class PostgresSql(Sql):
    """A :class:`Sql` session on one pooled connection, inside one transaction."""

    dialect = DIALECT

    def __init__(self, connection: psycopg.Connection[Any]) -> None:
        self.connection = connection

    def execute(self, statement: str, params: Sequence[object] = ()) -> Result:
        return self.connection.execute(_placeholders(statement), params)

    def executemany(self, statement: str, rows: Sequence[Sequence[object]]) -> int:
        with self.connection.cursor() as cursor:
            cursor.executemany(_placeholders(statement), rows)
            return max(cursor.rowcount, 0)  # psycopg 3.1+: the sum over the rows

    def time(self, value: datetime | None) -> object:
        return value

    def read_time(self, value: object) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime), f"expected a timestamptz, got {value!r}"
        return value.astimezone(UTC)

    def serialize(self, key: str) -> None:
        self.connection.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended(current_schema() || ':' || %s, 0))", (key,)
        )


class PostgresStore(StateStore):
    """The :class:`StateStore` in the PostgreSQL database at ``url``."""

    backend = POSTGRESQL

    def __init__(self, url: str, *, read_only: bool = False, pool_size: int = 10) -> None:
        super().__init__()
        self.location = without_password(url)
        self.read_only = read_only
        self._check_connection(url)
        self._pool = ConnectionPool(
            url,
            min_size=1,
            max_size=pool_size,
            kwargs={"autocommit": True, "connect_timeout": CONNECT_TIMEOUT_SECONDS},
            open=True,
            name="orchestrate-state",
        )
        try:
            self._open_core()
        except BaseException:
            self._pool.close()
            raise

    def _check_connection(self, url: str) -> None:
        """Fail early, with libpq's reason, when the server cannot be reached."""
        try:
            psycopg.connect(url, connect_timeout=CONNECT_TIMEOUT_SECONDS, autocommit=True).close()
        except psycopg.Error as exc:
            raise StoreError(f"cannot connect to the state store {self.location}: {self._reason(exc)}") from exc

    def _reason(self, exc: BaseException) -> str:
        return without_password(str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__)

    @contextmanager
    def _session(self, *, write: bool) -> Iterator[Sql]:
        try:
            with self._pool.connection() as connection, connection.transaction():
                if not write:
                    connection.execute("SET TRANSACTION READ ONLY")
                yield PostgresSql(connection)
        except pg_errors.UniqueViolation as exc:
            raise StoreConflict(f"state store {self.location}: {self._reason(exc)}") from exc
        except pg_errors.ReadOnlySqlTransaction as exc:
            raise StoreError(f"the state store {self.location} was opened read-only: {self._reason(exc)}") from exc
        except (psycopg.Error, PoolTimeout) as exc:
            raise StoreError(f"state store {self.location}: {self._reason(exc)}") from exc

    def _has_schema_table(self, sql: Sql) -> bool:
        row = sql.execute("SELECT to_regclass('schema_versions') IS NOT NULL").fetchone()
        return bool(row and row[0])

    def close(self) -> None:
        self._pool.close()
