"""Building the notifiers of the configured channels, with secrets from the environment."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping

from alerts.channels import EMAIL, SLACK, WEBHOOK, Notifiers
from alerts.config import AlertsConfig
from alerts.redact import Redactor


def _missing(variable: str, key: str) -> str:
    return (
        f"the environment variable {variable} (named by alerts.{key}) is not set in this process; "
        "export it where `orchestrate run` and the scheduler run"
    )


def build_notifiers(
    config: AlertsConfig,
    redact: Redactor,
    environ: Mapping[str, str] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> Notifiers:
    """A notifier per configured channel whose secrets are present; the others with the reason."""
    env = os.environ if environ is None else environ
    notifiers = Notifiers()
    wait = config.delivery.rate_limit_max_wait
    if config.slack is not None:
        slack = config.slack
        if slack.webhook_url_env is not None:
            url = env.get(slack.webhook_url_env)
            if url:
                from alerts.slack import SlackWebhookNotifier

                notifiers.available[WEBHOOK] = SlackWebhookNotifier(
                    slack, url, redact, rate_limit_max_wait=wait, sleep=sleep
                )
            else:
                notifiers.missing[WEBHOOK] = _missing(slack.webhook_url_env, "slack.webhook_url_env")
        elif slack.token_env is not None:
            token = env.get(slack.token_env)
            if token:
                from alerts.slack import SlackBotNotifier

                notifiers.available[SLACK] = SlackBotNotifier(
                    slack, token, redact, rate_limit_max_wait=wait, sleep=sleep
                )
            else:
                notifiers.missing[SLACK] = _missing(slack.token_env, "slack.token_env")
    if config.email is not None:
        email = config.email
        username = password = None
        problem = None
        if email.username_env is not None and email.password_env is not None:
            username, password = env.get(email.username_env), env.get(email.password_env)
            if not username:
                problem = _missing(email.username_env, "email.username_env")
            elif not password:
                problem = _missing(email.password_env, "email.password_env")
        if problem:
            notifiers.missing[EMAIL] = problem
        else:
            from alerts.smtp import SmtpNotifier

            notifiers.available[EMAIL] = SmtpNotifier(email, redact, username=username, password=password)
    return notifiers
