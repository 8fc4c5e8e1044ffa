"""The state store on PostgreSQL (psycopg 3 and psycopg_pool): one history, lease and set of ticks for a team.

Connections come from a pool; each unit of work that may write is one
transaction at READ COMMITTED (the fenced writes are conditional writes or take
row locks, see :mod:`orchestrate_ext.store.claims_sql`); a read is one
``REPEATABLE READ READ ONLY`` transaction, so every statement of it sees the
same snapshot.

A unit of work runs in psycopg's pipeline mode: a statement is sent at once but
its result is waited for only when the code reads it (its rows, row count or
columns), and then every statement queued before it is answered in the same
round trip. ``BEGIN``, the statements whose results are not read (the
``node_latest`` upkeep, inserts, advisory locks) and ``COMMIT`` so cost no round
trip of their own. An error of a queued statement is raised when a later result
is read or at the commit, always inside the unit of work, which is then rolled
back: a unit of work stays all or nothing.
:meth:`PostgresSql.serialize` takes a transaction-level advisory lock keyed by
the current schema and a name. The password comes from libpq's usual places
(``PGPASSWORD``, ``~/.pgpass``) or from a URL held in an environment
variable; it is never shown: :attr:`PostgresStore.location` and every error
message carry the URL without it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import psycopg
from psycopg import errors as pg_errors
from psycopg_pool import ConnectionPool, PoolTimeout

from orchestrate_ext.errors import StoreConflict, StoreError
from orchestrate_ext.redact import Redactor, url_password
from orchestrate_ext.store.protocol import StateStore
from orchestrate_ext.store.sql import POSTGRESQL, Dialect, Result, Sql

DIALECT = Dialect(name=POSTGRESQL, lock_rows=" FOR UPDATE")
CONNECT_TIMEOUT_SECONDS = 10
_BEGIN_WRITE = "BEGIN"
_BEGIN_READ = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"


@lru_cache(maxsize=1024)
def _cached_placeholders(statement: str) -> str:
    return _numbered(statement)


def _numbered(statement: str) -> str:
    parts = statement.split("?")
    return "".join(f"{part}${number}" for number, part in enumerate(parts[:-1], 1)) + parts[-1]


def _placeholders(statement: str) -> str:
    """``?`` placeholders as PostgreSQL's own ``$1, $2, ...``.

    Statements go through psycopg's ``RawCursor``, which sends them as they are:
    psycopg's parsing of ``%s`` costs milliseconds on a multi-row insert of a few
    thousand values, and it caches only short statements.
    """
    return _cached_placeholders(statement) if len(statement) <= 4096 else _numbered(statement)


def without_password(url: str) -> str:
    """``url`` with any password replaced by ``***`` (URLs, and ``password=`` in key/value strings).

    A URL whose password does not parse (an unencoded space, ``%``, ``@`` or ``/``) loses it too:
    the password runs from the user's ``:`` to the last ``@``.
    """
    if url_password(url) is not None:
        head, _, host = url.rpartition("@")
        scheme, _, userinfo = head.partition("://")
        url = f"{scheme}://{userinfo.partition(':')[0]}:***@{host}"
    return re.sub(r"(password\s*=\s*)\S+", r"\1***", url, flags=re.IGNORECASE)


class _Pending:
    """A statement's result in pipeline mode, waited for when it is first read."""

    __slots__ = ("_cursor", "_number", "_session")

    def __init__(self, cursor: psycopg.Cursor[Any], session: PostgresSql, number: int) -> None:
        self._cursor = cursor
        self._session = session
        self._number = number

    def _ready(self) -> psycopg.Cursor[Any]:
        self._session.wait_for(self._number)
        return self._cursor

    @property
    def rowcount(self) -> int:
        return self._ready().rowcount

    @property
    def description(self) -> Any:
        return self._ready().description

    def fetchone(self) -> Any:
        return self._ready().fetchone()

    def fetchmany(self, size: int) -> list[Any]:
        return self._ready().fetchmany(size)

    def fetchall(self) -> list[Any]:
        return self._ready().fetchall()


class PostgresSql(Sql):
    """A :class:`Sql` session on one pooled connection in pipeline mode, inside one transaction."""

    dialect = DIALECT

    def __init__(self, connection: psycopg.Connection[Any], pipeline: psycopg.Pipeline) -> None:
        self.connection = connection
        self.pipeline = pipeline
        self._sent = 0
        """Statements sent so far."""
        self._answered = 0
        """Statements whose results have arrived (all those sent before the last sync)."""

    def execute(self, statement: str, params: Sequence[object] = ()) -> Result:
        cursor = self.connection.execute(_placeholders(statement), params)
        self._sent += 1
        return _Pending(cursor, self, self._sent)

    def executemany(self, statement: str, rows: Sequence[Sequence[object]]) -> int:
        if not rows:
            return 0
        with self.connection.cursor() as cursor:
            cursor.executemany(_placeholders(statement), rows)
            self._sent += 1
            self.wait_for(self._sent)
            return max(cursor.rowcount, 0)  # psycopg 3.1+: the sum over the rows

    def wait_for(self, number: int) -> None:
        """Make sure statement ``number`` (and every one before it) has been answered: one round trip."""
        if number > self._answered:
            self.pipeline.sync()
            self._answered = self._sent

    def time(self, value: datetime | None) -> object:
        return value

    def read_time(self, value: object) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime), f"expected a timestamptz, got {value!r}"
        return value.astimezone(UTC)

    def serialize(self, key: str) -> None:
        self.execute("SELECT pg_advisory_xact_lock(hashtextextended(current_schema() || ':' || ?, 0))", (key,))

    def serialize_all(self, keys: Sequence[str]) -> None:
        if keys:  # unnest() yields the keys in the array's order, and each row's lock is taken as it comes
            self.execute(
                "SELECT pg_advisory_xact_lock(hashtextextended(current_schema() || ':' || k, 0)) "
                "FROM unnest(CAST(? AS TEXT[])) AS t(k)",
                (sorted(set(keys)),),
            )


class PostgresStore(StateStore):
    """The :class:`StateStore` in the PostgreSQL database at ``url``."""

    backend = POSTGRESQL

    def __init__(self, url: str, *, read_only: bool = False, pool_size: int = 10) -> None:
        super().__init__()
        self.location = without_password(url)
        self._redact = Redactor([url])
        """Removes the URL's password, and pieces of it, from libpq's and psycopg's messages."""
        self.read_only = read_only
        self._check_connection(url)
        self._pool = ConnectionPool(
            url,
            min_size=1,
            max_size=pool_size,
            kwargs={
                "autocommit": True,
                "connect_timeout": CONNECT_TIMEOUT_SECONDS,
                "cursor_factory": psycopg.RawCursor,
            },
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
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return without_password(self._redact(text))

    @contextmanager
    def _session(self, *, write: bool) -> Iterator[Sql]:
        try:
            with self._pool.connection() as connection:
                try:
                    with connection.pipeline() as pipeline:
                        connection.execute(_BEGIN_WRITE if write else _BEGIN_READ)
                        try:
                            yield PostgresSql(connection, pipeline)
                        except BaseException:
                            _roll_back(connection, pipeline)
                            raise
                        connection.execute("COMMIT")  # sent with the pipeline's closing sync: one round trip
                except psycopg.Error:
                    _end_failed(connection)
                    raise
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


def _roll_back(connection: psycopg.Connection[Any], pipeline: psycopg.Pipeline) -> None:
    """End a unit of work whose code raised: collect what is still queued (its errors are not the news) and
    queue the ``ROLLBACK`` (sent by the pipeline's closing sync)."""
    with suppress(psycopg.Error):
        pipeline.sync()
    if connection.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
        connection.execute("ROLLBACK")


def _end_failed(connection: psycopg.Connection[Any]) -> None:
    """Roll back what a failed commit (or rollback) left open; a connection this leaves broken is discarded by
    the pool."""
    with suppress(psycopg.Error):
        if connection.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
            connection.execute("ROLLBACK")
