"""The outbox (on both backends): rate limits, permanent errors and fallbacks, outages and restarts."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

from alerts.store import FAILED, PENDING, SENDING, SENT
from orchestrate_ext.model import StateLocation
from tests.alerts.conftest import ENVIRON, Harness, email_config, node, slack_config
from tests.alerts.fake_slack import FakeSlack
from tests.alerts.fake_smtp import SmtpServer
from tests.support.stores import node_states_of

Cert = tuple[Path, Path]


def one_failure(tmp_path: Path, location: StateLocation, alerts: dict, environ: dict | None = None) -> Harness:
    nodes = [node("notebook.ingest", owner="ana@example.com"), node("notebook.orders", "notebook.ingest")]
    return Harness(tmp_path, nodes, alerts, environ or ENVIRON, script={"notebook.ingest": ["fail"]}, location=location)


def test_rate_limited_twice_then_accepted_sends_exactly_one_message(
    tmp_path: Path, state_location: StateLocation, slack: FakeSlack
) -> None:
    routes = [{"on": ["failure"], "slack": "#data-alerts"}]
    h = one_failure(tmp_path, state_location, {"slack": slack_config(slack, mention_owners=False), "routes": routes})
    slack.rate_limit("chat.postMessage", times=2, retry_after=3)
    h.run()
    assert len(slack.messages) == 1
    posts = [path for path, _, _ in slack.requests if path.endswith("chat.postMessage")]
    assert len(posts) == 3
    assert h.sleeps == [3.0, 3.0]  # slack-sdk's rate-limit handler waited as told (on the test's sleep)
    [message] = h.outbox()
    assert message.status == SENT and message.attempts == 1


def test_a_long_rate_limit_goes_back_to_the_outbox(
    tmp_path: Path, state_location: StateLocation, slack: FakeSlack
) -> None:
    routes = [{"on": ["failure"], "slack": "#data-alerts"}]
    h = one_failure(tmp_path, state_location, {"slack": slack_config(slack, mention_owners=False), "routes": routes})
    slack.rate_limit("chat.postMessage", times=1, retry_after=120)
    h.run()
    [message] = h.outbox()
    assert message.status == PENDING and "ratelimited" in (message.last_error or "")
    assert message.next_attempt_at == h.clock.now() + timedelta(seconds=120)
    assert h.sleeps == [] and slack.messages == []
    h.tick(119)
    assert slack.messages == []
    h.tick(1)
    assert len(slack.messages) == 1 and h.outbox()[0].status == SENT


def test_invalid_auth_is_not_retried_and_the_fallback_gets_it(
    tmp_path: Path, state_location: StateLocation, slack: FakeSlack, smtp: SmtpServer, certificate: Cert
) -> None:
    alerts = {
        "slack": slack_config(slack),
        "email": email_config(smtp, certificate),
        "routes": [{"on": ["failure"], "slack": "#data-alerts"}],
        "fallback": {"email": ["oncall@example.com"]},
    }
    h = one_failure(tmp_path, state_location, alerts, {**ENVIRON, "SLACK_BOT_TOKEN": "xoxb-revoked-0000-token"})
    h.run()
    h.tick(3600)
    posts = [path for path, _, _ in slack.requests if path.endswith("chat.postMessage")]
    assert len(posts) == 1  # never retried
    slack_message, fallback = h.outbox()
    assert slack_message.status == FAILED and slack_message.attempts == 1
    assert "invalid_auth" in (slack_message.last_error or "") and "token_env" in (slack_message.last_error or "")
    assert fallback.status == SENT and fallback.channel == "email" and fallback.fallback_of == slack_message.id
    [mail] = smtp.messages
    assert mail["To"] == "oncall@example.com" and "Failed: ingest" in mail["Subject"]
    body = mail.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "Sent to this fallback because slack #data-alerts failed: Slack rejected" in body
    assert "cell 3 (execution 3): KeyError: 'amount'" in body


def test_an_unknown_channel_falls_back_to_another_channel(
    tmp_path: Path, state_location: StateLocation, slack: FakeSlack
) -> None:
    routes = [{"on": ["failure"], "slack": "#no-such-channel", "fallback": {"slack": "#oncall"}}]
    h = one_failure(tmp_path, state_location, {"slack": slack_config(slack), "routes": routes})
    h.run()
    failed, fallback = h.outbox()
    assert failed.status == FAILED and "channel_not_found" in (failed.last_error or "")
    assert fallback.status == SENT
    [message] = slack.messages
    assert message.channel == "C0ONCALL" and "#no-such-channel failed" in message.all_text


def test_without_a_fallback_the_failure_is_recorded(
    tmp_path: Path, state_location: StateLocation, slack: FakeSlack
) -> None:
    routes = [{"on": ["failure"], "slack": "#no-such-channel"}]
    h = one_failure(tmp_path, state_location, {"slack": slack_config(slack), "routes": routes})
    h.run()
    [message] = h.outbox()
    assert message.status == FAILED and "invite the bot or fix the route" in (message.last_error or "")


def test_an_outage_with_a_restart_delivers_each_alert_exactly_once(
    tmp_path: Path, state_location: StateLocation, slack: FakeSlack
) -> None:
    routes = [{"on": ["failure", "recovery"], "slack": "#data-alerts"}]
    h = one_failure(tmp_path, state_location, {"slack": slack_config(slack, mention_owners=False), "routes": routes})
    slack.stop()
    run = h.run()
    [message] = h.outbox()
    assert message.status == PENDING and message.attempts == 1 and "cannot reach Slack" in (message.last_error or "")
    h.tick(10)
    h.tick(20)
    assert h.outbox()[0].attempts == 3  # backoff: 10 s, then 20 s
    h.restart()  # the scheduler restarts while Slack is still down
    h.tick(40)
    assert h.outbox()[0].attempts == 4
    slack.start()
    h.restart()
    h.tick(80)
    h.tick(600)
    h.restart()
    h.tick(600)
    assert len(slack.messages) == 1 and run.run_id in slack.messages[0].text
    assert [m.status for m in h.outbox()] == [SENT]


def test_a_claim_left_by_a_dead_process_is_taken_over(
    tmp_path: Path, state_location: StateLocation, slack: FakeSlack
) -> None:
    routes = [{"on": ["failure"], "slack": "#data-alerts"}]
    h = one_failure(tmp_path, state_location, {"slack": slack_config(slack, mention_owners=False), "routes": routes})
    slack.stop()
    h.run()
    with h.observer.store.transaction() as tx:  # a process claimed it and died while sending
        later = h.clock.now() + timedelta(hours=1)
        claimed = tx.claim_next(later, later, {"slack"})
    assert claimed is not None and h.outbox()[0].status == SENDING
    slack.start()
    h.restart()
    h.tick(1800)
    assert slack.messages == []  # the lease still holds
    h.tick(1800)
    assert len(slack.messages) == 1 and h.outbox()[0].status == SENT


def test_delivery_gives_up_after_a_day_and_uses_the_fallback(
    tmp_path: Path, state_location: StateLocation, slack: FakeSlack, smtp: SmtpServer, certificate: Cert
) -> None:
    alerts = {
        "slack": slack_config(slack, mention_owners=False),
        "email": email_config(smtp, certificate),
        "routes": [{"on": ["failure"], "slack": "#data-alerts", "fallback": {"email": "oncall@example.com"}}],
    }
    h = one_failure(tmp_path, state_location, alerts)
    slack.stop()
    h.run()
    for _ in range(200):
        h.tick(600)
    slack_message, fallback = h.outbox()
    assert slack_message.status == FAILED and (slack_message.last_error or "").startswith("gave up after")
    assert fallback.status == SENT and len(smtp.messages) == 1


def test_close_delivers_what_is_due_and_leaves_the_rest_for_the_scheduler(
    tmp_path: Path, state_location: StateLocation, slack: FakeSlack
) -> None:
    routes = [{"on": ["failure"], "slack": "#data-alerts"}, {"on": ["failure"], "slack": "#oncall"}]
    nodes = [node("notebook.ingest"), node("notebook.slow")]
    alerts = {"slack": slack_config(slack), "routes": routes, "group_window": "1h"}
    h = Harness(
        tmp_path,
        nodes,
        alerts,
        ENVIRON,
        script={"notebook.ingest": ["fail"], "notebook.slow": ["block"]},
        location=state_location,
    )
    record, thread = h.start()
    h.wait_until(lambda: any(s.status == "failed" for s in node_states_of(h.runs, record.run_id)))
    h.tick(1)
    assert slack.messages == []  # within the group window, the run still going
    slack.script("chat.postMessage", 200, {"ok": False, "error": "service_unavailable"})
    started = time.monotonic()
    h.observer.close(5)  # the process exits now
    assert time.monotonic() - started < 2  # the retry is due after the wait: not waited for
    assert len(slack.messages) == 1
    assert sorted(message.status for message in h.outbox()) == [PENDING, SENT]
    h.runner.release.set()
    thread.join(10)
    h.restart()  # the scheduler, later
    h.tick(30)
    assert len(slack.messages) == 2


def test_the_background_worker_delivers_without_ticks_of_its_own(
    tmp_path: Path, state_location: StateLocation, slack: FakeSlack
) -> None:
    from alerts.observer import AlertsObserver

    routes = [{"on": ["failure"], "slack": "#data-alerts"}]
    h = one_failure(tmp_path, state_location, {"slack": slack_config(slack), "routes": routes})
    h.observer.close(0)
    h.observer = AlertsObserver(h.config, h.observer.context, background=True, environ=ENVIRON, sleep=h.sleeps.append)
    try:
        h.run()  # its tick composes and wakes the thread; the thread sends
        h.wait_until(lambda: len(slack.messages) == 1)
    finally:
        h.observer.close(5)
    assert h.outbox()[0].status == SENT
