"""`orchestrate state migrate` and `orchestrate state info`: a SQLite history moves to a real PostgreSQL."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from alerts.store_schema import ALERTS
from alerts.store_sql import SqlAlertStore
from orchestrate_ext.cli import main
from orchestrate_ext.model import AttemptStatus, NodeStatus, RunStatus, StateLocation
from orchestrate_ext.store import open_store
from orchestrate_ext.store.records import StateUpdate
from tests.orchestrate_ext.store.records import T0, attempt, claim, insert, make_run, node, tick

SECRET = "pg-canary-password-77"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A project with a SQLite history: two runs, ticks, file state and an alert event."""
    (tmp_path / "orchestrate.yaml").write_text("state:\n  path: history/state.db\n")
    store = open_store(StateLocation(path=tmp_path / "history" / "state.db"))
    for number in range(2):
        run_id = f"r{number}"
        left_out = {"c": f"broken {number}"} if number else {}
        insert(
            store,
            make_run(run_id, T0 + timedelta(minutes=number), parameters={"n": number}, left_out=left_out),
            "a",
            "b",
        )
        epoch = claim(store, run_id)
        with store.transaction() as tx:
            tx.start_attempt(
                attempt(run_id, "a", 1, AttemptStatus.RUNNING),
                node(run_id, "a", NodeStatus.RUNNING),
                epoch,
                host="h",
                pid=1,
            )
            done = T0 + timedelta(minutes=number, seconds=20)
            tx.finish_attempt(
                attempt(run_id, "a", 1, AttemptStatus.SUCCESS, finished_at=done),
                node(run_id, "a", NodeStatus.SUCCESS, finished_at=done),
                epoch,
            )
            tx.finish_run(run_id, RunStatus.SUCCESS, epoch, done)
    with store.transaction() as tx:
        tx.record_ticks([("s", [tick("s", 0), tick("s", 1)], StateUpdate(files={"x.csv": (5, 6)}))], None, T0)
    alerts = SqlAlertStore(store)
    with alerts.transaction() as tx:
        tx.create_incident("pipeline", "a", "r0", T0)
    store.close()
    return tmp_path


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


def test_a_sqlite_history_is_copied_into_postgresql_once(project: Path, postgres_schema_url: str) -> None:
    code, output = invoke("state", "migrate", "--to", postgres_schema_url, "--project", str(project))
    assert code == 0, output
    assert "runs" in output and "now set `state: {url: ...}`" in output
    target = open_store(StateLocation(url=postgres_schema_url))
    target.register(ALERTS)
    with target.read() as tx:
        runs = {run.run_id: run for run in tx.find_runs()}
        assert runs.keys() == {"r0", "r1"} and runs["r1"].parameters == {"n": 1}
        assert (runs["r0"].left_out, runs["r1"].left_out) == ({}, {"c": "broken 1"}), "what a run left out moves too"
        assert runs["r1"].finished_at == T0 + timedelta(minutes=1, seconds=20), "times arrive as timestamps"
        assert [state.node_id for state in tx.node_states("r0")] == ["a", "b"]
        assert tx.latest_node_states()["a"].last_success_run_id == "r1"
        assert [t.scheduled_at for t in tx.list_ticks("s")] == [T0 + timedelta(minutes=1), T0]
        assert tx.file_state("s") == {"x.csv": (5, 6)}
        [before] = tx.list_ticks("s", limit=1)
    with target.transaction() as tx:
        [new] = tx.record_ticks([("s", [tick("s", 2)], None)], None, T0)
    assert new.tick_id > before.tick_id, "new ids come after the copied ones"
    with SqlAlertStore(target).transaction() as alerts:
        assert alerts.open_incident("pipeline", "a") is not None
    target.close()

    code, output = invoke("state", "migrate", "--to", postgres_schema_url, "--project", str(project))
    assert code == 2 and "already holds rows" in output and "--append" in output
    code, output = invoke("state", "migrate", "--to", postgres_schema_url, "--append", "--project", str(project))
    assert code == 0, output
    target = open_store(StateLocation(url=postgres_schema_url))
    with target.read() as tx:
        assert tx.count_runs() == 2 and len(tx.list_ticks("s")) == 3, "appending again adds nothing twice"
    target.close()
    lines = {line.split()[0]: line for line in output.splitlines() if line.strip()}
    assert " 0 rows added (2 there already)" in lines["runs"], output  # issue 18: it said "2 rows"
    assert " 0 rows added (2 there already)" in lines["ticks"], output
    assert "added 0 rows from " in output and "copied" not in output


def test_append_reports_only_the_rows_it_added(project: Path, postgres_schema_url: str) -> None:
    code, output = invoke("state", "migrate", "--to", postgres_schema_url, "--project", str(project))
    assert code == 0, output
    target = open_store(StateLocation(url=postgres_schema_url))
    with target.transaction() as tx:
        tx.sql.execute("DELETE FROM attempts WHERE run_id = 'r1'")
        tx.sql.execute("DELETE FROM run_nodes WHERE run_id = 'r1'")
        tx.sql.execute("DELETE FROM runs WHERE run_id = 'r1'")
    target.close()
    code, output = invoke("state", "migrate", "--to", postgres_schema_url, "--append", "--project", str(project))
    assert code == 0, output
    lines = {line.split()[0]: line for line in output.splitlines() if line.strip()}
    assert " 1 rows added (1 there already)" in lines["runs"], output
    assert " 2 rows added (2 there already)" in lines["run_nodes"], output
    assert " 1 rows added (1 there already)" in lines["attempts"], output


def test_a_password_on_the_command_line_is_refused_and_never_shown(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, output = invoke(
        "state", "migrate", "--to", f"postgresql://team:{SECRET}@db.example.com/x", "--project", str(project)
    )
    assert code == 2 and "PGPASSWORD" in output and SECRET not in output
    monkeypatch.setenv("ORCHESTRATE_TARGET", f"postgresql://team:{SECRET}@127.0.0.1:1/x")
    code, output = invoke("state", "migrate", "--to-env", "ORCHESTRATE_TARGET", "--project", str(project))
    assert code == 1 and "the state store postgresql://team:***@127.0.0.1:1/x is unreachable" in output
    assert SECRET not in output
    code, output = invoke("state", "migrate", "--to", "mysql://x/y", "--project", str(project))
    assert code == 2 and "must be a PostgreSQL URL" in output


def test_state_info_shows_the_backend_versions_and_counts(project: Path) -> None:
    code, output = invoke("state", "info", "--json", "--project", str(project))
    assert code == 0, output
    document = json.loads(output)
    assert document["backend"] == "sqlite" and document["location"].endswith("history/state.db")
    assert document["schema_versions"] == {"alerts": 1, "resources": 1, "runs": 6, "schedules": 1}
    assert document["rows"]["runs"] == 2 and document["rows"]["alert_incidents"] == 1
    code, output = invoke("state", "info", "--project", str(project))
    assert "backend   sqlite" in output and "schema    runs v6" in output


def test_a_read_only_open_waits_for_a_store_another_process_is_creating(tmp_path: Path) -> None:
    import sqlite3
    import threading

    path = tmp_path / "state.db"
    sqlite3.connect(path).close()  # the file exists, its tables do not yet (a scheduler is starting)
    creating = threading.Timer(0.5, lambda: open_store(StateLocation(path=path)).close())
    creating.start()
    try:
        reader = open_store(StateLocation(path=path), read_only=True)
        with reader.read() as tx:
            assert tx.count_runs() == 0
        reader.close()
    finally:
        creating.join()
