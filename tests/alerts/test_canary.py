"""The canary: a token, a password and a webhook URL never show in logs, the store, alerts or CLI output.

Debug logging is on everywhere (slack-sdk logs each request and response at
DEBUG); the nodes' own logs contain the secrets; a misbehaving server echoes
the token back in an error.
"""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from orchestrate_ext.cli import main
from tests.alerts.conftest import ENVIRON, PASSWORD, TOKEN, Harness, email_config, node, slack_config
from tests.alerts.fake_slack import FakeSlack
from tests.alerts.fake_smtp import SmtpServer

Cert = tuple[Path, Path]
WEBHOOK_SECRET = "/services/T0CANARY/B0CANARY/webhookcanarysecret42"


def secrets(webhook_url: str) -> list[str]:
    return [TOKEN, PASSWORD, webhook_url, WEBHOOK_SECRET, "webhookcanarysecret42", "canarytokenvalue"]


def dump(database: Path) -> str:
    with sqlite3.connect(database) as connection:
        return "\n".join(connection.iterdump())


def assert_clean(text: str, canaries: list[str], where: str) -> None:
    for canary in canaries:
        assert canary not in text, f"a secret leaked into {where}"


def test_no_secret_leaks_anywhere(
    tmp_path: Path,
    smtp: SmtpServer,
    certificate: Cert,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    slack = FakeSlack(token=TOKEN, webhook_path=WEBHOOK_SECRET)
    canaries = secrets(slack.webhook_url)
    environ = {**ENVIRON, "SLACK_WEBHOOK_URL": slack.webhook_url}
    caplog.set_level(logging.DEBUG)
    nodes = [
        node("notebook.ingest", owner="ana@example.com"),
        node("notebook.report", "notebook.ingest", sla={"max_duration": 1}),
    ]
    routes = [{"on": ["failure", "recovery", "sla_miss", "retry", "run_finished"], "slack": "#data-alerts",
               "email": ["team@example.com"], "fallback": {"email": "oncall@example.com"}}]  # fmt: skip
    try:
        # a bot token and e-mail; the nodes' logs hold the secrets; Slack echoes the token in an error once
        bot = Harness(
            tmp_path / "bot",
            nodes,
            {"slack": slack_config(slack), "email": email_config(smtp, certificate), "routes": routes},
            environ,
            script={"notebook.ingest": ["fail", "fail", "ok"]},
            retries=1,
            log_secret=f"{TOKEN} {PASSWORD}",
        )
        slack.script("chat.postMessage", 200, {"ok": False, "error": "internal_error", "echo": f"Bearer {TOKEN}"})
        slack.script("chat.postMessage", 500, f"upstream said: token={TOKEN}")
        run = bot.run()
        bot.tick(60)
        bot.tick(600)
        bot.clock.advance(seconds=60)
        bot.executor().execute(run.run_id)
        bot.tick(600)
        # an incoming webhook, rejected once with the URL in the answer
        hook = Harness(
            tmp_path / "hook",
            nodes,
            {"slack": {"webhook_url_env": "SLACK_WEBHOOK_URL"}, "routes": [{"slack": "#x"}]},
            environ,
            script={"notebook.ingest": ["fail"]},
            log_secret=f"{slack.webhook_url}",
        )
        slack.script("webhook", 500, f"cannot post to {slack.webhook_url}")
        hook.run()
        hook.tick(600)
        # the CLI, with the same secrets in its environment
        for name, value in environ.items():
            monkeypatch.setenv(name, value)
        (tmp_path / "cli").mkdir()
        (tmp_path / "cli" / "orchestrate.yaml").write_text(
            f"alerts:\n  slack: {{token_env: SLACK_BOT_TOKEN, base_url: '{slack.base_url}'}}\n"
            "  routes: [{slack: '#data-alerts'}, {slack: '#gone'}]\n"
        )
        monkeypatch.chdir(tmp_path / "cli")
        outputs = [
            CliRunner().invoke(main, args) for args in (["alerts", "test"], ["alerts", "outbox", "--all"], ["validate"])
        ]
    finally:
        slack.stop()

    assert len(slack.messages) >= 4 and slack.webhook_messages and len(smtp.messages) >= 3  # there was traffic
    assert any("Sending a request" in record.getMessage() for record in caplog.records)  # slack-sdk's debug log
    assert_clean(caplog.text, canaries, "the logs")
    assert_clean(dump(tmp_path / "bot" / ".orchestrate" / "state.db"), canaries, "the store")
    assert_clean(dump(tmp_path / "hook" / ".orchestrate" / "state.db"), canaries, "the store")
    bodies = [body.decode() for _, _, body in slack.requests]
    headers = [str({k: v for k, v in h.items() if k.lower() != "authorization"}) for _, h, _ in slack.requests]
    assert_clean("\n".join(bodies + headers), canaries, "the Slack messages")
    assert_clean("\n".join(raw.decode() for raw in smtp.mailbox.raw), canaries, "the e-mails")
    assert "[redacted]" in "\n".join(bodies)  # the log tails were shown, redacted
    for result in outputs:
        assert_clean(result.output + (result.stderr if result.stderr_bytes else ""), canaries, "the CLI output")
    assert "✓ route 0 → slack #data-alerts: delivered" in outputs[0].output
