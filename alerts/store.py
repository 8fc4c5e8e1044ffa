"""The alerts' own part of the state store: events, incidents, the outbox, SLA deadlines.

:class:`AlertStore` is the interface; :mod:`alerts.store_sql` implements it
as a component of the engine's state store (its own tables, migrated as the
``alerts`` component), on SQLite or PostgreSQL alike.

Everything happens inside ``store.transaction()``: each block is one atomic
transaction, so two processes (the scheduler and a manual ``orchestrate
run``) never compose or deliver the same alert twice.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from alerts.content import AlertContent

# outbox statuses
PENDING = "pending"
SENDING = "sending"
SENT = "sent"
FAILED = "failed"
DROPPED = "dropped"

# SLA statuses
ARMED = "armed"
MET = "met"
MISSED = "missed"


@dataclass(frozen=True)
class AlertEvent:
    """Something that happened in a run, kept until it is composed into messages.

    Attributes:
        key: unique; a second event with the same key is ignored.
        kind: failure, retry, recovery, sla_miss, run_finished, test_warning, config_error or config_fixed.
        scope: ``pipeline`` or ``schedule:<name>``: incidents are per scope and node; ``config:<scope>``
            for config problems, whose incidents are per problem key (kept in ``node_id``).
        payload: the captured details (run, node item) as JSON-ready data.
    """

    key: str
    kind: str
    run_id: str
    scope: str
    node_id: str | None
    created_at: datetime
    payload: dict[str, Any]
    id: int | None = None


@dataclass(frozen=True)
class Incident:
    """A node that stays failed within one scope, from its first failure to its recovery.

    A config problem is an incident too: scope ``config:project`` or ``config:scheduler``, its key in
    ``node_id``, no run (``first_run_id`` empty); it is resolved when the key is no longer reported.
    """

    id: int
    scope: str
    node_id: str
    status: str
    opened_at: datetime
    last_failure_at: datetime
    last_notified_at: datetime
    failures: int
    first_run_id: str
    last_run_id: str


@dataclass(frozen=True)
class NewMessage:
    key: str
    channel: str
    target: str
    action: str
    content: AlertContent
    created_at: datetime
    route: str = ""
    parent_id: int | None = None
    broadcast: bool = False
    fallback_of: int | None = None
    fallbacks: tuple[tuple[str, str, str], ...] = ()
    """Where to send it instead if its channel rejects it for good: (channel, target, route)."""


@dataclass(frozen=True)
class OutboxMessage:
    id: int
    key: str
    channel: str
    target: str
    action: str
    content: AlertContent
    status: str
    attempts: int
    created_at: datetime
    next_attempt_at: datetime
    route: str = ""
    parent_id: int | None = None
    broadcast: bool = False
    fallback_of: int | None = None
    last_error: str | None = None
    sent_at: datetime | None = None
    result: dict[str, Any] | None = None
    fallbacks: tuple[tuple[str, str, str], ...] = ()

    @property
    def target_key(self) -> str:
        return f"{self.channel}:{self.target}"


@dataclass(frozen=True)
class SlaRecord:
    """One deadline of one run: a node's (``node_id``) or the whole run's (``node_id`` empty)."""

    run_id: str
    node_id: str
    sla: str
    deadline: datetime
    scope: str
    detail: str
    status: str = ARMED


@dataclass(frozen=True)
class Freshness:
    """How recently a node (or a schedule's run) succeeded, for a ``freshness`` SLA."""

    subject: str
    max_age: float
    watched_since: datetime
    last_success_at: datetime | None
    alerted_for: datetime | None


class AlertTx(Protocol):
    """The operations available inside one transaction."""

    # events
    def add_event(self, event: AlertEvent) -> bool: ...
    def buffered_events(self) -> list[AlertEvent]: ...
    def mark_composed(self, event_ids: list[int], at: datetime) -> None: ...
    def has_buffered_failure(self, scope: str, node_id: str) -> bool: ...
    def event(self, key: str) -> AlertEvent | None:
        """The event with ``key``, composed or not."""
        ...

    # incidents
    def open_incident(self, scope: str, node_id: str) -> Incident | None: ...
    def open_incidents(self, scope: str) -> list[Incident]:
        """Every open incident of ``scope``, oldest first."""
        ...

    def create_incident(self, scope: str, node_id: str, run_id: str, at: datetime) -> Incident:
        """Open an incident; ``StoreError`` when one is open for the scope and node already."""
        ...

    def save_incident(self, incident: Incident, *, resolved_at: datetime | None = None) -> None: ...
    def thread_root(self, incident_id: int, target_key: str) -> OutboxMessage | None: ...
    def set_thread_root(self, incident_id: int, target_key: str, message_id: int) -> None: ...

    # outbox
    def add_message(self, message: NewMessage) -> int | None: ...
    def message(self, message_id: int) -> OutboxMessage | None: ...
    def latest_content(self, message_id: int) -> AlertContent | None: ...
    def claim_next(
        self, now: datetime, lease_until: datetime, channels: set[str]
    ) -> tuple[OutboxMessage, OutboxMessage | None] | None:
        """The oldest message of ``channels`` due at ``now`` (pending, or sending with an expired lease)
        whose parent is settled, now ``sending`` until ``lease_until``; with its parent."""
        ...

    def finish_message(
        self,
        message_id: int,
        status: str,
        *,
        result: dict[str, Any] | None = None,
        error: str | None = None,
        sent_at: datetime | None = None,
        next_attempt_at: datetime | None = None,
    ) -> None: ...
    def messages(self, statuses: tuple[str, ...] = (), limit: int = 100) -> list[OutboxMessage]: ...
    def next_due(self, channels: set[str]) -> datetime | None: ...

    # SLAs
    def arm_slas(self, records: list[SlaRecord]) -> None: ...
    def armed_slas(self) -> list[SlaRecord]: ...
    def settle_sla(self, record: SlaRecord, status: str) -> bool: ...
    def watch_freshness(self, subject: str, max_age: float, now: datetime) -> None: ...
    def record_success(self, subject: str, at: datetime) -> None: ...
    def freshness(self) -> list[Freshness]: ...
    def mark_stale_alerted(self, subject: str, alerted_for: datetime) -> bool: ...


class AlertStore(Protocol):
    def transaction(self) -> AbstractContextManager[AlertTx]:
        """One atomic unit of work; rolled back if the block raises."""
        ...
