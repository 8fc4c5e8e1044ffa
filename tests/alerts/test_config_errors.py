"""``config_error``: one incident per problem key, told once to the right route, and a fix in its thread.

The observer is driven as the scheduler drives it (``config_problems`` on every
snapshot); the real slack-sdk and SMTP client talk to the loopback servers.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from alerts.config import AlertsConfig
from alerts.routing import Router
from orchestrate_ext.errors import ConfigError
from orchestrate_ext.interfaces import ConfigProblem, ConfigProblemListener
from tests.alerts.conftest import ENVIRON, TOKEN, Harness, email_config, node, slack_config
from tests.alerts.fake_slack import FakeSlack
from tests.alerts.fake_smtp import SmtpServer

BROKEN = ConfigProblem(
    "node:notebook.report",
    "node notebook.report is left out: notebook 'report.ipynb' depends on 'ordrs', which is no dbt model or "
    "notebook; did you mean 'orders'?",
    "notebook.report",
    "ana@example.com",
)


def nodes() -> list:
    return [
        node("notebook.orders", owner="bob@example.com"),
        node("notebook.report", owner="ana@example.com"),
    ]


def harness(tmp_path: Path, slack: FakeSlack, routes: list[dict[str, Any]]) -> Harness:
    return Harness(tmp_path, nodes(), {"slack": slack_config(slack), "routes": routes}, ENVIRON)


def test_the_alerts_observer_is_a_config_problem_listener(tmp_path: Path, slack: FakeSlack) -> None:
    h = harness(tmp_path, slack, [{"slack": "#data-alerts"}])
    assert isinstance(h.observer, ConfigProblemListener)


def test_config_error_is_on_by_default_and_a_known_event_name(slack: FakeSlack) -> None:
    config = AlertsConfig.model_validate({"slack": slack_config(slack), "routes": [{"slack": "#data-alerts"}]})
    assert "config_error" in config.routes[0].on
    wrong = {"slack": slack_config(slack), "routes": [{"on": ["config_eror"], "slack": "#data-alerts"}]}
    with pytest.raises(ValueError, match="config_error"):
        AlertsConfig.model_validate(wrong)


def test_one_incident_per_key_however_often_it_is_reported_then_one_fix_in_its_thread(
    tmp_path: Path, slack: FakeSlack
) -> None:
    h = harness(tmp_path, slack, [{"on": ["config_error"], "slack": "#data-alerts"}])
    h.observer.config_problems("project", [BROKEN], h.clock.now())
    h.tick(5)
    h.observer.config_problems("project", [BROKEN], h.clock.now())  # the next snapshot: same problem
    h.restart()  # a new scheduler process on the same store
    h.observer.config_problems("project", [BROKEN], h.clock.now())
    h.tick(5)
    [root] = slack.messages
    assert root.channel == "C0DATA" and root.thread_ts is None
    assert "Left out: report" in root.text and "did you mean 'orders'?" in root.all_text
    assert "<@U0ANA>" in root.all_text, "the owner is mentioned"
    assert "orchestrate status" in root.all_text

    h.clock.advance(minutes=3)
    h.observer.config_problems("project", [], h.clock.now())
    h.observer.config_problems("project", [], h.clock.now())
    h.tick(5)
    [fix] = slack.replies(root)
    assert "Fixed: report is no longer left out" in fix.text
    assert "broken since 2024-01-31 05:00 UTC" in fix.all_text
    assert len(slack.top_level()) == 1 and len(root.edits) == 1, "the root says it is fixed too"
    assert "fixed at 2024-01-31 05:03 UTC: report" in root.all_text

    h.observer.config_problems("project", [BROKEN], h.clock.now())  # broken again: a new incident
    h.tick(5)
    assert len(slack.top_level()) == 2


def test_each_key_is_its_own_incident_and_scopes_do_not_settle_each_other(tmp_path: Path, slack: FakeSlack) -> None:
    h = harness(tmp_path, slack, [{"on": ["config_error"], "slack": "#data-alerts"}])
    unloadable = ConfigProblem("project", "the project cannot be loaded: orchestrate.yaml: line 3: bad indentation")
    cannot_start = ConfigProblem("scheduler", "the scheduler cannot start: the state store is locked")
    h.observer.config_problems("project", [BROKEN, unloadable], h.clock.now())
    h.observer.config_problems("scheduler", [cannot_start], h.clock.now())
    h.tick(5)
    assert len(slack.messages) == 3, [message.text for message in slack.messages]
    assert any("The project cannot be loaded" in m.text for m in slack.messages)
    assert any("The scheduler cannot start" in m.text for m in slack.messages)
    h.observer.config_problems("project", [BROKEN], h.clock.now())  # orchestrate.yaml fixed; the node is not
    h.tick(5)
    [fixed] = [m for m in slack.messages if m.thread_ts is not None]
    assert "The project loads again" in fixed.text
    h.observer.config_problems("scheduler", [], h.clock.now())
    h.tick(5)
    assert sum("The scheduler started" in m.text for m in slack.messages) == 1
    assert not any("no longer left out" in m.text for m in slack.messages), "the node is still broken"


def test_routed_to_the_owners_route_and_to_the_default_route_not_to_others(tmp_path: Path, slack: FakeSlack) -> None:
    routes: list[dict[str, Any]] = [
        {"on": ["config_error"], "slack": "#finance", "match": {"owner": "ana@example.com"}},
        {"on": ["config_error"], "slack": "#oncall", "match": {"owner": "bob@example.com"}},
        {"on": ["failure"], "slack": "#data-alerts"},
        {"slack": "#data-alerts"},  # the default events include config_error
    ]
    h = harness(tmp_path, slack, routes)
    h.observer.config_problems("project", [BROKEN], h.clock.now())
    h.tick(5)
    assert sorted(message.channel for message in slack.messages) == ["C0DATA", "C0FIN"]
    slack.messages.clear()
    unloadable = ConfigProblem("project", "the project cannot be loaded: orchestrate.yaml is not YAML")
    h.observer.config_problems("project", [BROKEN, unloadable], h.clock.now())
    h.tick(5)
    assert [message.channel for message in slack.messages] == ["C0DATA"], "no node: the routes matching any"


def test_a_route_in_the_nodes_own_metadata_hears_of_it(tmp_path: Path, slack: FakeSlack) -> None:
    own = node("notebook.report", alerts=[{"on": ["config_error"], "slack": "#finance"}])
    h = Harness(tmp_path, [own], {"slack": slack_config(slack), "routes": []}, ENVIRON)
    h.observer.config_problems("project", [BROKEN], h.clock.now())
    h.tick(5)
    assert [message.channel for message in slack.messages] == ["C0FIN"]


def test_secrets_in_a_problem_are_redacted(tmp_path: Path, slack: FakeSlack) -> None:
    h = harness(tmp_path, slack, [{"slack": "#data-alerts"}])
    leaking = ConfigProblem("project", f"the project cannot be loaded: token {TOKEN} rejected")
    h.observer.config_problems("project", [leaking], h.clock.now())
    h.tick(5)
    [message] = slack.messages
    assert TOKEN not in message.all_text and "cannot be loaded" in message.text
    for sent in h.outbox():
        assert TOKEN not in sent.content.to_json()


def test_by_email_the_fix_replies_to_the_problem(
    tmp_path: Path, smtp: SmtpServer, certificate: tuple[Path, Path]
) -> None:
    alerts = {"email": email_config(smtp, certificate), "routes": [{"email": ["team@example.com"]}]}
    h = Harness(tmp_path, nodes(), alerts, ENVIRON)
    h.observer.config_problems("project", [BROKEN], h.clock.now())
    h.tick(5)
    h.observer.config_problems("project", [], h.clock.now())
    h.tick(5)
    problem, fix = smtp.messages
    assert problem["Subject"] == "[orchestrate] ⚠️ Left out: report"
    plain = problem.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    html = problem.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert "did you mean 'orders'?" in plain and "did you mean &#x27;orders&#x27;?" in html
    assert fix["In-Reply-To"] == problem["Message-ID"]
    assert "Fixed: report is no longer left out" in fix.get_body(("plain",)).get_content()  # type: ignore[union-attr]


def test_a_node_whose_own_routes_are_invalid_does_not_stop_the_alerts_and_is_told(
    tmp_path: Path, slack: FakeSlack
) -> None:
    bad = node("notebook.report", owner="ana@example.com", alerts=[{"on": ["config_eror"], "slack": "#finance"}])
    h = Harness(tmp_path, [bad, node("notebook.orders")], {"slack": slack_config(slack), "routes": ROUTES}, ENVIRON)
    h.observer.config_problems("project", [], h.clock.now())
    h.tick(5)
    [message] = slack.messages
    assert message.channel == "C0DATA" and "the alert routes of node notebook.report are left out" in message.all_text
    assert "config_error" in message.all_text, "the error names what the route may say"
    with pytest.raises(ConfigError, match="config_error"):  # `orchestrate validate` still refuses it
        Router(h.config, {bad.id: bad})


ROUTES = [{"slack": "#data-alerts"}]
