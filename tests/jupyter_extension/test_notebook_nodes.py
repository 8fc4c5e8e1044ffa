"""Notebook nodes: metadata, and real papermill runs with a real ipykernel."""

from __future__ import annotations

import json
import os
import threading
import time
from datetime import timedelta
from pathlib import Path

import nbformat
import pytest

from jupyter_extension.notebook_meta import read_notebook
from orchestrate_ext.clock import SystemClock
from orchestrate_ext.errors import ConfigError
from orchestrate_ext.execution.claims import Supervisor
from orchestrate_ext.execution.executor import plan_run
from orchestrate_ext.execution.liveness import ProcessIdentity, ProcessLiveness
from orchestrate_ext.execution.recovery import recover_orphans
from orchestrate_ext.interfaces import NodeOutcome, NodeTask, RunContext
from orchestrate_ext.model import AttemptRecord, AttemptStatus, NodeRunRecord, NodeStatus, RunStatus
from orchestrate_ext.project import Project
from tests.conftest import run_cli


def write_notebook(path: Path, cells: list[str], orchestrate: dict | None = None, parameters: str = "") -> Path:
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    if orchestrate is not None:
        notebook.metadata["orchestrate"] = orchestrate
    if parameters:
        cell = nbformat.v4.new_code_cell(parameters)
        cell.metadata["tags"] = ["parameters"]
        notebook.cells.append(cell)
    notebook.cells += [nbformat.v4.new_code_cell(source) for source in cells]
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, path)
    return path


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    (tmp_path / "orchestrate.yaml").write_text("notebooks:\n  include: ['nb/*.ipynb']\ndefaults: {retry_backoff: 0}\n")
    return tmp_path


def test_metadata_is_read_and_parameter_names_checked(tmp_path: Path) -> None:
    path = write_notebook(tmp_path / "a.ipynb", ["x = 1"], {"depends_on": ["m"], "timeout": "5m"}, "x = 0")
    info = read_notebook(path, "a.ipynb")
    assert info.settings.depends_on == ["m"]
    assert info.settings.timeout == 300.0
    assert info.has_parameters_cell and info.kernel == "python3"
    bad = write_notebook(tmp_path / "b.ipynb", [], {"parameters": {"not valid": 1}})
    with pytest.raises(ConfigError, match=r"notebook .b\.ipynb. metadata.*is not a Python identifier"):
        read_notebook(bad, "b.ipynb")
    odd = write_notebook(tmp_path / "c.ipynb", [], {"colour": "red"})
    with pytest.raises(ConfigError, match=r"unknown key .orchestrate\.colour."):
        read_notebook(odd, "c.ipynb")


@pytest.mark.slow
def test_a_failing_notebook_reports_cell_exception_and_value(workspace: Path) -> None:
    write_notebook(workspace / "nb" / "fails.ipynb", ["x = 1", "raise KeyError('missing column')"], {"retries": 1})
    result = run_cli("run", "--json", cwd=workspace)
    assert result.returncode == 1
    [node] = json.loads(result.stdout)["nodes"]
    assert node["status"] == "failed" and node["attempts"] == 2
    assert node["error"] == "cell 2 (execution 3): KeyError: 'missing column'"
    log = run_cli("logs", json.loads(result.stdout)["run_id"], "notebook.nb/fails", cwd=workspace).stdout
    assert "try 1: failed" in log and "try 2: failed" in log and "KeyError" in log


@pytest.mark.slow
def test_parameters_merge_metadata_defaults_and_run_values(workspace: Path) -> None:
    write_notebook(
        workspace / "nb" / "params.ipynb",
        ["import json, pathlib\npathlib.Path('seen.json').write_text(json.dumps([a, b, logical_date, run_id]))"],
        {"parameters": {"b": "from metadata"}},
        parameters="a = 'cell default'\nb = 'cell default'\nlogical_date = None\nrun_id = None",
    )
    result = run_cli("run", "--json", "--logical-date", "2024-02-29T06:30:00+01:00", cwd=workspace)
    assert result.returncode == 0, result.stderr
    run_id = json.loads(result.stdout)["run_id"]
    seen = json.loads((workspace / "nb" / "seen.json").read_text())
    assert seen == ["cell default", "from metadata", "2024-02-29T05:30:00Z", run_id]


@pytest.mark.slow
def test_a_timeout_kills_the_notebook_and_its_kernel(workspace: Path) -> None:
    write_notebook(
        workspace / "nb" / "sleepy.ipynb",
        ["import os, pathlib, time\npathlib.Path('kernel.pid').write_text(str(os.getpid()))\ntime.sleep(120)"],
        {"timeout": "15s"},
    )
    began = time.monotonic()
    result = run_cli("run", "--json", cwd=workspace)
    assert result.returncode == 1
    assert time.monotonic() - began < 60
    [node] = json.loads(result.stdout)["nodes"]
    assert node["status"] == "failed"
    assert "timed out after 15 s" in node["error"]
    kernel_pid = int((workspace / "nb" / "kernel.pid").read_text())
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.kill(kernel_pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.2)
    else:
        pytest.fail(f"the kernel (pid {kernel_pid}) outlived its notebook's timeout")


@pytest.mark.slow
def test_a_notebook_that_finished_before_its_process_died_is_adopted_not_run_again(workspace: Path) -> None:
    """Issue: kill -9 right after a notebook's try finished, before the store recorded it: the takeover
    used to mark it crashed and run the notebook again."""
    write_notebook(
        workspace / "nb" / "once.ipynb",
        ["import pathlib\nwith open('runs.txt', 'a') as f:\n    f.write(run_id + '\\n')"],
        {"retries": 2},
        parameters="run_id = ''",
    )
    project = Project.load(workspace)
    store = project.open_store()
    clock = SystemClock()
    node = project.graph.nodes["notebook.nb/once"]
    run, states = plan_run(project.graph, clock, {node.id}, clock.now())
    dead = Supervisor(store, clock, identity=ProcessIdentity("elsewhere", 4242, 1.0))
    with store.transaction() as tx:
        tx.insert_run(run, states)
    claim = dead.claim(run.run_id)
    log_path = project.config.workspace.state_dir / "runs" / run.run_id / "logs" / "notebook.nb__once.1.log"
    log_path.parent.mkdir(parents=True)
    started = AttemptRecord(run.run_id, node.id, 1, AttemptStatus.RUNNING, clock.now(), log_path=str(log_path))
    claim.start_attempt(started, NodeRunRecord(run.run_id, node.id, "notebook", NodeStatus.RUNNING))
    # The try runs to its end (its process writes the result), then its owner dies before recording it.
    context = RunContext(run.run_id, run.logical_date, project.config.workspace.state_dir / "runs" / run.run_id)
    reports = Recorder()
    project.runners["notebook"].run(context, [NodeTask(node, 1, log_path, None)], reports, threading.Event())
    assert reports.outcomes[0].status == AttemptStatus.SUCCESS
    assert (workspace / "nb" / "runs.txt").read_text().split() == [run.run_id]

    [recovered] = recover_orphans(
        store, ProcessLiveness(stale_after=1), "me:1:1.00", set(), clock.now() + timedelta(minutes=5),
        runners=project.runners, kill=lambda owner: [],
    )  # fmt: skip
    assert [ending.status for ending in recovered.adopted] == [AttemptStatus.SUCCESS] and recovered.crashed == ()
    finished = project.executor(store).execute(run.run_id, resume=True)
    assert finished.status == RunStatus.SUCCESS
    assert (workspace / "nb" / "runs.txt").read_text().split() == [run.run_id], "the notebook ran once"
    with store.read() as tx:
        [attempt] = tx.attempts(run.run_id)
    assert attempt.status == AttemptStatus.SUCCESS and attempt.output_path and Path(attempt.output_path).is_file()
    store.close()


class Recorder:
    """A batch reporter that keeps what the runner reported."""

    def __init__(self) -> None:
        self.outcomes: list[NodeOutcome] = []

    def started(self, node_id: str, output_path: str | None = None) -> None:
        pass

    def finished(self, node_id: str, outcome: NodeOutcome) -> None:
        self.outcomes.append(outcome)
