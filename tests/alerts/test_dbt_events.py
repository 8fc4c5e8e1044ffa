"""dbt's warnings and exposures in alerts: test_warning only where asked, exposure owners hear of failures."""

from __future__ import annotations

from pathlib import Path

from orchestrate_ext.model import Node
from tests.alerts.conftest import ENVIRON, Harness, node, slack_config
from tests.alerts.fake_slack import FakeSlack


def checked_pipeline() -> list[Node]:
    return [
        node("notebook.orders", owner="ana@example.com"),
        node("notebook.check", "notebook.orders"),
        node("notebook.report", "notebook.check"),
        Node(
            id="exposure.shop.dash",
            kind="dbt",
            resource_type="exposure",
            name="dash",
            depends_on=("notebook.report",),
            owner="bo@example.com",
            runnable=False,
        ),
    ]


def test_a_warning_goes_only_to_routes_that_ask_for_it(tmp_path: Path, slack: FakeSlack) -> None:
    routes = [{"slack": "#data-alerts"}, {"on": ["test_warning"], "slack": "#finance"}]
    h = Harness(
        tmp_path,
        checked_pipeline(),
        {"slack": slack_config(slack), "routes": routes},
        ENVIRON,
        script={"notebook.check": ["warn"]},
    )
    run = h.run()
    assert run.status == "success"
    [message] = slack.messages
    assert message.channel == "C0FIN"
    assert "Warning: check" in message.text
    assert "Got 3 results, configured to warn if != 0" in message.all_text
    assert "warned" in message.all_text


def test_no_warning_reaches_the_default_routes(tmp_path: Path, slack: FakeSlack) -> None:
    h = Harness(
        tmp_path,
        checked_pipeline(),
        {"slack": slack_config(slack), "routes": [{"slack": "#data-alerts"}]},
        ENVIRON,
        script={"notebook.check": ["warn"]},
    )
    assert h.run().status == "success"
    assert slack.messages == []


def test_a_failure_upstream_of_an_exposure_reaches_the_exposure_s_owner(tmp_path: Path, slack: FakeSlack) -> None:
    routes = [
        {"match": {"owner": "ana@example.com"}, "slack": "#data-alerts"},
        {"match": {"owner": "bo@example.com"}, "slack": "#oncall"},
    ]
    h = Harness(
        tmp_path,
        checked_pipeline(),
        {"slack": slack_config(slack), "routes": routes},
        ENVIRON,
        script={"notebook.check": ["fail"]},
    )
    assert h.run().status == "failed"
    [message] = slack.messages  # check has no owner: only the exposure's owner's route matches
    assert message.channel == "C0ONCALL"
    assert "Failed: check" in message.text
    assert "Exposures hit (1)" in message.all_text and "dash (bo@example.com)" in message.all_text
