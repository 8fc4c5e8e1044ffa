"""Run records read alike everywhere (issue 21): one duration rule, the cause of a failure, what was left out.

The duration of a run is from its first start to its end, a resumption noted beside it, in
``orchestrate runs``, ``orchestrate show``, ``GET runs`` and ``GET runs/{id}``; a failed node's cause is
the first lines of its error (dbt's node message), the same lines in the CLI and the API.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

from jupyter_extension.server import history
from orchestrate_ext.model import NodeStatus, RunStatus
from orchestrate_ext.reports import error_head, run_seconds
from orchestrate_ext.store import StateStore
from tests.orchestrate_ext.cli.conftest import invoke
from tests.support.history import Step, record_run

DBT_ERROR = (
    "Runtime Error in model fct_orders (models/marts/fct_orders.sql)\n"
    '  Parser Error: syntax error at or near ","\n'
    "  LINE 19:     sum(amount),, count(*) as orders\n"
)
FCT = "model.shop.fct_orders"


def _has(lines: list[str], text: str) -> bool:
    return any(text in line for line in lines)


def _resume(store: StateStore, run_id: str, at: datetime, seconds: float, status: RunStatus) -> None:
    """Resume a finished run at ``at`` (as ``orchestrate retry`` does) and end it ``seconds`` later."""
    with store.transaction() as tx:
        epoch = tx.run_ownership(run_id).epoch
        tx.mark_run_started(run_id, epoch, at)
        tx.finish_run(run_id, status, epoch, at + timedelta(seconds=seconds))


def test_error_head_keeps_the_cause_lines_without_their_indent() -> None:
    assert error_head(DBT_ERROR) == [
        "Runtime Error in model fct_orders (models/marts/fct_orders.sql)",
        '  Parser Error: syntax error at or near ","',  # dedent keeps dbt's indent under its first line
        "  LINE 19:     sum(amount),, count(*) as orders",
    ]
    assert error_head(None) == [] and error_head("\n\n") == []
    assert len(error_head("\n".join(f"line {n}" for n in range(20)))) == 6


def test_a_resumed_run_reads_one_duration_in_the_cli_and_the_api(
    project: Path, store: StateStore, now: datetime
) -> None:
    start = now - timedelta(minutes=10)
    record_run(store, "r1-retried", start, [Step(FCT, NodeStatus.FAILED, DBT_ERROR, seconds=5)])
    _resume(store, "r1-retried", start + timedelta(seconds=100), 19, RunStatus.SUCCESS)
    with store.read() as tx:
        run = tx.get_run("r1-retried")
    assert run.resumptions == 1
    assert run_seconds(run) == 119.0  # first start to end, not resumption to end (19 s)

    shown = invoke(project, "show", "r1-retried")
    assert shown.exit_code == 0, shown.output
    assert "took     1 m 59 s, resumed once" in shown.output
    listed = invoke(project, "runs")
    assert "1 m 59 s, resumed once" in listed.output

    as_json = json.loads(invoke(project, "show", "r1-retried", "--json").output)
    assert (as_json["duration_seconds"], as_json["resumptions"]) == (119.0, 1)
    detail = history.run_detail(store, project / ".orchestrate", "r1-retried")
    assert detail["duration_seconds"] == 119.0
    page = history.list_runs(store, history.RunFilter(), 20, 0)
    assert page["runs"][0]["duration_seconds"] == 119.0 and page["runs"][0]["logical_date"]


def test_the_cause_of_a_failure_is_in_show_the_run_the_runs_list_and_the_node_history(
    project: Path, store: StateStore, now: datetime
) -> None:
    record_run(store, "r2-failed", now - timedelta(minutes=3), [Step(FCT, NodeStatus.FAILED, DBT_ERROR)])
    cause = 'Parser Error: syntax error at or near ","'

    shown = invoke(project, "show", "r2-failed").output
    assert cause in shown and "LINE 19" in shown

    detail = history.run_detail(store, project / ".orchestrate", "r2-failed")
    node = next(item for item in detail["nodes"] if item["id"] == FCT)
    assert _has(node["error_lines"], cause) and _has(detail["attempts"][0]["error_lines"], cause)

    failure = history.list_runs(store, history.RunFilter(), 20, 0)["runs"][0]["failure"]
    assert failure["node_id"] == FCT and failure["try_number"] == 1 and _has(failure["error_lines"], cause)

    recent = history.node_recent(store, FCT)["recent"][0]
    assert recent["status"] == "failed" and _has(recent["error_lines"], cause)


def test_a_run_that_did_not_fail_has_no_failure(project: Path, store: StateStore, now: datetime) -> None:
    record_run(store, "r3-ok", now - timedelta(minutes=3), [Step(FCT)])
    assert history.list_runs(store, history.RunFilter(), 20, 0)["runs"][0]["failure"] is None
    assert history.node_recent(store, FCT)["recent"][0]["error_lines"] == []
