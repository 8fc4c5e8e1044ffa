"""SLA misses detected on a fake clock while the run is still going, naming what holds it back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from alerts.sla import ScheduleSla, finish_by_deadline
from alerts.store import MET, MISSED
from orchestrate_ext.model import NodeStatus
from orchestrate_ext.sla import SlaSettings
from tests.alerts.conftest import ENVIRON, START, Harness, node, slack_config
from tests.alerts.fake_slack import FakeSlack
from tests.support.stores import node_states_of

BERLIN = ZoneInfo("Europe/Berlin")
ROUTES = [{"on": ["sla_miss"], "slack": "#data-alerts"}]


def chain(**report_sla: object) -> list:
    return [
        node("notebook.ingest"),
        node("notebook.orders", "notebook.ingest"),
        node("notebook.report", "notebook.orders", owner="ana@example.com", sla=report_sla),
    ]


def slas(h: Harness) -> dict[tuple[str, str], str]:
    with h.runs.read() as tx:
        rows = tx.sql.execute("SELECT node_id, sla, status FROM alert_slas").fetchall()
    return {(row[0], row[1]): row[2] for row in rows}


def test_finish_by_is_detected_at_the_deadline_naming_the_running_upstream(tmp_path: Path, slack: FakeSlack) -> None:
    schedules = {"nightly": ScheduleSla("nightly", "Europe/Berlin")}
    h = Harness(tmp_path, chain(finish_by="07:30"), {"slack": slack_config(slack), "routes": ROUTES}, ENVIRON,
                script={"notebook.ingest": ["block"]}, schedules=schedules)  # fmt: skip
    record, thread = h.start(schedule="nightly")  # logical date 05:00 UTC = 06:00 in Berlin
    h.wait_until(h.runner.blocked.is_set)
    h.wait_until(lambda: _running(h, record.run_id, "notebook.ingest"))  # its start is in the store: the clock may move
    h.tick(60 * 89 + 59)  # 06:29:59 UTC = 07:29:59 in Berlin
    assert slack.messages == []
    h.tick(1)  # the deadline: the miss is found on the next tick, while the run still goes on
    [message] = slack.messages
    text = message.all_text
    assert "SLA missed: report" in message.text
    assert "finish_by 07:30 (Europe/Berlin)" in text and "2024-01-31T06:30:00Z" in text
    assert "`ingest` running (for 90 min)" in text  # what holds it back, and how
    assert "schedule 'nightly'" in text and "<@U0ANA>" in text
    h.tick(1)
    h.tick(600)
    h.runner.release.set()
    thread.join(10)
    h.tick(1)
    assert len(slack.messages) == 1  # once per (run, node, SLA)
    assert slas(h) == {("notebook.report", "finish_by"): MISSED}


def test_max_duration_is_detected_before_the_run_ends(tmp_path: Path, slack: FakeSlack) -> None:
    nodes = chain(max_duration="30m")
    h = Harness(tmp_path, nodes, {"slack": slack_config(slack), "routes": ROUTES}, ENVIRON,
                script={"notebook.orders": ["block"]})  # fmt: skip
    record, thread = h.start()
    h.wait_until(h.runner.blocked.is_set)
    h.wait_until(lambda: _running(h, record.run_id, "notebook.orders"))  # its start is in the store: the clock may move
    h.tick(29 * 60)
    assert slack.messages == []
    h.tick(60)
    [message] = slack.messages
    assert "max_duration 30m" in message.all_text and "`orders` running (for 30 min)" in message.all_text
    h.runner.release.set()
    thread.join(10)
    h.tick(1)
    assert len(slack.messages) == 1


def _running(h: Harness, run_id: str, node_id: str) -> bool:
    with h.runs.read() as tx:
        return any(state.node_id == node_id and state.status == NodeStatus.RUNNING for state in tx.node_states(run_id))


def test_a_node_that_finishes_in_time_sends_nothing(tmp_path: Path, slack: FakeSlack) -> None:
    h = Harness(tmp_path, chain(finish_by="07:30", max_duration="1h"), {"slack": slack_config(slack), "routes": ROUTES},
                ENVIRON)  # fmt: skip
    h.run()
    h.tick(86400)
    assert slack.messages == []
    assert set(slas(h).values()) == {MET}


def test_an_upstream_failure_is_a_miss_foretold_before_the_deadline(tmp_path: Path, slack: FakeSlack) -> None:
    h = Harness(tmp_path, chain(finish_by="07:30"), {"slack": slack_config(slack), "routes": ROUTES}, ENVIRON,
                script={"notebook.ingest": ["fail"]})  # fmt: skip
    h.run()
    [message] = slack.messages
    assert "SLA will be missed: report" in message.text
    assert "will miss" in message.all_text and "`ingest` failed" in message.all_text
    assert "KeyError: 'amount'" in message.all_text
    h.tick(86400)
    assert len(slack.messages) == 1


def test_a_waiting_node_and_a_schedule_sla_name_the_frontier(tmp_path: Path, slack: FakeSlack) -> None:
    nodes = [node("notebook.a"), node("notebook.b"), node("notebook.c", "notebook.a", "notebook.b")]
    schedule = ScheduleSla("hourly", "UTC", SlaSettings(max_duration=600))
    h = Harness(tmp_path, nodes, {"slack": slack_config(slack), "routes": ROUTES}, ENVIRON,
                script={"notebook.a": ["block"], "notebook.b": ["fail"]}, schedules={"hourly": schedule})  # fmt: skip
    record, thread = h.start(schedule="hourly")
    h.wait_until(h.runner.blocked.is_set)
    h.wait_until(lambda: any(s.status == "failed" for s in node_states_of(h.runs, record.run_id)))
    h.tick(1)
    assert slack.messages == []  # the run may still finish in time: a is running, b failed...
    h.runner.release.set()
    thread.join(10)
    h.tick(1)  # ...it did not: the run failed, so its SLA will be missed
    [message] = slack.messages
    assert "run of schedule 'hourly'" in message.all_text and "`b` failed" in message.all_text


def test_a_late_finish_is_reported_once_when_no_tick_saw_the_deadline(tmp_path: Path, slack: FakeSlack) -> None:
    h = Harness(tmp_path, chain(max_duration="10m"), {"slack": slack_config(slack), "routes": ROUTES}, ENVIRON,
                script={"notebook.orders": ["block"]})  # fmt: skip
    _, thread = h.start()
    h.wait_until(h.runner.blocked.is_set)
    h.clock.advance(seconds=15 * 60)  # no scheduler ticked meanwhile
    h.runner.release.set()
    thread.join(10)
    h.tick(1)
    [message] = slack.messages
    assert "missed (finished 5 min late)" in message.all_text


def test_freshness_alerts_once_per_stale_period(tmp_path: Path, slack: FakeSlack) -> None:
    nodes = [node("notebook.ingest", sla={"freshness": 86400.0})]
    h = Harness(tmp_path, nodes, {"slack": slack_config(slack), "routes": ROUTES}, ENVIRON)
    h.run()
    h.tick(86400)
    assert slack.messages == []
    h.tick(2)
    [message] = slack.messages
    assert "freshness 24h" in message.all_text and "last success 24 h 0 min ago" in message.all_text
    h.tick(3600)
    assert len(slack.messages) == 1
    h.run()
    h.tick(86402)
    assert len(slack.messages) == 2


def test_finish_by_deadlines_follow_the_zone_and_skip_backfills(tmp_path: Path, slack: FakeSlack) -> None:
    logical = datetime(2024, 3, 30, 23, 0, tzinfo=UTC)  # 00:00 on the day clocks spring forward in Berlin
    assert finish_by_deadline(logical, "07:30", BERLIN) == datetime(2024, 3, 31, 5, 30, tzinfo=UTC)
    assert finish_by_deadline(logical, "02:30", BERLIN) == datetime(2024, 3, 31, 1, 30, tzinfo=UTC)  # 03:30 CEST
    evening = datetime(2024, 1, 31, 19, 0, tzinfo=UTC)
    assert finish_by_deadline(evening, "07:30", BERLIN) == datetime(2024, 2, 1, 6, 30, tzinfo=UTC)  # the next day
    h = Harness(tmp_path, chain(finish_by="04:00"), {"slack": slack_config(slack), "routes": ROUTES}, ENVIRON)
    h.run(logical_date=START - timedelta(days=30))  # a backfill is not held to a deadline long gone
    assert slas(h) == {}
    h.run(logical_date=START - timedelta(hours=2))  # a catch-up within the day is, and has missed it
    assert slas(h) == {("notebook.report", "finish_by"): MISSED}
    assert "SLA missed: report" in slack.messages[0].text  # 04:00 UTC, run at 05:00
    assert "finished 60 min late" in slack.messages[0].all_text
