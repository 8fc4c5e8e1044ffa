"""The sender: takes due events from the outbox and gives them to the client transport.

It runs in a thread of its own (:meth:`Sender.start`), so a collector that is
slow or down costs a run nothing: the run only writes rows. One pass claims
the oldest due event, sends it outside any transaction and settles it; on a
failure it puts the event back with a backoff (``retry_base`` doubled per
attempt, at most ``retry_max``) and ends the pass, since the next event would
meet the same collector. An event older than ``give_up_after`` is marked
``failed``. The transport is opened on first use, in the sender's thread (the client is
imported there, not in the run's); a transport that cannot be opened (a
missing API key) leaves the events pending. A row holds the event's facts
(:mod:`orchestrate_ext.lineage.facts`), made a ``RunEvent`` just before it is sent.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from orchestrate_ext.background import PassThread, retry_wait
from orchestrate_ext.clock import Clock
from orchestrate_ext.lineage.config import LineageDelivery
from orchestrate_ext.lineage.outbox import FAILED, PENDING, SENT, LineageOutbox, OutboxEvent
from orchestrate_ext.redact import Redactor

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=5)


class Sender:
    """Sends due outbox events, in the caller's thread (:meth:`deliver_due`) or its own (:meth:`start`)."""

    def __init__(
        self,
        outbox: LineageOutbox,
        clock: Clock,
        delivery: LineageDelivery,
        open_transport: Callable[[], Any],
        redact: Redactor,
        *,
        poll_seconds: float = 1.0,
    ) -> None:
        self.outbox = outbox
        self.clock = clock
        self.delivery = delivery
        self._open_transport = open_transport
        self.redact = redact
        self._transport: Any = None
        self._transport_problem: str | None = None
        self._thread = PassThread(
            "lineage-delivery", "lineage delivery", self.deliver_due, redact, poll_seconds=poll_seconds
        )
        self._sending = threading.Lock()
        self._failing = False

    # -- one pass

    def deliver_due(self, limit: int = 1000) -> tuple[int, bool]:
        """Send every event due now (at most ``limit``); return how many were sent and whether one failed."""
        sent = 0
        with self._sending:
            transport = self._transport_or_none()
            if transport is None:
                return 0, True
            while sent < limit and not self._thread.stopping:
                now = self.clock.now()
                with self.outbox.transaction() as tx:
                    event = tx.claim_next(now, now + LEASE)
                if event is None:
                    break
                if not self._send(transport, event):
                    return sent, True
                sent += 1
        return sent, False

    def _transport_or_none(self) -> Any:
        if self._transport is None:
            try:
                import orchestrate_ext.lineage.events  # noqa: F401  (the client, imported here: not in the run's thread)

                self._transport = self._open_transport()
            except Exception as exc:
                problem = self.redact(str(exc))
                if problem != self._transport_problem:
                    log.warning("lineage: cannot send events (they wait in the outbox): %s", problem)
                self._transport_problem = problem
                return None
        return self._transport

    def _send(self, transport: Any, event: OutboxEvent) -> bool:
        try:
            from orchestrate_ext.lineage.events import to_event

            transport.emit(to_event(json.loads(event.event)))
        except Exception as exc:
            self._failed(event, f"{type(exc).__name__}: {exc}")
            return False
        with self.outbox.transaction() as tx:
            tx.settle(event.id, SENT, sent_at=self.clock.now())
        if self._failing:
            log.info("lineage: the collector takes events again")
            self._failing = False
        return True

    def _failed(self, event: OutboxEvent, error: str) -> None:
        now = self.clock.now()
        error = self.redact(error)[:2000]
        if now - event.created_at >= timedelta(seconds=self.delivery.give_up_after):
            with self.outbox.transaction() as tx:
                tx.settle(event.id, FAILED, error=f"gave up after {event.attempts} attempts: {error}")
            log.error("lineage: event %s not delivered for good: %s", event.key, error)
            return
        wait = retry_wait(event.attempts, self.delivery.retry_base, self.delivery.retry_max)
        with self.outbox.transaction() as tx:
            tx.settle(event.id, PENDING, error=error, next_attempt_at=now + timedelta(seconds=wait))
        if not self._failing:
            log.warning("lineage: events not delivered, kept in the outbox and tried again later: %s", error)
            self._failing = True

    # -- the background thread

    def start(self) -> None:
        self._thread.start()

    def wake(self) -> None:
        self._thread.wake()

    def flush(self, timeout: float) -> None:
        """Wait at most ``timeout`` seconds for the thread to finish a pass that began after this call."""
        self._thread.flush(timeout)

    def stop(self, timeout: float) -> None:
        self._thread.stop(timeout)

    def drain(self, timeout: float) -> int:
        """Send in this thread until nothing is due or a send fails; return how many are still pending."""
        give_up = time.monotonic() + timeout
        while time.monotonic() < give_up:
            sent, failed = self.deliver_due()
            if failed or sent == 0:
                break
        with self.outbox.transaction() as tx:
            return tx.counts().get(PENDING, 0)
