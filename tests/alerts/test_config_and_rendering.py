"""Configuration errors that say what to fix; rendering within Slack's limits; redaction."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import yaml

from alerts.config import AlertsConfig
from alerts.content import AlertContent, Blocker, NodeItem, RunInfo
from alerts.redact import Redactor, redacting_logger
from alerts.render_slack import blocks, escape, fallback_text
from alerts.render_text import plain_text
from alerts.routing import Router
from alerts.schedules import schedule_slas
from orchestrate_ext.config import load_config
from orchestrate_ext.errors import ConfigError
from orchestrate_ext.project import load_plugins
from tests.alerts.conftest import node
from tests.test_cli_hostile_input import alias_bomb


def load(tmp_path: Path, text: str) -> AlertsConfig:
    path = tmp_path / "orchestrate.yaml"
    path.write_text(text)
    return load_config(path, load_plugins()).sections["alerts"]


def test_the_documented_configuration_loads(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        """
alerts:
  slack: {token_env: SLACK_BOT_TOKEN}
  email: {smtp_host: smtp.example.com, smtp_port: 587, starttls: true, username_env: SMTP_USER,
          password_env: SMTP_PASSWORD, from: orchestrate@example.com}
  routes:
    - on: [failure, sla_miss, recovery]
      match: {owner: ana@example.com, tag: finance, kind: model, schedule: nightly}
      slack: "#data-alerts"
      email: [team@example.com]
""",
    )
    [route] = config.routes
    assert route.on == ["failure", "sla_miss", "recovery"]  # YAML's `on:` (a boolean to YAML 1.1) is understood
    assert route.match.tag == ["finance"] and route.email == ["team@example.com"]
    assert config.email is not None and config.email.port == 587 and config.email.use_starttls


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("alerts:\n  routes: [{on: [failur], slack: '#x'}]\n  slack: {token_env: T}",
         r"key 'alerts.routes.0.on.0': Input should be 'failure', 'recovery'"),
        ("alerts:\n  routes: [{slack: '#x'}]", r"routes.0 sends to Slack but 'alerts.slack' is not configured"),
        ("alerts:\n  slack: {token_env: T}\n  routes: [{on: failure}]", r"give 'slack' \(a channel\) and/or 'email'"),
        ("alerts:\n  slack: {token_env: T, webhook_url_env: W}", "set exactly one of 'token_env'"),
        ("alerts:\n  email: {smtp_host: h, from: nobody}", r"key 'alerts.email.from': .*not an e-mail address"),
        ("alerts:\n  timezone: Mars/Olympus", "is not a known time zone"),
        ("alerts:\n  slack: {token_env: T}\n  routes: [{slack: '#x', mtch: {}}]", "unknown key 'alerts.routes.0.mtch'"),
    ],
)  # fmt: skip
def test_bad_configuration_names_the_key_and_the_fix(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load(tmp_path, text)


def test_a_secret_pasted_in_place_of_its_variable_name_is_not_echoed(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, "alerts:\n  slack: {token_env: xoxb-123456-abcdef-secret}\n")
    assert "xoxb" not in str(caught.value) and "must be the NAME of an environment variable" in str(caught.value)


def test_node_routes_are_validated_naming_the_notebook() -> None:
    config = AlertsConfig.model_validate({"slack": {"token_env": "T"}})
    bad = node("notebook.report", alerts=[{"on": ["failure"], "slack": "#x", "colour": "red"}])
    with pytest.raises(ConfigError, match=r"notebook 'notebooks/report.ipynb'.*unknown key 'alerts.0.colour'"):
        Router(config, {bad.id: bad})
    dbt_style = node(
        "notebook.ok", alerts=[{"true": ["recovery"], "slack": "#x"}]
    )  # dbt's manifest turns `on` into "true"
    assert Router(config, {dbt_style.id: dbt_style}).wants("recovery")
    no_email = node("notebook.mail", alerts=[{"email": "a@example.com"}])
    with pytest.raises(ConfigError, match=r"sends e-mail but orchestrate\.yaml has no 'alerts\.email'"):
        Router(config, {no_email.id: no_email})


def sample(items: int = 1, error: str = "cell 3 (execution 3): KeyError: 'amount'") -> AlertContent:
    run = RunInfo("20240131T050000-abc123", "schedule 'nightly'", "2024-01-31T05:00:00Z")
    nodes = [
        NodeItem(
            f"notebook.n{i}",
            f"n{i}",
            "notebook",
            "notebook",
            owner="ana@example.com",
            error=error,
            log_tail="line <1>\n" * 400,
            skipped=[f"child{j}" for j in range(40)],
            output_path="runs/x/out.ipynb",
            sla="finish_by 07:30 (Europe/Berlin)",
            deadline="2024-01-31T06:30:00Z",
            sla_state="missed",
            blockers=[Blocker("a", "a & b", "running", "for 90 min")],
        )
        for i in range(items)
    ]
    return AlertContent("failure" if items == 1 else "digest", "Failed: <n0>", run, nodes, ["orchestrate show x"])


def test_slack_blocks_respect_the_limits_and_escape_user_text() -> None:
    redact = Redactor()
    for content in (sample(1), sample(60)):
        rendered = blocks(content, redact, escape)
        assert len(rendered) <= 50
        for block in rendered:
            for text in [block.get("text", {}).get("text", "")] + [f["text"] for f in block.get("fields", [])]:
                assert len(text) <= 3000
        assert rendered[0]["type"] == "header" and len(rendered[0]["text"]["text"]) <= 150
    text = str(blocks(sample(1), redact, escape))
    assert "line &lt;1&gt;" in text and "`a &amp; b` running (for 90 min)" in text
    assert "and 15 more" in text  # skipped downstream, listed up to 25
    assert len(fallback_text(sample(1), redact)) < 500


def test_plain_text_has_everything_for_one_node() -> None:
    text = plain_text(sample(1), Redactor())
    for expected in (
        "Pipeline: schedule 'nightly'",
        "Run: 20240131T050000-abc123 (logical date 2024-01-31T05:00:00Z)",
        "Node: n0 (notebook.n0) — notebook, owner ana@example.com",
        "SLA: finish_by 07:30 (Europe/Berlin); deadline 2024-01-31T06:30:00Z — missed",
        "  - a & b: running (for 90 min)",
        "    cell 3 (execution 3): KeyError: 'amount'",
        "Output notebook: runs/x/out.ipynb",
        "  orchestrate show x",
    ):
        assert expected in text


@pytest.mark.parametrize(
    "leak",
    [
        "token xoxb-1234567890-abcdefghij used",
        "POST https://hooks.slack.com/services/T000/B000/XXXXXXXX failed",
        "Authorization: Bearer abcdef1234567890",
        "password=hunter2hunter2 host=db",
        "postgresql://dbuser:s3cr3tpass@db.example.com/shop",
    ],
)
def test_credential_looking_text_is_redacted(leak: str) -> None:
    redacted = Redactor()(leak)
    for secret in ("xoxb-1234567890", "XXXXXXXX", "abcdef1234567890", "hunter2", "s3cr3tpass"):
        assert secret not in redacted
    assert "[redacted]" in redacted


def test_known_secret_values_are_redacted_in_any_form_and_in_log_records(caplog: pytest.LogCaptureFixture) -> None:
    url = "https://example.test/services/T1/B2/webhooksecretpart"
    redact = Redactor(["sup3r-s3cret value", url])
    assert redact("a sup3r-s3cret value and sup3r-s3cret%20value") == "a [redacted] and [redacted]"
    assert "webhooksecretpart" not in redact("POST /services/T1/B2/webhooksecretpart")
    logger = redacting_logger("alerts.test", redact)
    with caplog.at_level(logging.DEBUG):
        logger.debug("Sending a request - url: %s, body: %s", url, {"x": "sup3r-s3cret value"})
    assert "webhooksecretpart" not in caplog.text and "sup3r-s3cret" not in caplog.text
    assert "Sending a request" in caplog.text


def test_yaml_routes_survive_a_round_trip() -> None:
    raw = yaml.safe_load("routes:\n  - on: retry\n    email: a@example.com\nemail: {smtp_host: h, from: o@example.com}")
    assert AlertsConfig.model_validate(raw).routes[0].on == ["retry"]


def test_sla_and_routes_on_a_node_reach_node_settings() -> None:
    from orchestrate_ext.node_settings import NodeSettings, parse_settings

    raw = {"owner": "ana@example.com", "sla": {"finish_by": "7:30", "max_duration": "30m"},
           "alerts": {"on": ["failure"], "slack": "#finance"}}  # fmt: skip
    settings = parse_settings(NodeSettings, raw, "dbt model 'x' meta")
    assert settings.observer_settings() == {
        "sla": {"finish_by": "7:30", "max_duration": 1800.0},
        "alerts": [{"on": ["failure"], "slack": "#finance"}],
    }
    with pytest.raises(ConfigError, match=r"dbt model 'x' meta: key 'orchestrate.sla.finish_by'.*'HH:MM'"):
        parse_settings(NodeSettings, {"sla": {"finish_by": "half past seven"}}, "dbt model 'x' meta")


def test_schedule_slas_are_read_from_the_schedules(tmp_path: Path) -> None:
    from alerts.schedules import schedule_slas

    path = tmp_path / "orchestrate.yaml"
    path.write_text(
        "schedules:\n"
        "  - {name: nightly, cron: '0 2 * * *', timezone: Europe/Berlin, sla: {finish_by: '07:30'}}\n"
        "  - {name: hourly, cron: '@hourly'}\n"
    )
    found = schedule_slas(path)
    assert found["nightly"].timezone == "Europe/Berlin" and found["nightly"].sla is not None
    assert found["nightly"].sla.finish_by == "07:30" and found["hourly"].sla is None
    path.write_text("schedules:\n  - {name: nightly, sla: {max_duration: soon}}\n")
    with pytest.raises(ConfigError, match=r"key 'schedules.nightly.sla.max_duration'"):
        schedule_slas(path)


def test_schedule_slas_read_orchestrate_yaml_through_the_safe_loader(tmp_path: Path) -> None:
    config = tmp_path / "orchestrate.yaml"
    config.write_text("schedules: [{name: nightly, cron: '@daily', sla: {finish_by: '07:30'}}]\n" + alias_bomb())
    assert schedule_slas(config) == {}  # refused in linear time; the configuration loader reports it
    config.write_text(
        "schedules: [{name: nightly, cron: '@daily', timezone: Europe/Berlin, sla: {max_duration: 5m}}]\n"
    )
    [(name, found)] = schedule_slas(config).items()
    assert (name, found.timezone, found.sla.max_duration if found.sla else None) == ("nightly", "Europe/Berlin", 300.0)
