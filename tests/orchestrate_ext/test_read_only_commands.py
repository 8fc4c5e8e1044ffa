"""Commands that only read open the store read-only: they never create, migrate or change it."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from orchestrate_ext.cli import main
from orchestrate_ext.model import RunStatus, StateLocation
from orchestrate_ext.store import open_store
from tests.orchestrate_ext.store.records import insert, make_run
from tests.support.stores import close_run

READING = [["runs"], ["runs", "--json"], ["show", "r1"], ["show", "r1", "--json"], ["logs", "r1", "a"], ["ticks"]]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "orchestrate.yaml").write_text("concurrency: 1\n")
    return tmp_path


def invoke(project: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, [*args, "--project", str(project)])
    return result.exit_code, result.output


def digest(folder: Path) -> str:
    """The database file's content (SQLite may add an empty -wal/-shm beside it for a reader)."""
    return hashlib.sha256((folder / "state.db").read_bytes()).hexdigest()


def test_reading_a_project_that_never_ran_creates_nothing(project: Path) -> None:
    assert invoke(project, "runs", "--json") == (0, "[]\n")
    code, output = invoke(project, "show", "nope")
    assert code == 2 and "no run with id 'nope'" in output
    assert invoke(project, "state", "info", "--json")[0] == 0
    assert not (project / ".orchestrate").exists(), "no state folder or file was created"


@pytest.mark.parametrize("command", READING)
def test_reading_changes_nothing_in_the_store(project: Path, command: list[str]) -> None:
    store = open_store(StateLocation(path=project / ".orchestrate" / "state.db"))
    insert(store, make_run(), "a")
    close_run(store, "r1", RunStatus.SUCCESS)
    store.close()
    before = digest(project / ".orchestrate")
    code, output = invoke(project, *command)
    assert code == 0, output
    assert digest(project / ".orchestrate") == before
    if command == ["runs", "--json"]:
        assert [run["run_id"] for run in json.loads(output)] == ["r1"]
