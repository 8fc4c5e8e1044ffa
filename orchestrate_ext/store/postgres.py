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

A lost connection (the server stopped, restarted or cannot be reached) raises
:class:`~orchestrate_ext.errors.StoreUnreachable`, marked ``commit_unknown`` when
it was lost while the ``COMMIT`` was on its way; the pool drops broken
connections and opens new ones with a backoff, and
:meth:`PostgresStore._wait_until_reachable` tries the server with a backoff (see
:meth:`StateStore.retrying <orchestrate_ext.store.protocol.StateStore.retrying>`).
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import psycopg
from psycopg import errors as pg_errors
from psycopg_pool import ConnectionPool, PoolTimeout

from orchestrate_ext.errors import StoreConflict, StoreError, StoreUnreachable
from orchestrate_ext.model import DEFAULT_OUTAGE_WAIT
from orchestrate_ext.redact import Redactor, url_password
from orchestrate_ext.store.protocol import StateStore
from orchestrate_ext.store.sql import POSTGRESQL, Dialect, Result, Sql

DIALECT = Dialect(name=POSTGRESQL, lock_rows=" FOR UPDATE")
CONNECT_TIMEOUT_SECONDS = 10
_BACKOFF_FIRST, _BACKOFF_MOST = 0.25, 5.0
"""Seconds between two tries of an unreachable server: doubling from the first, up to the most."""
_DRIVER_NOISE = (
    "error ignored terminating",
    "discarding broken connection",
    "discarding closed connection",
    "error connecting in",
)
"""The beginnings of psycopg's and psycopg_pool's warnings about a lost server: the store says it once itself."""
_SERVER_GOING = (pg_errors.AdminShutdown, pg_errors.CrashShutdown, pg_errors.CannotConnectNow)
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

    def __init__(
        self,
        url: str,
        *,
        read_only: bool = False,
        pool_size: int = 10,
        outage_wait: float = DEFAULT_OUTAGE_WAIT,
    ) -> None:
        super().__init__()
        self.location = without_password(url)
        self._url = url
        self._redact = Redactor([url])
        """Removes the URL's password, and pieces of it, from libpq's and psycopg's messages."""
        self.read_only = read_only
        self.outage_wait = outage_wait
        _quiet_driver_logs()
        self._check_connection(url)
        self._pool = ConnectionPool(
            url,
            min_size=1,
            max_size=pool_size,
            reconnect_timeout=max(outage_wait, 300.0),
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
            reason = self._reason(exc)
            raise StoreUnreachable(
                f"the state store {self.location} is unreachable: {reason}; check that the database server runs "
                "and that state.url (or state.url_env) names it",
                reason=reason,
            ) from exc

    def _wait_until_reachable(self, deadline: float) -> bool:
        """Try the server with a backoff until it answers (then drop the pool's broken connections) or
        ``deadline`` passes."""
        pause = _BACKOFF_FIRST
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            try:
                timeout = max(1, min(CONNECT_TIMEOUT_SECONDS, int(left)))
                psycopg.connect(self._url, connect_timeout=timeout, autocommit=True).close()
            except psycopg.Error:
                time.sleep(max(0.0, min(pause, deadline - time.monotonic())))
                pause = min(pause * 2, _BACKOFF_MOST)
                continue
            self._pool.check()
            return True

    def _reason(self, exc: BaseException) -> str:
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return without_password(self._redact(text))

    @contextmanager
    def _session(self, *, write: bool) -> Iterator[Sql]:
        used: psycopg.Connection[Any] | None = None
        committing = False
        try:
            with self._pool.connection() as connection:
                used = connection
                try:
                    with connection.pipeline() as pipeline:
                        connection.execute(_BEGIN_WRITE if write else _BEGIN_READ)
                        try:
                            yield PostgresSql(connection, pipeline)
                        except BaseException:
                            _roll_back(connection, pipeline)
                            raise
                        connection.execute("COMMIT")  # sent with the pipeline's closing sync: one round trip
                        committing = True
                except psycopg.Error:
                    _end_failed(connection)
                    raise
        except pg_errors.UniqueViolation as exc:
            raise StoreConflict(f"state store {self.location}: {self._reason(exc)}") from exc
        except pg_errors.ReadOnlySqlTransaction as exc:
            raise StoreError(f"the state store {self.location} was opened read-only: {self._reason(exc)}") from exc
        except PoolTimeout as exc:
            raise self._unreachable(exc, commit_unknown=False) from exc
        except psycopg.Error as exc:
            if _connection_lost(exc, used):
                raise self._unreachable(exc, commit_unknown=committing and write) from exc
            raise StoreError(f"state store {self.location}: {self._reason(exc)}") from exc

    def _unreachable(self, exc: BaseException, *, commit_unknown: bool) -> StoreUnreachable:
        reason = self._reason(exc)
        return StoreUnreachable(
            f"the state store {self.location} is unreachable: {reason}", reason=reason, commit_unknown=commit_unknown
        )

    def _has_schema_table(self, sql: Sql) -> bool:
        row = sql.execute("SELECT to_regclass('schema_versions') IS NOT NULL").fetchone()
        return bool(row and row[0])

    def close(self) -> None:
        self._pool.close()


class _QuietOutage(logging.Filter):
    """Drops the driver's warnings about a lost server (one per connection and reconnection attempt)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (isinstance(record.msg, str) and record.msg.startswith(_DRIVER_NOISE))


_QUIET = _QuietOutage()


def _quiet_driver_logs() -> None:
    for name in ("psycopg", "psycopg.pool"):  # a logger's filter sees only its own records, not its children's
        logger = logging.getLogger(name)
        if _QUIET not in logger.filters:
            logger.addFilter(_QUIET)


def _connection_lost(exc: psycopg.Error, connection: psycopg.Connection[Any] | None) -> bool:
    """Whether ``exc`` says the server went away (rather than that a statement failed)."""
    if isinstance(exc, _SERVER_GOING):
        return True
    return isinstance(exc, psycopg.OperationalError) and (connection is None or connection.broken)


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
