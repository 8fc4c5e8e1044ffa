"""Slack delivery: a bot token (``WebClient``) or an incoming webhook (``WebhookClient``).

slack-sdk's errors are translated here, once, into :class:`DeliveryError`.
A 429 is retried in place by slack-sdk's rate-limit handler when Slack asks
for a short wait; a longer one goes back to the outbox with its Retry-After.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any
from urllib.error import URLError

from slack_sdk import WebClient, WebhookClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState

from alerts.channels import POST, SLACK, UPDATE, WEBHOOK, DeliveryError, Outbound
from alerts.config import SlackConfig
from alerts.redact import Redactor, redacting_logger
from alerts.render_slack import blocks, escape, fallback_text

log = logging.getLogger(__name__)

_TRANSIENT = {"ratelimited", "rate_limited", "service_unavailable", "fatal_error", "internal_error", "request_timeout"}
_AUTH = {"invalid_auth", "not_authed", "account_inactive", "token_revoked", "token_expired", "no_permission"}
_AUTH |= {"invalid_token", "no_service", "action_prohibited"}
_HINTS = {
    "invalid_auth": "the bot token is not valid; check the variable named by alerts.slack.token_env",
    "not_authed": "no token was sent; check the variable named by alerts.slack.token_env",
    "token_revoked": "the bot token was revoked; install the app again and update the token",
    "channel_not_found": "the channel does not exist or the bot cannot see it; invite the bot or fix the route",
    "not_in_channel": "the bot is not a member of the channel; invite it with /invite",
    "is_archived": "the channel is archived; route the alerts elsewhere",
    "missing_scope": "the bot lacks a scope (chat:write, users:read.email); add it in the app's settings",
    "invalid_token": "the webhook URL is not valid; check the variable named by alerts.slack.webhook_url_env",
    "no_service": "the webhook was removed; create a new one and update the variable",
}


def _retry_after(headers: Any) -> float | None:
    for key, value in dict(headers or {}).items():
        if key.lower() == "retry-after":
            try:
                return float(value[0] if isinstance(value, list) else value)
            except (TypeError, ValueError):
                return None
    return None


class RateLimitHandler(RateLimitErrorRetryHandler):
    """slack-sdk's rate-limit handler, with a cap on the wait and an injectable ``sleep``.

    Retries a 429 after Slack's Retry-After when that is at most ``max_wait``
    seconds; otherwise the error reaches the caller and the message waits in
    the outbox, so a long rate limit never holds the delivery thread.
    """

    def __init__(self, max_retry_count: int, max_wait: float, sleep: Callable[[float], None] = time.sleep) -> None:
        super().__init__(max_retry_count=max_retry_count)
        self.max_wait = max_wait
        self.sleep = sleep

    def _can_retry(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        if response is None or response.status_code != 429:
            return False
        wait = _retry_after(response.headers)
        return wait is None or wait <= self.max_wait

    def prepare_for_next_attempt(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> None:
        state.next_attempt_requested = True
        wait = _retry_after(response.headers if response else None)
        self.sleep(1.0 if wait is None else wait)
        state.increment_current_attempt()


def api_error(exc: SlackApiError, what: str) -> DeliveryError:
    """A Slack Web API error as a :class:`DeliveryError` naming the code and what to do."""
    response = exc.response
    code = str(response.get("error") or f"HTTP {response.status_code}")
    if response.status_code == 429 or code in _TRANSIENT or response.status_code >= 500:
        wait = _retry_after(response.headers)
        return DeliveryError(f"Slack is busy ({code}) for {what}; will try again", permanent=False, retry_after=wait)
    hint = _HINTS.get(code, "see https://api.slack.com/methods for the error code")
    return DeliveryError(f"Slack rejected {what}: {code} — {hint}", permanent=True, channel_wide=code in _AUTH)


def transport_error(exc: Exception, what: str) -> DeliveryError:
    reason = getattr(exc, "reason", None) or exc
    return DeliveryError(f"cannot reach Slack for {what}: {type(exc).__name__}: {reason}", permanent=False)


class SlackBotNotifier:
    """Posts with a bot token: Block Kit, threads, in-place updates and owner mentions."""

    channel = SLACK

    def __init__(
        self,
        config: SlackConfig,
        token: str,
        redactor: Redactor,
        *,
        rate_limit_max_wait: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        base_url = config.base_url or WebClient.BASE_URL
        self.client = WebClient(
            token=token,
            base_url=base_url if base_url.endswith("/") else base_url + "/",
            timeout=max(1, round(config.timeout)),
            logger=redacting_logger("alerts.slack_sdk", redactor),
            retry_handlers=[RateLimitHandler(max_retry_count=3, max_wait=rate_limit_max_wait, sleep=sleep)],
        )
        self.redact = redactor
        self.mention_owners = config.mention_owners
        self._mentions: dict[str, str] = {}

    def mention(self, owner: str) -> str:
        """``<@U123>`` for an owner whose e-mail Slack knows; the owner as text otherwise (cached)."""
        if owner in self._mentions:
            return self._mentions[owner]
        text = escape(owner)
        if not (self.mention_owners and "@" in owner):
            return text
        try:
            user = self.client.users_lookupByEmail(email=owner)
            text = f"<@{user['user']['id']}>"
        except SlackApiError as exc:
            code = exc.response.get("error")
            log.debug("no Slack user for owner %s (%s)", owner, code)
            if exc.response.status_code == 429 or code in _TRANSIENT:
                return text  # not cached: ask again next time
        except (SlackClientError, URLError, OSError) as exc:
            log.debug("cannot look up the Slack user of %s: %s", owner, type(exc).__name__)
            return text
        self._mentions[owner] = text
        return text

    def send(self, message: Outbound) -> dict[str, Any]:
        what = f"the message to {message.target}"
        text = fallback_text(message.content, self.redact)
        try:
            rendered = blocks(message.content, self.redact, self.mention)
            if message.action == UPDATE:
                if not message.thread:
                    raise DeliveryError(f"{what}: nothing to update", permanent=True)
                response = self.client.chat_update(
                    channel=message.thread["channel"], ts=message.thread["ts"], text=text, blocks=rendered
                )
            elif message.thread:
                response = self.client.chat_postMessage(
                    channel=message.thread["channel"],
                    thread_ts=message.thread["ts"],
                    reply_broadcast=message.broadcast,
                    text=text,
                    blocks=rendered,
                    unfurl_links=False,
                )
            else:
                response = self.client.chat_postMessage(
                    channel=message.target, text=text, blocks=rendered, unfurl_links=False
                )
        except SlackApiError as exc:
            raise api_error(exc, what) from None
        except (SlackClientError, URLError, OSError) as exc:
            raise transport_error(exc, what) from None
        if message.action == POST and message.thread:
            return {"channel": response["channel"], "ts": str(message.thread["ts"]), "reply_ts": response["ts"]}
        return {"channel": response["channel"], "ts": response["ts"]}

    def close(self) -> None:
        return None


class SlackWebhookNotifier:
    """Posts through an incoming webhook: blocks and text, no threads or updates."""

    channel = WEBHOOK

    def __init__(
        self,
        config: SlackConfig,
        url: str,
        redactor: Redactor,
        *,
        rate_limit_max_wait: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.client = WebhookClient(
            url,
            timeout=max(1, round(config.timeout)),
            logger=redacting_logger("alerts.slack_sdk", redactor),
            retry_handlers=[RateLimitHandler(max_retry_count=3, max_wait=rate_limit_max_wait, sleep=sleep)],
        )
        self.redact = redactor

    def send(self, message: Outbound) -> dict[str, Any]:
        what = "the message to the Slack webhook"
        if message.action == UPDATE:
            raise DeliveryError(f"{what}: a webhook cannot update a message", permanent=True)
        try:
            response = self.client.send(
                text=fallback_text(message.content, self.redact),
                blocks=blocks(message.content, self.redact, escape),
                unfurl_links=False,
            )
        except (SlackClientError, URLError, OSError) as exc:
            raise transport_error(exc, what) from None
        if response.status_code == 200:
            return {}
        code = (response.body or "").strip()[:100] or f"HTTP {response.status_code}"
        if response.status_code == 429 or response.status_code >= 500:
            wait = _retry_after(response.headers)
            raise DeliveryError(f"Slack is busy ({code}) for {what}", permanent=False, retry_after=wait)
        hint = _HINTS.get(code, "check the webhook in the Slack app's settings")
        raise DeliveryError(f"Slack rejected {what}: {code} — {hint}", permanent=True, channel_wide=code in _AUTH)

    def close(self) -> None:
        return None
