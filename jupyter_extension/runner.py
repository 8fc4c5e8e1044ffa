"""Runs one notebook with papermill, on a warm kernel here or as a worker process through the launcher.

On this machine (the local launcher) the runner executes the notebook from
this process on a kernel started ahead of time (:mod:`.kernel_pool`): a fresh
kernel per notebook, in a process group of its own, so a timeout or cancel
stops the kernel and everything it started. On a Dask cluster a try runs inside
a worker, on that worker's own warm kernel pool (:mod:`.dask_kernels`). With
``notebooks.warm_kernels: 0`` each try is ``python -m jupyter_extension.worker``
started through the run's launcher. Through a launcher, the try's output is
copied into its log as it comes, and the output notebook and the result come
back with it.
Either way the kernel gets the environment the engine builds for the node
(:func:`orchestrate_ext.secrets.node_environment`): no secret named in
orchestrate.yaml unless the notebook lists it in ``env_passthrough``.
"""

from __future__ import annotations

import json
import logging
import signal
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import IO, Any

from jupyter_extension.dask_kernels import RUN, WARM, warm_payload
from jupyter_extension.fingerprint import notebook_fingerprint
from jupyter_extension.kernel_pool import KernelSpec, shared_kernel_pool
from jupyter_extension.worker import execute
from orchestrate_ext.errors import ConfigError
from orchestrate_ext.execution.try_limit import TryLimit
from orchestrate_ext.interfaces import BatchReporter, NodeFingerprint, NodeOutcome, NodeTask, RunContext, Workspace
from orchestrate_ext.launcher import LOCAL, WORKER_PYTHON, Command, Handle, LocalLauncher, WorkerLost
from orchestrate_ext.model import AttemptRecord, AttemptStatus, Node
from orchestrate_ext.secrets import node_environment

_DEAD_KERNEL_SECONDS = 10.0
"""How long a notebook whose kernel was stopped may take to notice it."""
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
    """The :class:`~orchestrate_ext.interfaces.NodeRunner` for notebooks (also a ``RecoverableRunner``).

    A try's timeout counts from its start (see :class:`TryLimit`), the grace to stop it included: a notebook
    with ``timeout: 25s`` is over 25 s after its try started, whatever starting its kernel took.
    """

    batchable = False

    def __init__(
        self,
        workspace: Workspace,
        stop_grace: float = 5.0,
        warm_kernels: int = 2,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.workspace = workspace
        self.stop_grace = stop_grace
        self.warm_kernels = warm_kernels
        self.clock = clock

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
            "result": str(result_path_for(task.log_path)),
            "node": node.id,
        }
        reporter.started(node.id, str(output))
        limit = TryLimit.starting(self.clock(), task.timeout, self.stop_grace)
        if self.warm_kernels and isinstance(context.launcher, LocalLauncher):
            return self._run_here(spec, task, limit, cancel)
        return self._launch(context, spec, task, limit, cancel)

    def _start(self, context: RunContext, spec: dict[str, Any], node: Node) -> Handle:
        """The try's handle: a call on a worker's warm kernel pool (Dask), or a worker process."""
        output, result_path = Path(spec["output"]), Path(spec["result"])
        env = dict(node_environment(self.workspace.secret_env, [node]))
        start_call = getattr(context.launcher, "start_call", None)
        if self.warm_kernels and start_call is not None:
            passthrough = tuple(sorted(node.env_passthrough))
            warm = warm_payload(spec, passthrough, env, self.warm_kernels)
            key = json.dumps([spec["kernel"], spec["cwd"], passthrough])
            context.launcher.keep_warm(key, WARM, warm)  # type: ignore[attr-defined]
            handle: Handle = start_call(
                RUN, {**warm, "spec": spec}, outputs=(output, result_path), resources=tuple(node.resources)
            )
            return handle
        command = Command(
            [WORKER_PYTHON, "-m", "jupyter_extension.worker", json.dumps(spec)],
            cwd=Path(spec["cwd"]),
            env=env,
            outputs=(output, result_path),
            resources=node.resources,
        )
        return context.launcher.start(command)

    def _run_here(self, spec: dict[str, Any], task: NodeTask, limit: TryLimit, cancel: threading.Event) -> NodeOutcome:
        """Execute the notebook from this process on a kernel started ahead; stop the kernel on cancel or timeout."""
        node = task.node
        pool = shared_kernel_pool(self.warm_kernels)
        kernel = KernelSpec(spec["kernel"], spec["cwd"], tuple(sorted(node.env_passthrough)))
        with task.log_path.open("a", encoding="utf-8") as log:
            try:
                manager = pool.take(kernel, node_environment(self.workspace.secret_env, [node]))
            except Exception as exc:
                error = f"kernel '{spec['kernel']}' did not start: {exc}"
                return NodeOutcome(AttemptStatus.FAILED, error, spec["output"], worker=LOCAL)
            log.write(f"executing {node.path} on kernel {spec['kernel']} (pid {_pid(manager)})\n")
            log.flush()
            try:
                execution = threading.Thread(
                    target=_execute_quietly, args=(spec, manager, log), name=f"notebook {node.path}", daemon=True
                )
                execution.start()
                stopped = self._watch(execution, lambda: pool.kill(manager), limit, cancel)
            finally:
                pool.discard(manager)
        if stopped is not None:
            return NodeOutcome(stopped[0], stopped[1], spec["output"], worker=LOCAL)
        return replace(_read_result(Path(spec["result"]), 0, spec["output"]), worker=LOCAL)

    def _watch(
        self,
        execution: threading.Thread,
        stop: Callable[[], None],
        limit: TryLimit,
        cancel: threading.Event,
    ) -> tuple[AttemptStatus, str] | None:
        """Wait for the notebook; on cancel or timeout stop its kernel and say why.

        After a timeout the notebook's thread is waited for until the limit's end, no longer (its kernel is
        gone; the thread only notices late): the try is over within its timeout.
        """
        stopped: tuple[AttemptStatus, str] | None = None
        while execution.is_alive():
            execution.join(0.1)
            if stopped is not None or not execution.is_alive():
                continue
            stopped = self._stop_reason(cancel, limit)
            if stopped is not None:
                stop()
                left = limit.left(self.clock())
                timed_out = stopped[0] == AttemptStatus.TIMED_OUT and left is not None
                execution.join(left if timed_out else self.stop_grace + _DEAD_KERNEL_SECONDS)
                break
        return stopped

    def _stop_reason(self, cancel: threading.Event, limit: TryLimit) -> tuple[AttemptStatus, str] | None:
        if cancel.is_set():
            return AttemptStatus.CANCELLED, "the run was cancelled while this notebook ran"
        if limit.stop_due(self.clock()):
            return (
                AttemptStatus.TIMED_OUT,
                f"timed out after {limit.timeout:g} s; the notebook and its kernel were stopped",
            )
        return None

    def _launch(
        self, context: RunContext, spec: dict[str, Any], task: NodeTask, limit: TryLimit, cancel: threading.Event
    ) -> NodeOutcome:
        """Run the notebook through the run's launcher: on a Dask worker's warm kernel pool, or as a worker process."""
        output, result_path = Path(spec["output"]), Path(spec["result"])
        handle = self._start(context, spec, task.node)
        with task.log_path.open("a", encoding="utf-8") as log:
            stopped = self._follow(handle, log, limit, cancel)
        try:
            returncode = handle.wait()
        except WorkerLost as exc:
            return NodeOutcome(AttemptStatus.CRASHED, str(exc), str(output), worker=handle.worker)
        if stopped is not None:
            return NodeOutcome(stopped[0], stopped[1], str(output), worker=handle.worker)
        return replace(_read_result(result_path, returncode or 0, str(output)), worker=handle.worker)

    def _follow(
        self, handle: Handle, log: IO[str], limit: TryLimit, cancel: threading.Event
    ) -> tuple[AttemptStatus, str] | None:
        """Copy the try's output to its log until it ends; stop it on cancel or timeout (and say which).

        On a timeout the worker gets SIGTERM ``limit.grace`` before the end and SIGKILL at the end.
        """
        stopped: tuple[AttemptStatus, str] | None = None
        while (lines := handle.read(0.1)) is not None:
            log.writelines(lines)
            log.flush()
            if stopped is not None:
                continue
            stopped = self._stop_reason(cancel, limit)
            if stopped is not None:
                timed_out = stopped[0] == AttemptStatus.TIMED_OUT
                grace = limit.left(self.clock()) if timed_out else None
                handle.stop(first_signal=signal.SIGTERM, grace=self.stop_grace if grace is None else grace)
        return stopped

    def fingerprints(
        self, context: RunContext, nodes: Sequence[Node], *, check_sources: bool
    ) -> dict[str, NodeFingerprint | None]:
        """Each notebook's code cells, kernel and parameters (see :mod:`jupyter_extension.fingerprint`)."""
        found: dict[str, NodeFingerprint | None] = {}
        for node in nodes:
            try:
                found[node.id] = notebook_fingerprint(node, self.workspace.root / node.path, context)
            except ConfigError:  # unreadable now: it runs, and its run says what is wrong
                found[node.id] = None
        return found

    def recorded_outcome(self, attempt: AttemptRecord) -> NodeOutcome | None:
        """The result the worker wrote when the notebook finished (None when it did not get that far)."""
        if not attempt.log_path:
            return None
        result_path = result_path_for(Path(attempt.log_path))
        if not result_path.is_file():
            return None
        return _read_result(result_path, 0, attempt.output_path)


def _execute_quietly(spec: dict[str, Any], manager: Any, log: IO[str]) -> None:
    """The notebook's thread: every outcome ends up in its result file (a stopped kernel too)."""
    try:
        execute(spec, kernel_manager=manager, log=log)
    except Exception:  # the result file is missing then; the runner reports the notebook failed
        logging.getLogger(__name__).exception("executing %s failed", spec["input"])


def _pid(manager: Any) -> str:
    process = getattr(getattr(manager, "provisioner", None), "process", None)
    return str(getattr(process, "pid", "?"))


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
