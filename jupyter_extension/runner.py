"""Runs one notebook with papermill in a process of its own (``python -m jupyter_extension.worker``).

A process per notebook so that a timeout or cancel stops it together with
its kernel (the whole process group), and so a crashing kernel cannot take
the engine down with it. The process starts through the run's launcher (this
machine, or a Dask worker); its output is copied into the try's log as it
comes, and the output notebook and the worker's result come back with it.
"""

from __future__ import annotations

import json
import signal
import threading
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import IO

from orchestrate_ext.execution.launch import WORKER_PYTHON, Command, Handle, WorkerLost
from orchestrate_ext.interfaces import BatchReporter, NodeOutcome, NodeTask, RunContext, Workspace
from orchestrate_ext.model import AttemptRecord, AttemptStatus

_LOCK_HINT = (
    "\nhint: another process holds the DuckDB file. Give every notebook that opens it "
    "`resources: [warehouse]` in its orchestrate metadata so orchestrate-ext runs them one at a time."
)


def output_path_for(run_dir: Path, relative: str, try_number: int) -> Path:
    """``<run>/outputs/<path>.try<N>.ipynb``: one output per attempt; the input is never touched."""
    return run_dir / "outputs" / f"{relative.removesuffix('.ipynb')}.try{try_number}.ipynb"


def result_path_for(log_path: Path) -> Path:
    """Where the worker writes how a try ended, next to the try's log."""
    return log_path.with_suffix(".result.json")


class NotebookRunner:
    """The :class:`~orchestrate_ext.interfaces.NodeRunner` for notebooks (also a ``RecoverableRunner``)."""

    batchable = False

    def __init__(self, workspace: Workspace, stop_grace: float = 5.0) -> None:
        self.workspace = workspace
        self.stop_grace = stop_grace

    def run(
        self,
        context: RunContext,
        tasks: Sequence[NodeTask],
        reporter: BatchReporter,
        cancel: threading.Event,
    ) -> None:
        for task in tasks:
            reporter.finished(task.node.id, self._run_one(context, task, reporter, cancel))

    def _run_one(
        self, context: RunContext, task: NodeTask, reporter: BatchReporter, cancel: threading.Event
    ) -> NodeOutcome:
        node = task.node
        source = self.workspace.root / node.path
        output = output_path_for(context.run_dir, node.path, task.try_number)
        output.parent.mkdir(parents=True, exist_ok=True)
        result_path = result_path_for(task.log_path)
        spec = {
            "input": str(source),
            "output": str(output),
            "cwd": str(source.parent),
            "kernel": node.settings["kernel"],
            "parameters": {
                **node.parameters,
                **context.parameters,
                "logical_date": context.logical_date.isoformat().replace("+00:00", "Z"),
                "run_id": context.run_id,
            },
            "result": str(result_path),
        }
        reporter.started(node.id, str(output))
        command = Command(
            [WORKER_PYTHON, "-m", "jupyter_extension.worker", json.dumps(spec)],
            cwd=source.parent,
            outputs=(output, result_path),
            resources=node.resources,
        )
        handle = context.launcher.start(command)
        with task.log_path.open("a", encoding="utf-8") as log:
            stopped = self._follow(handle, log, task.timeout, cancel)
        try:
            returncode = handle.wait()
        except WorkerLost as exc:
            return NodeOutcome(AttemptStatus.CRASHED, str(exc), str(output), worker=handle.worker)
        if stopped is not None:
            return NodeOutcome(stopped[0], stopped[1], str(output), worker=handle.worker)
        return replace(_read_result(result_path, returncode or 0, str(output)), worker=handle.worker)

    def _follow(
        self, handle: Handle, log: IO[str], timeout: float | None, cancel: threading.Event
    ) -> tuple[AttemptStatus, str] | None:
        """Copy the try's output to its log until it ends; stop it on cancel or timeout (and say which)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        stopped: tuple[AttemptStatus, str] | None = None
        while (lines := handle.read(0.1)) is not None:
            log.writelines(lines)
            log.flush()
            if stopped is not None:
                continue
            if cancel.is_set():
                stopped = (AttemptStatus.CANCELLED, "the run was cancelled while this notebook ran")
            elif deadline is not None and time.monotonic() > deadline:
                stopped = (
                    AttemptStatus.TIMED_OUT,
                    f"timed out after {timeout:g} s; the notebook and its kernel were stopped",
                )
            if stopped is not None:
                handle.stop(first_signal=signal.SIGTERM, grace=self.stop_grace)
        return stopped

    def recorded_outcome(self, attempt: AttemptRecord) -> NodeOutcome | None:
        """The result the worker wrote when the notebook finished (None when it did not get that far)."""
        if not attempt.log_path:
            return None
        result_path = result_path_for(Path(attempt.log_path))
        if not result_path.is_file():
            return None
        return _read_result(result_path, 0, attempt.output_path)


def _read_result(path: Path, returncode: int, output: str | None) -> NodeOutcome:
    try:
        result = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return NodeOutcome(
            AttemptStatus.FAILED, f"the notebook process exited with code {returncode} without a result", output
        )
    output = output or result.get("output")
    if result.get("status") == "success" and returncode == 0:
        return NodeOutcome(AttemptStatus.SUCCESS, None, output)
    error = str(result.get("error") or f"the notebook process exited with code {returncode}")
    if "Could not set lock on file" in error:
        error += _LOCK_HINT
    return NodeOutcome(AttemptStatus.FAILED, error, output)
