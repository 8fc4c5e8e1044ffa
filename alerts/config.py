"""The ``alerts:`` section of orchestrate.yaml and the per-node ``alerts`` routes.

Secrets are never written in the file: the Slack token, the webhook URL and
the SMTP credentials are read from environment variables whose *names* the
configuration gives (``token_env``, ``webhook_url_env``, ``password_env``).
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from orchestrate_ext.config import Duration, StrictModel
from orchestrate_ext.schedule_settings import check_timezone

EventKind = Literal["failure", "recovery", "sla_miss", "retry", "run_finished", "test_warning", "config_error"]
EVENT_KINDS: tuple[str, ...] = (
    "failure",
    "recovery",
    "sla_miss",
    "retry",
    "run_finished",
    "test_warning",
    "config_error",
)
DEFAULT_EVENTS: list[EventKind] = ["failure", "recovery", "sla_miss", "config_error"]
"""``config_error`` (a node left out, a project that cannot load, a scheduler that cannot start) is on by
default: a user who learns of trouble only from the alerts must hear of it."""

_EMAIL = re.compile(r"^[^@\s<>,]+@[^@\s<>,]+\.[^@\s<>,]+$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _yaml_on_key(value: Any) -> Any:
    """YAML 1.1 reads a bare ``on:`` key as the boolean True (and dbt's manifest then as "true")."""
    if isinstance(value, dict) and "on" not in value:
        for key in (True, "true"):
            if key in value:
                value = {k: v for k, v in value.items() if k != key} | {"on": value[key]}
                break
    return value


def _as_list(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


def _check_env_names(value: Any, keys: tuple[str, ...]) -> Any:
    """Checked on the whole mapping so that a secret pasted by mistake is never echoed back."""
    if isinstance(value, dict):
        for key in keys:
            name = value.get(key)
            if name is not None and not (isinstance(name, str) and _ENV_NAME.match(name)):
                raise ValueError(
                    f"'{key}' must be the NAME of an environment variable (e.g. SLACK_BOT_TOKEN), "
                    "not the secret itself; export the secret in that variable and name it here"
                )
    return value


def _check_emails(values: list[str]) -> list[str]:
    bad = [value for value in values if not _EMAIL.match(value)]
    if bad:
        raise ValueError(f"not an e-mail address: {', '.join(map(repr, bad))}")
    return values


def _check_channel(value: str | None) -> str | None:
    if value is not None and not re.fullmatch(r"[#@]?[\w.\-]{1,80}", value):
        raise ValueError("a Slack channel is '#name' or a channel id such as C0123456789")
    return value


class SlackConfig(StrictModel):
    """``alerts.slack``: a bot token (threads, updates, mentions) or an incoming webhook."""

    token_env: str | None = None
    webhook_url_env: str | None = None
    base_url: str | None = None
    """The Web API's base URL (default https://slack.com/api/); for proxies and tests."""
    timeout: Duration = 10.0
    mention_owners: bool = True
    """Mention an owner given as an e-mail address, looked up with users.lookupByEmail."""

    @model_validator(mode="before")
    @classmethod
    def _env_names(cls, value: Any) -> Any:
        return _check_env_names(value, ("token_env", "webhook_url_env"))

    @model_validator(mode="after")
    def _one_way_in(self) -> SlackConfig:
        if (self.token_env is None) == (self.webhook_url_env is None):
            raise ValueError(
                "set exactly one of 'token_env' (a bot token, for threads and updates) "
                "or 'webhook_url_env' (an incoming webhook)"
            )
        return self

    @property
    def uses_webhook(self) -> bool:
        return self.webhook_url_env is not None


class EmailConfig(StrictModel):
    """``alerts.email``: an SMTP server; STARTTLS by default, or implicit TLS with ``ssl: true``."""

    smtp_host: str
    smtp_port: int | None = Field(default=None, ge=1, le=65535)
    starttls: bool = True
    ssl: bool = False
    username_env: str | None = None
    password_env: str | None = None
    sender: str = Field(alias="from")
    ca_file: str | None = None
    """A PEM file of CA certificates to trust instead of the system's (a company CA)."""
    timeout: Duration = 10.0

    @model_validator(mode="before")
    @classmethod
    def _env_names(cls, value: Any) -> Any:
        return _check_env_names(value, ("username_env", "password_env"))

    @field_validator("sender")
    @classmethod
    def _sender_address(cls, value: str) -> str:
        address = value.rsplit("<", 1)[-1].rstrip(">").strip()
        _check_emails([address])
        return value

    @model_validator(mode="after")
    def _login_pair(self) -> EmailConfig:
        if (self.username_env is None) != (self.password_env is None):
            raise ValueError("set both 'username_env' and 'password_env' to log in, or neither")
        return self

    @property
    def use_starttls(self) -> bool:
        """STARTTLS unless the connection is TLS from the start (``ssl: true``)."""
        return self.starttls and not self.ssl

    @property
    def port(self) -> int:
        if self.smtp_port is not None:
            return self.smtp_port
        return 465 if self.ssl else 587 if self.starttls else 25


class Target(StrictModel):
    """Where a message goes: a Slack channel, e-mail addresses, or both."""

    slack: str | None = None
    email: list[str] = []

    @field_validator("email", mode="before")
    @classmethod
    def _one_address(cls, value: Any) -> Any:
        return _as_list(value)

    @field_validator("email")
    @classmethod
    def _addresses(cls, value: list[str]) -> list[str]:
        return _check_emails(value)

    @field_validator("slack")
    @classmethod
    def _channel(cls, value: str | None) -> str | None:
        return _check_channel(value)

    @model_validator(mode="after")
    def _somewhere(self) -> Target:
        if self.slack is None and not self.email:
            raise ValueError("give 'slack' (a channel) and/or 'email' (a list of addresses)")
        return self


class Match(StrictModel):
    """Which nodes and runs a route is for; every given key must match (values: one or a list)."""

    owner: list[str] = []
    tag: list[str] = []
    kind: list[str] = []
    """A node kind (dbt, notebook) or resource type (model, test, seed, snapshot, notebook)."""
    schedule: list[str] = []
    """A schedule name; ``manual`` matches runs started by hand."""

    @field_validator("owner", "tag", "kind", "schedule", mode="before")
    @classmethod
    def _one_value(cls, value: Any) -> Any:
        return _as_list(value)


class NodeRoute(Target):
    """A route in a node's own metadata (``orchestrate.alerts``): it matches that node only."""

    on: list[EventKind] = Field(default_factory=lambda: list(DEFAULT_EVENTS))

    @model_validator(mode="before")
    @classmethod
    def _on_key(cls, value: Any) -> Any:
        return _yaml_on_key(value)

    @field_validator("on", mode="before")
    @classmethod
    def _one_event(cls, value: Any) -> Any:
        return _as_list(value)


class Route(NodeRoute):
    """``alerts.routes[N]``: the events it sends, the nodes it matches, where it sends them."""

    name: str | None = None
    match: Match = Match()
    fallback: Target | None = None
    """Where a message goes when this route's channel rejects it for good (overrides ``alerts.fallback``)."""


class DeliveryConfig(StrictModel):
    retry_base: Duration = 10.0
    """The first wait after a failed delivery; doubled after each further failure."""
    retry_max: Duration = 600.0
    give_up_after: Duration = 86400.0
    """A message still undelivered after this long is marked failed and goes to the fallback."""
    exit_wait: Duration = 10.0
    """How long `orchestrate run` waits at most, before it exits, for its alerts to be delivered."""
    rate_limit_max_wait: Duration = 30.0
    """Slack asks to wait (429 Retry-After) up to this long in place; longer waits go back to the outbox."""


class AlertsConfig(StrictModel):
    """The ``alerts:`` section of orchestrate.yaml."""

    slack: SlackConfig | None = None
    email: EmailConfig | None = None
    routes: list[Route] = []
    fallback: Target | None = None
    suppress_for: Duration = 3600.0
    """Repeated failures of a node within this window only update its open incident."""
    group_window: Duration = 5.0
    """Failures of one run within this window are sent as one message."""
    timezone: str = "UTC"
    """The zone of ``finish_by`` for runs that belong to no schedule."""
    jupyterlab_url: str | None = None
    """e.g. http://localhost:8888: messages then link to output notebooks in JupyterLab."""
    log_lines: int = Field(default=20, ge=0, le=200)
    delivery: DeliveryConfig = DeliveryConfig()

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        check_timezone(cls, value)  # the engine's one time zone check (a folder such as 'Europe' too)
        return value

    @model_validator(mode="after")
    def _channels_configured(self) -> AlertsConfig:
        targets: list[tuple[str, Target]] = [(f"routes.{i}", route) for i, route in enumerate(self.routes)]
        targets += [(f"routes.{i}.fallback", r.fallback) for i, r in enumerate(self.routes) if r.fallback]
        if self.fallback:
            targets.append(("fallback", self.fallback))
        for where, target in targets:
            if target.slack is not None and self.slack is None:
                raise ValueError(f"{where} sends to Slack but 'alerts.slack' is not configured; add token_env")
            if target.email and self.email is None:
                raise ValueError(f"{where} sends e-mail but 'alerts.email' is not configured; add smtp_host and from")
        return self

    def secret_env_names(self) -> list[str]:
        """The environment variables holding secrets, for redaction."""
        names = []
        if self.slack:
            names += [self.slack.token_env, self.slack.webhook_url_env]
        if self.email:
            names.append(self.email.password_env)  # the login name is no secret (often an address)
        return [name for name in names if name]
