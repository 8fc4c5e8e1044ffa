"""The notifier interface every channel (Slack, webhook, e-mail) implements.

The engine knows nothing of channels: it tells observers what happened
(:class:`orchestrate_ext.interfaces.Observer`). Inside the alerts plugin,
the delivery worker hands each queued message to the :class:`Notifier` of its
channel and decides from the :class:`DeliveryError` it may raise whether to
try again later (``permanent=False``), or to record the failure and use the
fallback route (``permanent=True``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from alerts.content import AlertContent
from orchestrate_ext.errors import OrchestrateError

SLACK = "slack"
WEBHOOK = "webhook"
EMAIL = "email"

POST = "post"
UPDATE = "update"


@dataclass(frozen=True)
class Outbound:
    """One message to send, as the delivery worker hands it to a notifier.

    Attributes:
        channel: ``slack``, ``webhook`` or ``email``.
        target: the Slack channel, or the comma-separated e-mail addresses.
        action: ``post`` a new message (a reply when ``thread`` is given), or
            ``update`` the message ``thread`` points at.
        thread: what the notifier returned for the message this one replies
            to or updates (Slack ``channel``/``ts``; e-mail ``message_id``/``subject``).
        broadcast: a Slack thread reply also shown in the channel.
    """

    id: int
    channel: str
    target: str
    action: str
    content: AlertContent
    thread: Mapping[str, Any] | None = None
    broadcast: bool = False


class DeliveryError(OrchestrateError, RuntimeError):
    """A channel did not take a message.

    Attributes:
        permanent: trying again will not help (bad token, unknown channel, login refused).
        retry_after: seconds the service asked us to wait, if it did.
        channel_wide: every message of this channel will fail the same way (bad credentials).
    """

    def __init__(
        self, message: str, *, permanent: bool, retry_after: float | None = None, channel_wide: bool = False
    ) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.retry_after = retry_after
        self.channel_wide = channel_wide


class Notifier(Protocol):
    """Sends one message on one channel; one call, no retries of its own beyond a short rate-limit wait."""

    channel: str

    def send(self, message: Outbound) -> dict[str, Any]:
        """Send ``message``; return what a later reply or update needs (stored with it).

        Raises:
            DeliveryError: the channel did not take it.
        """
        ...

    def close(self) -> None: ...


@dataclass
class Notifiers:
    """The notifiers this process can use, by channel, and why the others are missing."""

    available: dict[str, Notifier] = field(default_factory=dict)
    missing: dict[str, str] = field(default_factory=dict)

    def get(self, channel: str) -> Notifier | None:
        return self.available.get(channel)

    def close(self) -> None:
        for notifier in self.available.values():
            notifier.close()
