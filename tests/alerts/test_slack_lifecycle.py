"""Failures, recoveries, suppression and digests through the real slack-sdk against the fake Slack."""

from __future__ import annotations

from pathlib import Path

from tests.alerts.conftest import ENVIRON, Harness, node, slack_config
from tests.alerts.fake_slack import FakeSlack
from tests.support.stores import node_states_of

ROUTES = [{"on": ["failure", "recovery", "sla_miss"], "slack": "#data-alerts"}]


def pipeline() -> list:
    return [
        node("notebook.ingest", owner="ana@example.com", tags=["finance"]),
        node("notebook.orders", "notebook.ingest", owner="ana@example.com"),
        node("notebook.revenue", "notebook.orders"),
        node("notebook.report", "notebook.revenue"),
        node("notebook.other"),
    ]


def harness(tmp_path: Path, slack: FakeSlack, script: dict, **extra: object) -> Harness:
    alerts = {"slack": slack_config(slack), "routes": ROUTES, "jupyterlab_url": "http://lab.example:8888"}
    alerts.update(extra)  # type: ignore[arg-type]
    return Harness(tmp_path, pipeline(), alerts, ENVIRON, script=script)


def test_a_failure_posts_one_message_with_what_why_skipped_and_where(tmp_path: Path, slack: FakeSlack) -> None:
    h = harness(tmp_path, slack, {"notebook.orders": ["fail"]})
    run = h.run()
    assert run.status == "failed"
    h.tick(10)  # later ticks send nothing new
    [message] = slack.messages
    assert message.channel == "C0DATA" and message.thread_ts is None
    text = message.all_text
    assert "Failed: orders" in message.text and run.run_id in message.text
    assert "pipeline (manual run)" in text and "2024-01-31T05:00:00Z" in text  # pipeline, logical date
    assert "notebook.orders" in text and "notebook" in text  # the node and its kind
    assert "<@U0ANA>" in text  # the owner, mentioned
    assert "cell 3 (execution 3): KeyError: 'amount'" in text  # the error: cell, exception, value
    assert "reading orders" in text and "KeyError: 'amount'" in text  # the log's last lines
    assert "Skipped downstream (2)" in text and "`revenue`" in text and "`report`" in text
    assert f"orchestrate show {run.run_id}" in text and f"orchestrate logs {run.run_id} notebook.orders" in text
    assert "http://lab.example:8888/lab/tree/.orchestrate/runs/" in text  # the output notebook in JupyterLab
    assert slack.lookups == 1
    [sent] = h.outbox()
    assert sent.status == "sent" and sent.attempts == 1


def test_retry_then_success_posts_the_recovery_in_the_same_thread(tmp_path: Path, slack: FakeSlack) -> None:
    h = harness(tmp_path, slack, {"notebook.orders": ["fail", "ok"]})
    failed = h.run()
    [root] = slack.messages
    h.clock.advance(seconds=600)
    h.executor().execute(failed.run_id)  # `orchestrate retry`: the same run again
    h.tick(10)
    [reply] = slack.replies(root)
    assert "Recovered: orders" in reply.text
    assert "failing since 2024-01-31 05:00 UTC, 1 failed run(s)" in reply.all_text
    assert root.edits and "recovered at" in root.all_text  # the first message now says so too
    assert len(slack.top_level()) == 1
    h.run()  # a later success is no news
    assert len(slack.messages) == 2


def test_retries_alert_only_when_routed(tmp_path: Path, slack: FakeSlack) -> None:
    quiet = Harness(tmp_path / "a", pipeline(), {"slack": slack_config(slack), "routes": ROUTES}, ENVIRON,
                    script={"notebook.orders": ["fail", "ok"]}, retries=1)  # fmt: skip
    assert quiet.run().status == "success"
    assert slack.messages == []
    routes = [{"on": ["retry"], "slack": "#oncall"}]
    loud = Harness(tmp_path / "b", pipeline(), {"slack": slack_config(slack), "routes": routes}, ENVIRON,
                   script={"notebook.orders": ["fail", "ok"]}, retries=1)  # fmt: skip
    assert loud.run().status == "success"
    [message] = slack.messages
    assert message.channel == "C0ONCALL" and "Retrying: orders" in message.text


def test_repeats_within_the_window_only_update_and_reply_quietly(tmp_path: Path, slack: FakeSlack) -> None:
    h = harness(tmp_path, slack, {"notebook.orders": ["fail"]}, suppress_for="1h")
    h.run()
    h.clock.advance(seconds=900)
    h.run()
    h.clock.advance(seconds=900)
    h.run()
    [root] = slack.top_level()
    replies = slack.replies(root)
    assert len(replies) == 2 and not any(reply.reply_broadcast for reply in replies)
    assert "Failed again: orders (failure 3" in replies[-1].text
    assert len(root.edits) == 2 and "3 failures so far" in root.all_text
    h.clock.advance(seconds=3700)  # past the window: said out loud again, in the thread
    h.run()
    reminder = slack.replies(root)[-1]
    assert reminder.reply_broadcast and "Still failing: orders (failure 4" in reminder.text
    assert len(slack.top_level()) == 1


def test_many_failures_in_one_run_become_one_message(tmp_path: Path, slack: FakeSlack) -> None:
    nodes = pipeline() + [node(f"notebook.extra{i}") for i in range(12)]
    script = {"notebook.orders": ["fail"], "notebook.other": ["fail"]}
    script |= {f"notebook.extra{i}": ["fail"] for i in range(12)}
    h = Harness(tmp_path / "digest", nodes, {"slack": slack_config(slack), "routes": ROUTES}, ENVIRON, script=script)
    run = h.run()
    [digest] = slack.messages
    assert "14 nodes failed" in digest.text and run.run_id in digest.text
    assert "orders" in digest.all_text and "other" in digest.all_text and "and 4 more" in digest.all_text
    assert len(digest.blocks) <= 50
    h.clock.advance(seconds=60)
    h.executor().execute(run.run_id)  # all of them fail again: quiet replies in the digest's thread
    h.tick(10)
    assert len(slack.top_level()) == 1


def test_failures_of_one_run_wait_for_the_group_window(tmp_path: Path, slack: FakeSlack) -> None:
    h = harness(tmp_path, slack, {"notebook.orders": ["block"], "notebook.other": ["fail"]}, group_window="5s")
    record, thread = h.start()
    h.wait_until(h.runner.blocked.is_set)
    h.wait_until(lambda: any(s.status == "failed" for s in node_states_of(h.runs, record.run_id)))
    h.tick(1)
    assert slack.messages == []  # the run goes on; more failures may follow
    h.tick(5)
    [message] = slack.messages
    assert "Failed: other" in message.text
    h.runner.release.set()
    thread.join(10)


def test_routes_match_owner_tag_kind_and_schedule(tmp_path: Path, slack: FakeSlack) -> None:
    routes = [
        {"on": "failure", "match": {"tag": "finance"}, "slack": "#finance"},
        {"on": "failure", "match": {"owner": "ANA@example.com", "schedule": "nightly"}, "slack": "#oncall"},
        {"on": "failure", "match": {"kind": "model"}, "slack": "#data-alerts"},
    ]
    nodes = [node("notebook.ingest", owner="ana@example.com", tags=["finance"]), node("notebook.orders")]
    script = {"notebook.ingest": ["fail"], "notebook.orders": ["fail"]}
    h = Harness(tmp_path, nodes, {"slack": slack_config(slack), "routes": routes}, ENVIRON, script=script)
    h.run()
    assert [m.channel for m in slack.messages] == ["C0FIN"]
    h.run(schedule="nightly")
    # the schedule is another scope: a new incident, to both routes that match now
    assert sorted(m.channel for m in slack.top_level()) == ["C0FIN", "C0FIN", "C0ONCALL"]
    assert "schedule 'nightly'" in slack.messages[-1].all_text


def test_routes_in_node_metadata(tmp_path: Path, slack: FakeSlack) -> None:
    own = [{"on": ["failure"], "slack": "#finance"}]
    nodes = [node("notebook.ingest", alerts=own), node("notebook.orders")]
    routes = [{"on": ["failure"], "match": {"kind": "dbt"}, "slack": "#data-alerts"}]
    script = {"notebook.ingest": ["fail"], "notebook.orders": ["fail"]}
    h = Harness(tmp_path, nodes, {"slack": slack_config(slack), "routes": routes}, ENVIRON, script=script)
    h.run()
    [message] = slack.messages
    assert message.channel == "C0FIN" and "Failed: ingest" in message.text


def test_an_owner_slack_does_not_know_is_shown_as_text(tmp_path: Path, slack: FakeSlack) -> None:
    nodes = [node("notebook.ingest", owner="bob@example.com"), node("notebook.x", owner="bob@example.com")]
    h = Harness(tmp_path, nodes, {"slack": slack_config(slack), "routes": ROUTES}, ENVIRON,
                script={"notebook.ingest": ["fail"], "notebook.x": ["fail"]})  # fmt: skip
    h.run()
    h.run()
    assert "bob@example.com" in slack.messages[0].all_text and "<@" not in slack.messages[0].all_text
    assert slack.lookups == 1  # cached


def test_webhook_posts_blocks_and_recoveries_without_threads(tmp_path: Path, slack: FakeSlack) -> None:
    environ = {"SLACK_WEBHOOK_URL": slack.webhook_url}
    alerts = {"slack": {"webhook_url_env": "SLACK_WEBHOOK_URL"}, "routes": ROUTES}
    h = Harness(tmp_path, pipeline(), alerts, environ, script={"notebook.orders": ["fail", "ok"]})
    h.run()
    h.clock.advance(seconds=60)
    h.run()
    failure, recovery = slack.webhook_messages
    assert "Failed: orders" in failure["text"] and failure["blocks"][0]["type"] == "header"
    assert "Recovered: orders" in recovery["text"]
