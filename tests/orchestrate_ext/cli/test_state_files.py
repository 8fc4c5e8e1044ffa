"""Logs and outputs are recorded relative to the state folder; a copied project shows its own (issue 18).

The store used to keep absolute paths: a copy of a project (or one moved to another folder or host) showed the
original's logs and output notebooks, or none.
"""

from __future__ import annotations

import shutil
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from orchestrate_ext.clock import SystemClock
from orchestrate_ext.config import Defaults
from orchestrate_ext.execution.executor import Executor
from orchestrate_ext.graph import build_graph
from orchestrate_ext.model import NodeStatus
from orchestrate_ext.project import Project
from orchestrate_ext.store.files import StateFiles
from orchestrate_ext.testing import ScriptedRunner
from tests.orchestrate_ext.cli.conftest import invoke
from tests.orchestrate_ext.test_graph import node
from tests.support.history import Step, record_run


def test_paths_are_stored_relative_and_resolved_in_the_state_folder(tmp_path: Path) -> None:
    state = tmp_path / "project" / ".orchestrate"
    files = StateFiles(state, tmp_path / "project")
    assert files.stored(state / "runs" / "r1" / "logs" / "a.1.log") == "runs/r1/logs/a.1.log"
    assert files.stored(None) is None
    assert files.stored("/elsewhere/x.log") == "/elsewhere/x.log"
    resolved = files.resolve("runs/r1/logs/a.1.log", "r1")
    assert resolved == str((state / "runs" / "r1" / "logs" / "a.1.log").resolve())


@pytest.mark.parametrize(
    ("stored", "expected"),
    [
        ("/old/shop/.orchestrate/runs/r1/logs/a.1.log", "STATE/runs/r1/logs/a.1.log"),  # a copied project's row
        ("PROJECT/logs/a.1.log", "PROJECT/logs/a.1.log"),  # an old row inside this project
        ("/out/load.ipynb", "/out/load.ipynb"),  # written elsewhere on purpose: as recorded
        ("../../etc/passwd", None),
        ("runs/r1/../../../etc/passwd", None),
        ("", None),
    ],
)
def test_old_rows_are_mapped_and_relative_ones_never_leave_the_state_folder(
    tmp_path: Path, stored: str, expected: str | None
) -> None:
    project = (tmp_path / "shop").resolve()
    state = project / ".orchestrate"
    files = StateFiles(state, project)
    stored = stored.replace("PROJECT", str(project))
    wanted = expected.replace("STATE", str(state)).replace("PROJECT", str(project)) if expected else None
    assert files.resolve(stored, "r1") == wanted


def test_the_executor_records_paths_relative_to_the_state_folder(tmp_path: Path) -> None:
    (tmp_path / "orchestrate.yaml").write_text("notebooks: {include: ['*.ipynb']}\n")
    store = Project.load(tmp_path).open_store()
    state = tmp_path / ".orchestrate"
    try:
        engine = Executor(
            build_graph([node("model.p.a")]),
            {"dbt": ScriptedRunner(batchable=True)},
            store,
            SystemClock(),
            state_dir=state,
            concurrency=1,
            defaults=Defaults(),
        )
        run = engine.create_run({"model.p.a"}, datetime(2024, 1, 31, tzinfo=UTC))
        engine.execute(run.run_id)
        with store.read() as tx:
            [attempt] = tx.attempts(run.run_id)
    finally:
        store.close()
    with sqlite3.connect(state / "state.db") as db:
        [(raw,)] = db.execute("SELECT log_path FROM attempts").fetchall()
    assert raw == f"runs/{run.run_id}/logs/model.p.a.1.log"
    assert attempt.log_path == str((state / "runs" / run.run_id / "logs" / "model.p.a.1.log").resolve())


def test_a_copied_project_shows_its_own_logs_not_the_originals(
    project: Path, now: datetime, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Rows written before (absolute paths into the original project) are read in the copy's state folder."""
    store = Project.load(project).open_store()
    logs = project / ".orchestrate" / "runs" / "r1" / "logs"
    try:
        record_run(store, "r1", now, [Step("notebook.load", NodeStatus.SUCCESS, kind="notebook")], logs=logs)
    finally:
        store.close()
    copy = tmp_path_factory.mktemp("copied") / "project"
    shutil.copytree(project, copy)
    (logs / "notebook.load.1.log").write_text("the ORIGINAL project's log\n")
    result = invoke(copy, "logs", "r1", "notebook.load")
    assert result.exit_code == 0, result.output
    assert "log of notebook.load try 1" in result.output and "ORIGINAL" not in result.output
    shown = invoke(copy, "show", "r1", "--json")
    assert str(project / ".orchestrate") not in shown.output and str(copy.resolve() / ".orchestrate") in shown.output
