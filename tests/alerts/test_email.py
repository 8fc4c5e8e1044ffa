"""E-mail through a real SMTP server (aiosmtpd) on loopback: STARTTLS or TLS, login, two parts, threads."""

from __future__ import annotations

from pathlib import Path

from alerts.store import FAILED, SENT
from tests.alerts.conftest import ENVIRON, PASSWORD, Harness, email_config, node, slack_config
from tests.alerts.fake_slack import FakeSlack
from tests.alerts.fake_smtp import SmtpServer

Cert = tuple[Path, Path]
ROUTES = [{"on": ["failure", "recovery"], "email": ["team@example.com", "ana@example.com"]}]


def nodes() -> list:
    return [node("notebook.ingest", owner="ana@example.com"), node("notebook.report", "notebook.ingest")]


def test_a_failure_mail_has_text_and_html_and_the_recovery_replies_to_it(
    tmp_path: Path, smtp: SmtpServer, certificate: Cert
) -> None:
    alerts = {"email": email_config(smtp, certificate), "routes": ROUTES}
    h = Harness(tmp_path, nodes(), alerts, ENVIRON, script={"notebook.ingest": ["fail", "ok"]})
    run = h.run()
    [mail] = smtp.messages
    assert smtp.logins == [("alerts", True)]  # logged in, over STARTTLS (aiosmtpd refuses AUTH without TLS)
    assert mail["From"] == "Orchestrate <orchestrate@example.com>"
    assert mail["To"] == "ana@example.com, team@example.com"
    assert mail["Subject"] == "[orchestrate] 🔴 Failed: ingest — pipeline (manual run), logical date 2024-01-31"
    plain = mail.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    html = mail.get_body(("html",)).get_content()  # type: ignore[union-attr]
    for part in (plain, html):
        assert run.run_id in part and "notebook.ingest" in part and "ana@example.com" in part
        assert "KeyError: &#x27;amount&#x27;" in part or "KeyError: 'amount'" in part
        assert "reading orders" in part and "report" in part
    assert "Skipped downstream (1): report" in plain and "<h2" in html and "<pre" in html
    h.clock.advance(seconds=60)
    h.run()
    failure, recovery = smtp.messages
    assert recovery["In-Reply-To"] == failure["Message-ID"] and recovery["References"] == failure["Message-ID"]
    assert recovery["Subject"].startswith("Re: [orchestrate] 🔴 Failed: ingest")
    assert "Recovered: ingest" in recovery.get_body(("plain",)).get_content()  # type: ignore[union-attr]


def test_html_escapes_what_the_error_says(tmp_path: Path, smtp: SmtpServer, certificate: Cert) -> None:
    from alerts.channels import POST, Outbound
    from alerts.content import AlertContent, NodeItem
    from alerts.redact import Redactor
    from alerts.smtp import SmtpNotifier

    config = Harness(tmp_path, nodes(), {"email": email_config(smtp, certificate), "routes": ROUTES}, ENVIRON).config
    assert config.email is not None
    item = NodeItem("n", "n", "notebook", "notebook", error="<script>alert(1)</script> & more")
    content = AlertContent("failure", "Failed: <n>", None, [item])
    mail = SmtpNotifier(config.email, Redactor()).build(Outbound(1, "email", "a@example.com", POST, content))
    html = mail.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt; &amp; more" in html


def test_implicit_tls(tmp_path: Path, certificate: Cert) -> None:
    server = SmtpServer(*certificate, password=PASSWORD, mode="ssl")
    try:
        alerts = {"email": email_config(server, certificate, ssl=True), "routes": ROUTES}
        h = Harness(tmp_path, nodes(), alerts, ENVIRON, script={"notebook.ingest": ["fail"]})
        h.run()
        assert len(server.messages) == 1 and server.logins == [("alerts", True)]
    finally:
        server.stop()


def test_a_refused_login_is_not_retried_and_falls_back_to_slack(
    tmp_path: Path, smtp: SmtpServer, certificate: Cert, slack: FakeSlack
) -> None:
    alerts = {
        "email": email_config(smtp, certificate),
        "slack": slack_config(slack),
        "routes": [{"on": ["failure"], "email": "team@example.com", "fallback": {"slack": "#oncall"}}],
    }
    h = Harness(tmp_path, nodes(), alerts, {**ENVIRON, "SMTP_PASSWORD": "wrong-password-123"},
                script={"notebook.ingest": ["fail"]})  # fmt: skip
    h.run()
    h.tick(3600)
    assert smtp.logins == [("alerts", False)] and smtp.messages == []
    mail, fallback = h.outbox()
    assert mail.status == FAILED and "refused the login (535)" in (mail.last_error or "")
    assert fallback.status == SENT
    [message] = slack.messages
    assert message.channel == "C0ONCALL" and "email team@example.com failed" in message.all_text


def test_an_untrusted_certificate_is_a_clear_permanent_error(
    tmp_path: Path, smtp: SmtpServer, certificate: Cert
) -> None:
    email = email_config(smtp, certificate)
    del email["ca_file"]
    h = Harness(tmp_path, nodes(), {"email": email, "routes": ROUTES}, ENVIRON, script={"notebook.ingest": ["fail"]})
    h.run()
    [mail] = h.outbox()
    assert mail.status == FAILED and "set alerts.email.ca_file" in (mail.last_error or "")
