"""A queued run reads as queued in `runs`, `show` and `status`, and `cancel` ends it at once."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from orchestrate_ext.model import NodeRunRecord, NodeStatus, RunRecord, RunStatus
from orchestrate_ext.run_request import Priority
from orchestrate_ext.store import StateStore
from tests.orchestrate_ext.cli.conftest import NOW, invoke


def _queue(store: StateStore, run_id: str) -> None:
    run = RunRecord(run_id, RunStatus.QUEUED, NOW - timedelta(minutes=2), NOW, selection="load")
    with store.transaction() as tx:
        tx.insert_run(run, [NodeRunRecord(run_id, "notebook.load", "notebook", NodeStatus.PENDING)])
        tx.enqueue(run_id, priority=Priority.MANUAL, limit_key=None, max_active=None, owner="waiter", now=NOW)


def test_a_queued_run_is_shown_as_queued_and_cancelled_at_once(project: Path, store: StateStore) -> None:
    _queue(store, "20261130T141523-q")
    listing = invoke(project, "runs")
    assert listing.exit_code == 0, listing.output
    assert "queued" in listing.output and "20261130T141523-q" in listing.output
    only = invoke(project, "runs", "--status", "queued", "--json")
    assert [run["run_id"] for run in json.loads(only.output)] == ["20261130T141523-q"]
    shown = invoke(project, "show", "20261130T141523-q")
    assert shown.exit_code == 0, shown.output
    assert "… queued" in shown.output and "queued for 2 m" in shown.output
    assert "orchestrate cancel 20261130T141523-q" in shown.output
    status = invoke(project, "status")
    assert "20261130T141523-q" in status.output and "queued for 2 m" in status.output
    cancelled = invoke(project, "cancel", "20261130T141523-q")
    assert cancelled.exit_code == 0, cancelled.output
    assert "cancelled while queued; it never started" in cancelled.output
    with store.read() as tx:
        assert tx.get_run("20261130T141523-q").status == RunStatus.CANCELLED
    again = invoke(project, "cancel", "20261130T141523-q")
    assert "already ended: cancelled" in again.output
