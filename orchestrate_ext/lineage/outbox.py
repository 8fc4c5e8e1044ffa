"""The lineage outbox: OpenLineage events kept in the state store until the collector has them.

Its table is the ``lineage`` component of the state store (SQLite or
PostgreSQL, statements written once). An event is written (``pending``) in the
observer's transaction, before anything is sent; the sender claims the oldest
due one (``sending``, with a lease) in one transaction, sends it outside any,
and settles it in another: ``sent``, back to ``pending`` with a later
``next_attempt_at``, or ``failed`` once it is too old. A claim whose process
died is taken over when its lease runs out, so each event is sent once after a
restart too; a second event with the same key is ignored. Every unit of work
is serialized with the others (``serialize("lineage")``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime

from orchestrate_ext.store import StateStore
from orchestrate_ext.store.sql import Component, Sql

PENDING = "pending"
SENDING = "sending"
SENT = "sent"
FAILED = "failed"

LINEAGE = Component(
    "lineage",
    (
        """
        CREATE TABLE lineage_outbox (
            id              {serial},
            key             TEXT NOT NULL UNIQUE,
            run_id          TEXT NOT NULL,
            event           TEXT NOT NULL,
            created_at      {time} NOT NULL,
            status          TEXT NOT NULL,
            attempts        INTEGER NOT NULL DEFAULT 0,
            next_attempt_at {time} NOT NULL,
            lease_until     {time},
            last_error      TEXT,
            sent_at         {time}
        );
        CREATE INDEX lineage_outbox_due ON lineage_outbox (status, next_attempt_at);
        """,
    ),
    tables=("lineage_outbox",),
)
"""The lineage outbox's part of the state store. Never edit a shipped step; add one."""

_COLUMNS = "id, key, run_id, event, created_at, status, attempts, next_attempt_at, last_error, sent_at"


@dataclass(frozen=True, slots=True)
class OutboxEvent:
    id: int
    key: str
    run_id: str
    event: str
    """The event's facts as JSON (:mod:`orchestrate_ext.lineage.facts`)."""
    created_at: datetime
    status: str
    attempts: int
    next_attempt_at: datetime
    last_error: str | None = None
    sent_at: datetime | None = None


class LineageTx:
    """One unit of work on the outbox."""

    def __init__(self, sql: Sql) -> None:
        self.sql = sql

    def _row(self, row: tuple) -> OutboxEvent:
        read = self.sql.read_time
        return OutboxEvent(
            id=int(row[0]),
            key=row[1],
            run_id=row[2],
            event=row[3],
            created_at=read(row[4]),  # type: ignore[arg-type]
            status=row[5],
            attempts=int(row[6]),
            next_attempt_at=read(row[7]),  # type: ignore[arg-type]
            last_error=row[8],
            sent_at=read(row[9]),
        )

    def add(self, key: str, run_id: str, event: str, now: datetime) -> bool:
        """Keep ``event`` to be sent; False when an event with ``key`` is kept already."""
        cursor = self.sql.execute(
            "INSERT INTO lineage_outbox (key, run_id, event, created_at, status, next_attempt_at) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (key) DO NOTHING",
            (key, run_id, event, self.sql.time(now), PENDING, self.sql.time(now)),
        )
        return cursor.rowcount == 1

    def claim_next(self, now: datetime, lease_until: datetime) -> OutboxEvent | None:
        """The oldest event due now (or whose claim expired), claimed until ``lease_until``."""
        row = self.sql.execute(
            f"SELECT {_COLUMNS} FROM lineage_outbox WHERE (status = ? AND next_attempt_at <= ?) "
            "OR (status = ? AND lease_until <= ?) ORDER BY id LIMIT 1",
            (PENDING, self.sql.time(now), SENDING, self.sql.time(now)),
        ).fetchone()
        if row is None:
            return None
        self.sql.execute(
            "UPDATE lineage_outbox SET status = ?, lease_until = ?, attempts = attempts + 1 WHERE id = ?",
            (SENDING, self.sql.time(lease_until), row[0]),
        )
        found = self._row(row)
        return replace(found, status=SENDING, attempts=found.attempts + 1)

    def settle(
        self,
        event_id: int,
        status: str,
        *,
        error: str | None = None,
        sent_at: datetime | None = None,
        next_attempt_at: datetime | None = None,
    ) -> None:
        self.sql.execute(
            "UPDATE lineage_outbox SET status = ?, last_error = ?, sent_at = COALESCE(?, sent_at), "
            "next_attempt_at = COALESCE(?, next_attempt_at), lease_until = NULL WHERE id = ?",
            (status, error, self.sql.time(sent_at), self.sql.time(next_attempt_at), event_id),
        )

    def release(self, now: datetime) -> None:
        """Make every claimed and pending event due now (``orchestrate lineage deliver``)."""
        self.sql.execute(
            "UPDATE lineage_outbox SET status = ?, next_attempt_at = ?, lease_until = NULL WHERE status IN (?, ?)",
            (PENDING, self.sql.time(now), PENDING, SENDING),
        )

    def counts(self) -> dict[str, int]:
        rows = self.sql.execute("SELECT status, COUNT(*) FROM lineage_outbox GROUP BY status").fetchall()
        return {str(status): int(count) for status, count in rows}

    def events(self, statuses: tuple[str, ...] = (), limit: int = 100) -> list[OutboxEvent]:
        where = f"WHERE status IN ({', '.join('?' * len(statuses))}) " if statuses else ""
        rows = self.sql.execute(
            f"SELECT {_COLUMNS} FROM lineage_outbox {where}ORDER BY id LIMIT ?", (*statuses, limit)
        ).fetchall()
        return [self._row(row) for row in rows]


class LineageOutbox:
    """The outbox in the engine's state store: one :class:`LineageTx` per unit of work."""

    def __init__(self, store: StateStore) -> None:
        self.store = store
        store.register(LINEAGE)

    @contextmanager
    def transaction(self) -> Iterator[LineageTx]:
        with self.store.transaction() as tx:
            sql = tx.component_sql(LINEAGE)
            sql.serialize("lineage")
            yield LineageTx(sql)
