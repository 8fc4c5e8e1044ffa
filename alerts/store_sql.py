"""The :class:`~alerts.store.AlertStore` as a component of the engine's state store (SQLite or PostgreSQL).

The alerts' tables are registered with the store as the ``alerts`` component
(:mod:`alerts.store_schema`); their statements are written once and run on
either backend. Every unit of work is serialized with the others
(``serialize("alerts")``), so composing, claiming a message to deliver and
settling an SLA are never done twice by two processes at once.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime
from typing import Any

from alerts.content import AlertContent
from alerts.store import (
    ARMED,
    DROPPED,
    FAILED,
    PENDING,
    SENDING,
    SENT,
    AlertEvent,
    Freshness,
    Incident,
    NewMessage,
    OutboxMessage,
    SlaRecord,
)
from alerts.store_schema import ALERTS
from orchestrate_ext.store import StateStore
from orchestrate_ext.store.sql import Sql

_MESSAGE_COLUMNS = (
    "id, key, channel, target, action, content, status, attempts, created_at, next_attempt_at, route, "
    "parent_id, broadcast, fallback_of, last_error, sent_at, result, fallbacks"
)


def _message(row: tuple, text_time: Callable[[object], datetime | None]) -> OutboxMessage:
    return OutboxMessage(
        id=row[0],
        key=row[1],
        channel=row[2],
        target=row[3],
        action=row[4],
        content=AlertContent.from_json(row[5]),
        status=row[6],
        attempts=row[7],
        created_at=text_time(row[8]),  # type: ignore[arg-type]
        next_attempt_at=text_time(row[9]),  # type: ignore[arg-type]
        route=row[10],
        parent_id=row[11],
        broadcast=bool(row[12]),
        fallback_of=row[13],
        last_error=row[14],
        sent_at=text_time(row[15]),
        result=json.loads(row[16]) if row[16] else None,
        fallbacks=tuple((str(a), str(b), str(c)) for a, b, c in json.loads(row[17])),
    )


def _incident(row: tuple, text_time: Callable[[object], datetime | None]) -> Incident:
    return Incident(
        id=row[0],
        scope=row[1],
        node_id=row[2],
        status=row[3],
        opened_at=text_time(row[4]),  # type: ignore[arg-type]
        last_failure_at=text_time(row[5]),  # type: ignore[arg-type]
        last_notified_at=text_time(row[6]),  # type: ignore[arg-type]
        failures=row[7],
        first_run_id=row[8],
        last_run_id=row[9],
    )


class SqlAlertTx:
    """:class:`~alerts.store.AlertTx` on one unit of work of the state store."""

    def __init__(self, sql: Sql) -> None:
        self.sql = sql

    def _one(self, statement: str, params: tuple[Any, ...] = ()) -> tuple | None:
        row: tuple | None = self.sql.execute(statement, params).fetchone()
        return row

    # events

    def add_event(self, event: AlertEvent) -> bool:
        cursor = self.sql.execute(
            "INSERT INTO alert_events (key, kind, run_id, scope, node_id, created_at, payload) "
            "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (key) DO NOTHING",
            (
                event.key,
                event.kind,
                event.run_id,
                event.scope,
                event.node_id,
                self.sql.time(event.created_at),
                json.dumps(event.payload, sort_keys=True),
            ),
        )
        return cursor.rowcount == 1

    _EVENT = "SELECT id, key, kind, run_id, scope, node_id, created_at, payload FROM alert_events "

    def _event(self, row: tuple) -> AlertEvent:
        return AlertEvent(
            id=row[0],
            key=row[1],
            kind=row[2],
            run_id=row[3],
            scope=row[4],
            node_id=row[5],
            created_at=self.sql.read_time(row[6]),  # type: ignore[arg-type]
            payload=json.loads(row[7]),
        )

    def buffered_events(self) -> list[AlertEvent]:
        rows = self.sql.execute(self._EVENT + "WHERE composed_at IS NULL ORDER BY id").fetchall()
        return [self._event(row) for row in rows]

    def event(self, key: str) -> AlertEvent | None:
        row = self._one(self._EVENT + "WHERE key = ?", (key,))
        return self._event(row) if row else None

    def mark_composed(self, event_ids: list[int], at: datetime) -> None:
        self.sql.executemany(
            "UPDATE alert_events SET composed_at = ? WHERE id = ?", [(self.sql.time(at), i) for i in event_ids]
        )

    def has_buffered_failure(self, scope: str, node_id: str) -> bool:
        row = self._one(
            "SELECT 1 FROM alert_events WHERE composed_at IS NULL AND kind = 'failure' AND scope = ? AND node_id = ?",
            (scope, node_id),
        )
        return row is not None

    # incidents

    _INCIDENT = (
        "SELECT id, scope, node_id, status, opened_at, last_failure_at, last_notified_at, failures, "
        "first_run_id, last_run_id FROM alert_incidents "
    )

    def open_incident(self, scope: str, node_id: str) -> Incident | None:
        row = self._one(self._INCIDENT + "WHERE scope = ? AND node_id = ? AND status = 'open'", (scope, node_id))
        return _incident(row, self.sql.read_time) if row else None

    def open_incidents(self, scope: str) -> list[Incident]:
        rows = self.sql.execute(self._INCIDENT + "WHERE scope = ? AND status = 'open' ORDER BY id", (scope,)).fetchall()
        return [_incident(row, self.sql.read_time) for row in rows]

    def create_incident(self, scope: str, node_id: str, run_id: str, at: datetime) -> Incident:
        when = self.sql.time(at)
        row = self._one(
            "INSERT INTO alert_incidents (scope, node_id, status, opened_at, last_failure_at, last_notified_at, "
            "failures, first_run_id, last_run_id) VALUES (?, ?, 'open', ?, ?, ?, 1, ?, ?) RETURNING id",
            (scope, node_id, when, when, when, run_id, run_id),
        )
        assert row is not None
        return Incident(int(row[0]), scope, node_id, "open", at, at, at, 1, run_id, run_id)

    def save_incident(self, incident: Incident, *, resolved_at: datetime | None = None) -> None:
        self.sql.execute(
            "UPDATE alert_incidents SET status = ?, last_failure_at = ?, last_notified_at = ?, failures = ?, "
            "last_run_id = ?, resolved_at = ? WHERE id = ?",
            (
                incident.status,
                self.sql.time(incident.last_failure_at),
                self.sql.time(incident.last_notified_at),
                incident.failures,
                incident.last_run_id,
                self.sql.time(resolved_at),
                incident.id,
            ),
        )

    def thread_root(self, incident_id: int, target_key: str) -> OutboxMessage | None:
        row = self._one(
            "SELECT message_id FROM alert_incident_threads WHERE incident_id = ? AND target = ?",
            (incident_id, target_key),
        )
        return self.message(row[0]) if row else None

    def set_thread_root(self, incident_id: int, target_key: str, message_id: int) -> None:
        self.sql.execute(
            "INSERT INTO alert_incident_threads VALUES (?, ?, ?) ON CONFLICT (incident_id, target) "
            "DO UPDATE SET message_id = excluded.message_id",
            (incident_id, target_key, message_id),
        )

    # outbox

    def add_message(self, message: NewMessage) -> int | None:
        row = self._one(
            "INSERT INTO alert_outbox (key, created_at, channel, target, action, parent_id, broadcast, route, "
            "content, status, next_attempt_at, fallback_of, fallbacks) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (key) DO NOTHING RETURNING id",
            (
                message.key,
                self.sql.time(message.created_at),
                message.channel,
                message.target,
                message.action,
                message.parent_id,
                int(message.broadcast),
                message.route,
                message.content.to_json(),
                PENDING,
                self.sql.time(message.created_at),
                message.fallback_of,
                json.dumps([list(entry) for entry in message.fallbacks]),
            ),
        )
        return None if row is None else int(row[0])

    def message(self, message_id: int) -> OutboxMessage | None:
        row = self._one(f"SELECT {_MESSAGE_COLUMNS} FROM alert_outbox WHERE id = ?", (message_id,))
        return _message(row, self.sql.read_time) if row else None

    def latest_content(self, message_id: int) -> AlertContent | None:
        row = self._one(
            "SELECT content FROM alert_outbox WHERE id = ? OR (parent_id = ? AND action = 'update') "
            "ORDER BY id DESC LIMIT 1",
            (message_id, message_id),
        )
        return AlertContent.from_json(row[0]) if row else None

    def claim_next(
        self, now: datetime, lease_until: datetime, channels: set[str]
    ) -> tuple[OutboxMessage, OutboxMessage | None] | None:
        if not channels:
            return None
        marks = ", ".join("?" * len(channels))
        columns = ", ".join(f"m.{column.strip()}" for column in _MESSAGE_COLUMNS.split(","))
        row = self._one(
            f"SELECT {columns} FROM alert_outbox m LEFT JOIN alert_outbox p ON p.id = m.parent_id "
            f"WHERE m.channel IN ({marks}) AND ((m.status = ? AND m.next_attempt_at <= ?) "
            "OR (m.status = ? AND m.lease_until <= ?)) AND (m.parent_id IS NULL OR p.status IN (?, ?, ?)) "
            "ORDER BY m.id LIMIT 1",
            (*sorted(channels), PENDING, self.sql.time(now), SENDING, self.sql.time(now), SENT, FAILED, DROPPED),
        )
        if row is None:
            return None
        message = _message(row, self.sql.read_time)
        self.sql.execute(
            "UPDATE alert_outbox SET status = ?, lease_until = ?, attempts = attempts + 1 WHERE id = ?",
            (SENDING, self.sql.time(lease_until), message.id),
        )
        message = replace(message, status=SENDING, attempts=message.attempts + 1)
        parent = self.message(message.parent_id) if message.parent_id else None
        return message, parent

    def finish_message(
        self,
        message_id: int,
        status: str,
        *,
        result: dict[str, Any] | None = None,
        error: str | None = None,
        sent_at: datetime | None = None,
        next_attempt_at: datetime | None = None,
    ) -> None:
        self.sql.execute(
            "UPDATE alert_outbox SET status = ?, result = COALESCE(?, result), last_error = ?, "
            "sent_at = COALESCE(?, sent_at), next_attempt_at = COALESCE(?, next_attempt_at), lease_until = NULL "
            "WHERE id = ?",
            (
                status,
                json.dumps(result) if result is not None else None,
                error,
                self.sql.time(sent_at),
                self.sql.time(next_attempt_at),
                message_id,
            ),
        )

    def messages(self, statuses: tuple[str, ...] = (), limit: int = 100) -> list[OutboxMessage]:
        where = f"WHERE status IN ({', '.join('?' * len(statuses))}) " if statuses else ""
        rows = self.sql.execute(
            f"SELECT {_MESSAGE_COLUMNS} FROM alert_outbox {where}ORDER BY id DESC LIMIT ?", (*statuses, limit)
        ).fetchall()
        return [_message(row, self.sql.read_time) for row in rows]

    def next_due(self, channels: set[str]) -> datetime | None:
        if not channels:
            return None
        marks = ", ".join("?" * len(channels))
        row = self._one(
            f"SELECT MIN(CASE WHEN status = ? THEN next_attempt_at ELSE lease_until END) FROM alert_outbox "
            f"WHERE status IN (?, ?) AND channel IN ({marks})",
            (PENDING, PENDING, SENDING, *sorted(channels)),
        )
        return self.sql.read_time(row[0]) if row else None

    # SLAs

    def arm_slas(self, records: list[SlaRecord]) -> None:
        self.sql.executemany(
            "INSERT INTO alert_slas VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (run_id, node_id, sla) DO NOTHING",
            [(r.run_id, r.node_id, r.sla, self.sql.time(r.deadline), r.scope, r.detail, r.status) for r in records],
        )

    def armed_slas(self) -> list[SlaRecord]:
        rows = self.sql.execute(
            "SELECT run_id, node_id, sla, deadline, scope, detail, status FROM alert_slas "
            "WHERE status = ? ORDER BY deadline",
            (ARMED,),
        ).fetchall()
        return [SlaRecord(r[0], r[1], r[2], self.sql.read_time(r[3]), r[4], r[5], r[6]) for r in rows]  # type: ignore[arg-type]

    def settle_sla(self, record: SlaRecord, status: str) -> bool:
        cursor = self.sql.execute(
            "UPDATE alert_slas SET status = ? WHERE run_id = ? AND node_id = ? AND sla = ? AND status = ?",
            (status, record.run_id, record.node_id, record.sla, ARMED),
        )
        return cursor.rowcount == 1

    def watch_freshness(self, subject: str, max_age: float, now: datetime) -> None:
        self.sql.execute(
            "INSERT INTO alert_freshness (subject, max_age, watched_since) VALUES (?, ?, ?) "
            "ON CONFLICT (subject) DO UPDATE SET max_age = excluded.max_age",
            (subject, max_age, self.sql.time(now)),
        )

    def record_success(self, subject: str, at: datetime) -> None:
        self.sql.execute(
            "UPDATE alert_freshness SET last_success_at = ? "
            "WHERE subject = ? AND (last_success_at IS NULL OR last_success_at < ?)",
            (self.sql.time(at), subject, self.sql.time(at)),
        )

    def freshness(self) -> list[Freshness]:
        rows = self.sql.execute(
            "SELECT subject, max_age, watched_since, last_success_at, alerted_for FROM alert_freshness"
        ).fetchall()
        return [
            Freshness(r[0], r[1], self.sql.read_time(r[2]), self.sql.read_time(r[3]), self.sql.read_time(r[4]))  # type: ignore[arg-type]
            for r in rows
        ]

    def mark_stale_alerted(self, subject: str, alerted_for: datetime) -> bool:
        cursor = self.sql.execute(
            "UPDATE alert_freshness SET alerted_for = ? WHERE subject = ? AND (alerted_for IS NULL OR alerted_for < ?)",
            (self.sql.time(alerted_for), subject, self.sql.time(alerted_for)),
        )
        return cursor.rowcount == 1


class SqlAlertStore:
    """The alerts' tables in the engine's state store: one :class:`SqlAlertTx` per unit of work."""

    def __init__(self, store: StateStore) -> None:
        self.store = store
        store.register(ALERTS)

    @contextmanager
    def transaction(self) -> Iterator[SqlAlertTx]:
        with self.store.transaction() as tx:
            sql = tx.component_sql(ALERTS)
            sql.serialize("alerts")
            yield SqlAlertTx(sql)
