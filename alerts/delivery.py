"""The delivery worker: takes due messages from the outbox and sends them.

A message is claimed (``sending``, with a lease) in one transaction, sent
outside any transaction, and settled in another: ``sent``; back to
``pending`` with a backoff after a transient error; ``failed`` after a
permanent one, or when it is older than ``give_up_after``, and then copied to
the route's fallback. A claim whose process died is taken over when its
lease runs out, so a restart delivers what was left, once.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import timedelta

from alerts.channels import POST, UPDATE, DeliveryError, Notifiers, Outbound
from alerts.config import DeliveryConfig
from alerts.redact import Redactor
from alerts.store import DROPPED, FAILED, PENDING, SENT, AlertStore, NewMessage, OutboxMessage
from orchestrate_ext.background import PassThread, retry_wait
from orchestrate_ext.clock import Clock

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=5)


class DeliveryWorker:
    """Sends due outbox messages, in the caller's thread (:meth:`deliver_due`) or its own (:meth:`start`)."""

    def __init__(
        self,
        store: AlertStore,
        notifiers: Notifiers,
        clock: Clock,
        config: DeliveryConfig,
        redact: Redactor,
        *,
        poll_seconds: float = 1.0,
    ) -> None:
        self.store = store
        self.notifiers = notifiers
        self.clock = clock
        self.config = config
        self.redact = redact
        self._thread = PassThread(
            "alerts-delivery", "alert delivery", self.deliver_due, redact, poll_seconds=poll_seconds
        )
        self._sending = threading.Lock()

    @property
    def channels(self) -> set[str]:
        return set(self.notifiers.available)

    # -- one pass

    def deliver_due(self, limit: int = 200) -> int:
        """Send every message due now (at most ``limit``); return how many were handled."""
        handled = 0
        with self._sending:
            while handled < limit:
                now = self.clock.now()
                with self.store.transaction() as tx:
                    claimed = tx.claim_next(now, now + LEASE, self.channels)
                if claimed is None:
                    return handled
                self._deliver(*claimed)
                handled += 1
        return handled

    def _deliver(self, message: OutboxMessage, parent: OutboxMessage | None) -> None:
        thread = None
        if parent is not None:
            if parent.status == SENT:
                thread = parent.result
            elif message.action == UPDATE:
                self._settle(message.id, DROPPED, error=f"message {parent.id} it updates was never delivered")
                return
        notifier = self.notifiers.get(message.channel)
        if notifier is None:  # cannot happen: claims are limited to available channels
            self._settle(message.id, PENDING, error=f"no {message.channel} notifier in this process")
            return
        outbound = Outbound(
            message.id, message.channel, message.target, message.action, message.content, thread, message.broadcast
        )
        try:
            result = notifier.send(outbound)
        except DeliveryError as exc:
            self._failed(message, exc)
            return
        except Exception as exc:  # a bug in a channel must not stop delivery of the others
            self._failed(message, DeliveryError(f"{type(exc).__name__}: {exc}", permanent=False))
            return
        self._settle(message.id, SENT, result=result, sent_at=self.clock.now())
        log.info("alert %s (%s) delivered to %s", message.id, message.content.kind, self._where(message))

    @staticmethod
    def _where(message: OutboxMessage) -> str:
        return f"{message.channel} {message.target}".strip()

    def _failed(self, message: OutboxMessage, exc: DeliveryError) -> None:
        now = self.clock.now()
        error = self.redact(str(exc))
        too_old = now - message.created_at >= timedelta(seconds=self.config.give_up_after)
        if not exc.permanent and not too_old:
            backoff = retry_wait(message.attempts, self.config.retry_base, self.config.retry_max)
            wait = max(exc.retry_after, backoff) if exc.retry_after is not None else backoff
            self._settle(message.id, PENDING, error=error, next_attempt_at=now + timedelta(seconds=wait))
            log.warning(
                "alert %s to %s not delivered (attempt %d): %s; trying again in %.0f s",
                message.id,
                self._where(message),
                message.attempts,
                error,
                wait,
            )
            return
        if too_old and not exc.permanent:
            error = f"gave up after {message.attempts} attempts: {error}"
        status = FAILED if message.action == POST else DROPPED
        self._settle(message.id, status, error=error)
        log.error("alert %s to %s failed for good: %s", message.id, self._where(message), error)
        if message.action == POST and message.fallback_of is None:
            self._fall_back(message, exc, error)

    def _fall_back(self, message: OutboxMessage, exc: DeliveryError, error: str) -> None:
        now = self.clock.now()
        added = []
        with self.store.transaction() as tx:
            for channel, target, route in message.fallbacks:
                if (channel, target) == (message.channel, message.target):
                    continue
                if exc.channel_wide and channel == message.channel:
                    continue
                note = f"Sent to this fallback because {self._where(message)} failed: {error}"
                new_id = tx.add_message(
                    NewMessage(
                        key=f"fallback:{message.id}:{channel}:{target}",
                        channel=channel,
                        target=target,
                        action=POST,
                        content=message.content.with_note(note),
                        created_at=now,
                        route=route,
                        fallback_of=message.id,
                    )
                )
                if new_id is not None:
                    added.append(f"{channel} {target}".strip())
        if added:
            log.warning("alert %s goes to the fallback instead: %s", message.id, ", ".join(added))
        else:
            log.error(
                "alert %s has no fallback to go to; set 'fallback' on the route or under 'alerts' in orchestrate.yaml",
                message.id,
            )

    def _settle(self, message_id: int, status: str, **fields: object) -> None:
        with self.store.transaction() as tx:
            tx.finish_message(message_id, status, **fields)  # type: ignore[arg-type]

    # -- the background thread

    def start(self) -> None:
        self._thread.start()

    def wake(self) -> None:
        self._thread.wake()

    def stop(self, timeout: float) -> None:
        self._thread.stop(timeout)

    def drain(self, timeout: float) -> int:
        """Deliver until nothing is due before ``timeout`` seconds from now; return how many are left."""
        give_up = time.monotonic() + timeout
        end = self.clock.now() + timedelta(seconds=timeout)
        while True:
            self.deliver_due()
            with self.store.transaction() as tx:
                due = tx.next_due(self.channels)
            if due is None:
                return 0
            remaining = give_up - time.monotonic()
            if due > end or remaining <= 0:
                return self.pending_count()
            time.sleep(min(0.2, remaining))

    def pending_count(self) -> int:
        with self.store.transaction() as tx:
            return len(tx.messages((PENDING,), limit=10_000))
