"""Shell completion of commands, run ids, node ids and schedule names (click's), from the store, never from dbt."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from click.shell_completion import ShellComplete
from click.testing import CliRunner

from orchestrate_ext.cli import main
from orchestrate_ext.model import NodeStatus, RunStatus
from orchestrate_ext.store import StateStore
from tests.support.history import Step, record_run


@pytest.fixture
def history(project: Path, store: StateStore, now: datetime) -> None:
    record_run(store, "20261129T060000-aaaa", now - timedelta(days=1), [Step("notebook.load"), Step("notebook.report")])
    record_run(store, "20261130T060000-bbbb", now - timedelta(hours=1), [Step("notebook.load", NodeStatus.FAILED)])
    record_run(
        store, "20261130T070000-cccc", now, [Step("notebook.load", NodeStatus.RUNNING)], status=RunStatus.RUNNING
    )
    with store.transaction() as tx:
        tx.set_paused("notebook-schedule", False, now, None)  # a schedule only a scheduler stored


@pytest.fixture
def here(project: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(project)
    return project


def test_commands_complete(here: Path) -> None:
    assert {"status", "freshness", "show", "logs", "runs", "schedules"} <= set(names(here, [], "")), "commands"
    assert names(here, [], "fre") == ["freshness"]


def names(project: Path, words: list[str], incomplete: str) -> list[str]:
    comp = ShellComplete(main, {}, "orchestrate", "_ORCHESTRATE_COMPLETE")
    return [item.value for item in comp.get_completions(words, incomplete)]


def test_run_ids_complete_newest_first_by_prefix(here: Path, history: None) -> None:
    assert names(here, ["show"], "") == ["20261130T070000-cccc", "20261130T060000-bbbb", "20261129T060000-aaaa"]
    assert names(here, ["show"], "20261130T06") == ["20261130T060000-bbbb"]
    assert names(here, ["retry"], "2026112") == ["20261129T060000-aaaa"]
    assert names(here, ["cancel"], "") == ["20261130T070000-cccc"], "cancel offers only running runs"


def test_node_ids_complete_from_the_run_or_the_history(here: Path, history: None) -> None:
    assert names(here, ["logs", "20261129T060000-aaaa"], "notebook.r") == ["notebook.report"]
    assert names(here, ["logs", "20261130T060000-bbbb"], "") == ["notebook.load"]
    assert names(here, ["runs", "--node"], "notebook.") == ["notebook.load", "notebook.report"]
    assert names(here, ["freshness"], "notebook.l") == ["notebook.load"]


def test_schedule_names_complete_from_the_config_and_the_store(here: Path, history: None) -> None:
    assert names(here, ["pause"], "") == ["nightly", "notebook-schedule"]
    assert names(here, ["runs", "--schedule"], "ni") == ["nightly"]
    assert names(here, ["ticks"], "note") == ["notebook-schedule"]


def test_completion_outside_a_project_offers_nothing_and_does_not_fail(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert names(tmp_path, ["show"], "") == []


@pytest.mark.slow  # a real process
def test_the_installed_command_completes_in_bash_and_prints_its_scripts(here: Path, history: None) -> None:
    orchestrate = Path(sys.executable).with_name("orchestrate")
    env = {
        **os.environ,
        "_ORCHESTRATE_COMPLETE": "bash_complete",
        "COMP_WORDS": "orchestrate show 20261129",
        "COMP_CWORD": "2",
    }
    result = subprocess.run([str(orchestrate)], cwd=here, env=env, capture_output=True, text=True, timeout=60)
    assert result.stdout.split() == ["plain,20261129T060000-aaaa"], result.stderr
    for shell, marker in (
        ("bash", "complete -o nosort -F"),
        ("zsh", "#compdef orchestrate"),
        ("fish", "complete --no-files --command orchestrate"),
    ):
        script = CliRunner().invoke(main, ["completion", shell])
        assert script.exit_code == 0 and marker in script.output, (shell, script.output)
    assert CliRunner().invoke(main, ["completion", "tcsh"]).exit_code == 2
