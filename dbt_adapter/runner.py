"""Runs a batch of dbt nodes in one ``dbt build`` and reports each node live.

One subprocess per batch (never one per node: a fresh dbt process costs
5-8 s); its JSON log is read line by line so each node's start and end reach
the engine as they happen. A subprocess, not dbt's in-process runner, so that
a timeout or a cancel can stop dbt (SIGINT first: dbt then cancels its
warehouse queries) and everything it started.
"""

from __future__ import annotations

import queue
import signal
import subprocess
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import IO

from dbt_adapter.events import DbtEvent, error_messages, parse_line
from dbt_adapter.parse import referenced_vars
from dbt_adapter.project import DbtProject
from orchestrate_ext import processes
from orchestrate_ext.interfaces import BatchReporter, NodeOutcome, NodeTask, RunContext
from orchestrate_ext.model import AttemptStatus

_CHECK_SECONDS = 0.2
"""How often timeouts and the cancel flag are checked while dbt runs."""
_SUCCESS = {"success", "pass", "warn", "no-op"}
_FAILURE = {"error", "fail", "runtime error"}
_LOCK_HINT = (
    "\nhint: another process holds the DuckDB file. Give every notebook that opens it "
    "`resources: [warehouse]` in its orchestrate metadata so orchestrate-ext runs them one at a time."
)


@dataclass
class _Batch:
    tasks: dict[str, NodeTask]
    reporter: BatchReporter
    started: dict[str, float] = field(default_factory=dict)
    finished: set[str] = field(default_factory=set)
    logs: dict[str, IO[str]] = field(default_factory=dict)
    stopping: bool = False
    """Set once dbt is being stopped: what it reports afterwards is ignored."""

    def log(self, unique_id: str, text: str) -> None:
        handle = self.logs.get(unique_id)
        if handle is None:
            handle = self.logs[unique_id] = self.tasks[unique_id].log_path.open("a", encoding="utf-8")
        handle.write(text.rstrip("\n") + "\n")

    def finish(self, unique_id: str, outcome: NodeOutcome) -> None:
        if outcome.error:
            self.log(unique_id, f"[orchestrate] {outcome.error}")
        if unique_id in self.logs:
            self.logs[unique_id].flush()
        self.finished.add(unique_id)
        self.reporter.finished(unique_id, outcome)

    def in_flight(self) -> list[str]:
        return [unique_id for unique_id in self.started if unique_id not in self.finished]

    def close(self) -> None:
        for handle in self.logs.values():
            handle.close()


class DbtRunner:
    """The :class:`~orchestrate_ext.interfaces.NodeRunner` for dbt nodes."""

    batchable = True

    def __init__(self, project: DbtProject, stop_grace: float = 10.0) -> None:
        self.project = project
        self.stop_grace = stop_grace
        self._used_vars: frozenset[str] | None = None

    def run(
        self,
        context: RunContext,
        tasks: Sequence[NodeTask],
        reporter: BatchReporter,
        cancel: threading.Event,
    ) -> None:
        batch = _Batch(tasks={task.node.id: task for task in tasks}, reporter=reporter)
        argv = self.project.argv(
            "build",
            "--select",
            *[str(task.node.settings["selector"]) for task in tasks],
            "--indirect-selection",
            "empty",
            "--log-format",
            "json",
            "--log-level",
            "debug",  # NodeStart/NodeFinished are debug events
            "--log-level-file",
            "none",  # the batch log below keeps everything dbt.log would
            variables=self._variables(context),
        )
        batch_log = tasks[0].log_path.with_name(f"dbt-batch.{tasks[0].node.id}.{tasks[0].try_number}.jsonl")
        try:
            with batch_log.open("w", encoding="utf-8") as raw_log:
                self._run_process(argv, batch, raw_log, cancel)
        finally:
            batch.close()

    def _variables(self, context: RunContext) -> dict[str, object]:
        """The run's values for the ``var()`` names the project reads (``--vars`` JSON)."""
        offered = {
            **context.parameters,
            "logical_date": context.logical_date.isoformat().replace("+00:00", "Z"),
            "run_id": context.run_id,
        }
        if self._used_vars is None:
            self._used_vars = referenced_vars(self.project.project_dir)
        return {name: value for name, value in offered.items() if name in self._used_vars}

    def _run_process(self, argv: list[str], batch: _Batch, raw_log: IO[str], cancel: threading.Event) -> None:
        nodes = [task.node for task in batch.tasks.values()]
        process = processes.start(argv, cwd=self.project.project_dir, env=self.project.env(nodes))
        lines: queue.Queue[str | None] = queue.Queue()
        reader = threading.Thread(target=_read_lines, args=(process, lines, raw_log), daemon=True)
        reader.start()
        other_output: list[str] = []
        next_check = 0.0
        while True:
            try:
                line = lines.get(timeout=_CHECK_SECONDS)
            except queue.Empty:
                line = ""
            if line is None:
                break
            if line:
                self._on_line(line, batch, other_output)
            if not batch.stopping and time.monotonic() >= next_check:  # not per line: 10k lines a run
                next_check = time.monotonic() + _CHECK_SECONDS
                stopped_node, stop_reason = self._should_stop(batch, cancel)
                if stop_reason is not None:
                    self._report_interrupted(batch, stopped_node, stop_reason)
                    threading.Thread(
                        target=processes.stop,
                        args=(process,),
                        kwargs={"first_signal": signal.SIGINT, "grace": self.stop_grace},
                        daemon=True,
                    ).start()
        process.wait()
        reader.join()
        self._settle(batch, process.returncode, other_output)

    def _should_stop(self, batch: _Batch, cancel: threading.Event) -> tuple[str | None, NodeOutcome | None]:
        if cancel.is_set():
            return None, NodeOutcome(AttemptStatus.CANCELLED, "the run was cancelled while dbt ran this node")
        now = time.monotonic()
        for unique_id in batch.in_flight():
            timeout = batch.tasks[unique_id].timeout
            if timeout is not None and now - batch.started[unique_id] > timeout:
                return unique_id, NodeOutcome(
                    AttemptStatus.TIMED_OUT, f"timed out after {timeout:g} s; dbt was stopped"
                )
        return None, None

    @staticmethod
    def _report_interrupted(batch: _Batch, stopped_node: str | None, reason: NodeOutcome) -> None:
        """Settle the nodes in flight before dbt is stopped; what dbt says of them later is ignored."""
        batch.stopping = True
        if stopped_node is not None:
            batch.finish(stopped_node, reason)
            reason = NodeOutcome(AttemptStatus.CANCELLED, f"dbt was stopped because {stopped_node} timed out")
        for unique_id in batch.in_flight():
            batch.finish(unique_id, reason)

    def _on_line(self, line: str, batch: _Batch, other_output: list[str]) -> None:
        event = parse_line(line)
        if event is not None and event.unique_id in batch.tasks:
            self._on_event(event, batch)
        else:
            other_output.append(line)

    def _on_event(self, event: DbtEvent, batch: _Batch) -> None:
        unique_id = event.unique_id
        assert unique_id is not None
        if event.message and event.level != "debug":
            batch.log(unique_id, f"{event.level:>5} {event.message}")
        if event.name == "LogStartLine" and unique_id not in batch.started:
            batch.started[unique_id] = time.monotonic()
            batch.reporter.started(unique_id)
        elif event.name == "NodeFinished" and not batch.stopping and unique_id not in batch.finished:
            batch.finish(unique_id, _outcome(event))

    def _settle(self, batch: _Batch, returncode: int, other_output: list[str]) -> None:
        """Report every node dbt left without a result."""
        if batch.stopping:
            for unique_id in batch.tasks.keys() - batch.finished:
                batch.finish(unique_id, NodeOutcome.skip("dbt was stopped before this node started"))
            return
        problems = error_messages(other_output)
        detail = "\n".join(problems[-20:]) if problems else f"dbt exited with code {returncode}"
        for unique_id, task in batch.tasks.items():
            if unique_id in batch.finished:
                continue
            if returncode == 0:
                error = f"dbt did not run this node; its selector '{task.node.settings['selector']}' matched nothing"
            else:
                error = f"dbt failed before finishing this node:\n{detail}"
            if unique_id not in batch.started:
                batch.reporter.started(unique_id)
            batch.finish(unique_id, NodeOutcome(AttemptStatus.FAILED, error))


def _outcome(event: DbtEvent) -> NodeOutcome:
    status = event.run_status
    message = event.run_message
    if status in _SUCCESS:
        return NodeOutcome(AttemptStatus.SUCCESS)
    if status == "skipped":
        return NodeOutcome.skip(message or "dbt skipped this node because a node it depends on failed")
    error = message or f"dbt reported status '{status}'"
    if "Could not set lock on file" in error:
        error += _LOCK_HINT
    if status in _FAILURE:
        return NodeOutcome(AttemptStatus.FAILED, error)
    return NodeOutcome(AttemptStatus.FAILED, f"dbt reported an unknown status '{status}': {error}")


def _read_lines(process: subprocess.Popen[bytes], lines: queue.Queue[str | None], raw_log: IO[str]) -> None:
    """Copy dbt's output to the batch log; pass on all but the debug chatter (SQL, connections: ~9 lines in 10)."""
    assert process.stdout is not None
    for raw in iter(process.stdout.readline, b""):
        line = raw.decode("utf-8", errors="replace")
        raw_log.write(line)
        if '"level": "debug"' not in line or '"name": "NodeFinished"' in line:
            lines.put(line)
    lines.put(None)
