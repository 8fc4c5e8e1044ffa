"""`orchestrate run` delivering its own alerts, `orchestrate alerts test|outbox`, and `orchestrate validate`."""

from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat
import pytest
from click.testing import CliRunner, Result

from orchestrate_ext.cli import main
from tests.alerts.conftest import PASSWORD, TOKEN
from tests.alerts.fake_slack import FakeSlack
from tests.alerts.fake_smtp import SmtpServer

Cert = tuple[Path, Path]


def write_notebook(path: Path, cells: list[str], orchestrate: dict | None = None) -> None:
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    if orchestrate:
        notebook.metadata["orchestrate"] = orchestrate
    notebook.cells = [nbformat.v4.new_code_cell(source) for source in cells]
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, path)


def workspace(root: Path, slack: FakeSlack, smtp: SmtpServer | None, certificate: Cert | None, routes: str) -> Path:
    email = ""
    if smtp is not None and certificate is not None:
        email = (
            f"  email: {{smtp_host: localhost, smtp_port: {smtp.port}, username_env: SMTP_USER, "
            f"password_env: SMTP_PASSWORD, from: orchestrate@example.com, ca_file: '{certificate[0]}'}}\n"
        )
    (root / "orchestrate.yaml").write_text(
        "notebooks:\n  include: ['nb/*.ipynb']\n"
        "defaults: {retry_backoff: 0}\n"
        "alerts:\n"
        f"  slack: {{token_env: SLACK_BOT_TOKEN, base_url: '{slack.base_url}'}}\n" + email + routes
    )
    return root


def invoke(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


@pytest.fixture
def secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("SMTP_USER", "alerts")
    monkeypatch.setenv("SMTP_PASSWORD", PASSWORD)


@pytest.mark.slow
def test_a_plain_run_delivers_its_alert_before_it_exits(
    tmp_path: Path, slack: FakeSlack, secrets: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = workspace(tmp_path, slack, None, None, "  routes: [{on: [failure], slack: '#data-alerts'}]\n")
    write_notebook(root / "nb" / "ingest.ipynb", ["x = 1", "raise ValueError('no orders for 2024-01-31')"],
                   {"owner": "ana@example.com"})  # fmt: skip
    write_notebook(root / "nb" / "report.ipynb", ["print('report')"], {"depends_on": ["ingest"]})
    monkeypatch.chdir(root)
    result = invoke("run", "--json")
    assert result.exit_code == 1
    run_id = json.loads(result.stdout)["run_id"]
    [message] = slack.messages  # delivered before `orchestrate run` returned
    text = message.all_text
    assert "Failed: nb/ingest" in message.text and run_id in text and "<@U0ANA>" in text
    assert re.search(r"cell 2 \(execution \d\): ValueError: no orders for 2024-01-31", text)
    assert "Skipped downstream (1)" in text and "`nb/report`" in text
    assert f".orchestrate/runs/{run_id}/outputs/nb/ingest.try1.ipynb" in text
    outbox = invoke("alerts", "outbox", "--all")
    assert outbox.exit_code == 0 and "sent" in outbox.stdout and "Failed: nb/ingest" in outbox.stdout


def test_alerts_test_reports_each_destination(
    tmp_path: Path,
    slack: FakeSlack,
    smtp: SmtpServer,
    certificate: Cert,
    secrets: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    routes = "  routes:\n    - {name: team, slack: '#data-alerts', email: [team@example.com]}\n    - {slack: '#gone'}\n"
    workspace(tmp_path, slack, smtp, certificate, routes)
    monkeypatch.chdir(tmp_path)
    result = invoke("alerts", "test")
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert lines == [
        "✓ route 0 (team) → slack #data-alerts: delivered",
        "✓ route 0 (team) → email team@example.com: delivered",
        "✗ route 1 → slack #gone: Slack rejected the message to #gone: channel_not_found — the channel does not "
        "exist or the bot cannot see it; invite the bot or fix the route",
    ]
    assert "Test alert from orchestrate-ext" in slack.messages[0].text and len(smtp.messages) == 1
    only = invoke("alerts", "test", "--route", "0")
    assert only.exit_code == 0 and len(only.stdout.splitlines()) == 2
    wrong = invoke("alerts", "test", "--route", "7")
    assert wrong.exit_code == 2 and "--route 7: orchestrate.yaml has 2 alert route(s); use 0 to 1" in wrong.stderr
    monkeypatch.delenv("SLACK_BOT_TOKEN")
    missing = invoke("alerts", "test", "--route", "1")
    assert missing.exit_code == 1 and "SLACK_BOT_TOKEN (named by alerts.slack.token_env) is not set" in missing.stdout


def test_validate_checks_routes(
    tmp_path: Path, slack: FakeSlack, secrets: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    routes = "  routes: [{match: {tag: finanse, owner: ana@example.com}, slack: '#data-alerts'}]\n"
    root = workspace(tmp_path, slack, None, None, routes)
    write_notebook(root / "nb" / "ingest.ipynb", ["x = 1"], {"owner": "ana@example.com", "tags": ["finance"]})
    monkeypatch.chdir(root)
    monkeypatch.delenv("SLACK_BOT_TOKEN")
    result = CliRunner().invoke(main, ["validate"])
    assert result.exit_code == 0 and result.stdout.startswith("ok: 1 nodes")
    assert (
        "warning: alerts.routes.0.match.tag: no tag 'finanse' in the project; did you mean 'finance'?" in result.stderr
    )
    assert "warning: alerts: the environment variable SLACK_BOT_TOKEN is not set here" in result.stderr
    write_notebook(root / "nb" / "bad.ipynb", ["x = 1"], {"alerts": {"on": ["failure"], "slak": "#x"}})
    bad = CliRunner().invoke(main, ["validate"])
    assert bad.exit_code == 2 and "notebook 'nb/bad.ipynb'" in bad.stderr and "alerts.0.slak" in bad.stderr


def test_alerts_commands_need_an_alerts_section(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "orchestrate.yaml").write_text("notebooks:\n  include: ['nb/*.ipynb']\n")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["alerts", "test"])
    assert result.exit_code == 2 and "has no 'alerts' section" in result.stderr
