"""One dbt process for a set of tasks: start it, read its events, enforce timeouts and cancels, settle every task.

Protocol: every task gets exactly one ``finished`` (and a ``started`` before it,
except for a skip). A node is in flight from ``LogStartLine`` to its result
event; a failure whose message dbt prints only in its closing summary is
*pending* meanwhile: no longer in flight (its timeout no longer runs), settled
when the message arrives or dbt exits. Once dbt is being stopped, whatever it
reports is ignored and the tasks it left are settled here.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import IO, Any

from dbt_adapter import outcomes
from dbt_adapter.entry import DBT_MAIN, HOOKS_ENV
from dbt_adapter.events import MESSAGE_EVENTS, RESULT_EVENTS, START_EVENTS, DbtEvent, error_messages, parse_line
from dbt_adapter.project import DbtProject
from orchestrate_ext.execution.try_limit import TryLimit
from orchestrate_ext.interfaces import BatchReporter, NodeOutcome, NodeTask
from orchestrate_ext.launcher import Command, Handle, Launcher, WorkerLost
from orchestrate_ext.model import AttemptStatus

_CHECK_SECONDS = 0.2
"""How often timeouts and the cancel flag are checked while dbt runs."""


@dataclass(frozen=True)
class Invocation:
    command: str
    argv: list[str]
    tasks: list[NodeTask]
    warn_blocks: bool = False
    hooks: str | None = None
    """The project hooks this process runs (:data:`~dbt_adapter.entry.HOOKS_ENV`); None: dbt's default."""


@dataclass
class _State:
    tasks: dict[str, NodeTask]
    """By dbt unique id."""
    reporter: BatchReporter
    warn_blocks: bool
    started: dict[str, float] = field(default_factory=dict)
    finished: set[str] = field(default_factory=set)
    pending: dict[str, str] = field(default_factory=dict)
    """Failed or warned per dbt, waiting for dbt's message: status by dbt id."""
    logs: dict[str, IO[str]] = field(default_factory=dict)
    stopping: bool = False
    handle: Handle | None = None
    """The dbt process; where it runs (``local`` or a Dask worker) is recorded on every try it settles."""

    def node_id(self, dbt_id: str) -> str:
        return self.tasks[dbt_id].node.id

    def log(self, dbt_id: str, text: str) -> None:
        handle = self.logs.get(dbt_id)
        if handle is None:
            handle = self.logs[dbt_id] = self.tasks[dbt_id].log_path.open("a", encoding="utf-8")
        handle.write(text.rstrip("\n") + "\n")

    def start(self, dbt_id: str) -> None:
        if dbt_id not in self.started:
            self.started[dbt_id] = time.monotonic()
            self.reporter.started(self.node_id(dbt_id))

    def finish(self, dbt_id: str, outcome: NodeOutcome) -> None:
        if dbt_id in self.finished:
            return
        if not outcome.skipped:
            outcome = replace(outcome, worker=self.handle.worker if self.handle else None)
            self.start(dbt_id)
        text = outcome.error or outcome.warning
        if text:
            self.log(dbt_id, f"[orchestrate] {text}")
        if dbt_id in self.logs:
            self.logs[dbt_id].flush()
        self.pending.pop(dbt_id, None)
        self.finished.add(dbt_id)
        self.reporter.finished(self.node_id(dbt_id), outcome)

    def with_message(self, dbt_id: str, status: str, message: str | None) -> NodeOutcome:
        settings = self.tasks[dbt_id].node.settings
        return outcomes.with_message(status, message, warn_blocks=self.warn_blocks, settings=settings)

    def in_flight(self) -> list[str]:
        return [uid for uid in self.started if uid not in self.finished and uid not in self.pending]

    def close(self) -> None:
        for handle in self.logs.values():
            handle.close()


def run_invocation(
    invocation: Invocation,
    reporter: BatchReporter,
    cancel: threading.Event,
    project: DbtProject,
    stop_grace: float,
    launcher: Launcher,
) -> None:
    tasks = {str(task.node.settings.get("dbt_id") or task.node.id): task for task in invocation.tasks}
    state = _State(tasks=tasks, reporter=reporter, warn_blocks=invocation.warn_blocks)
    first = invocation.tasks[0]
    kind = invocation.command.replace(" ", "-")
    raw_path = first.log_path.with_name(f"dbt-{kind}.{first.node.id.replace('/', '__')}.{first.try_number}.jsonl")
    try:
        with raw_path.open("w", encoding="utf-8") as raw_log:
            shown = ("{dbt-entry-point}" if item == DBT_MAIN else item for item in invocation.argv)
            raw_log.write("# " + " ".join(shown) + "\n")  # one line: the entry point's source spans several
            _Process(invocation.argv, state, raw_log, cancel, project, stop_grace, launcher, invocation.hooks).run()
    finally:
        state.close()


class _Process:
    def __init__(
        self,
        argv: list[str],
        state: _State,
        raw_log: IO[str],
        cancel: threading.Event,
        project: DbtProject,
        stop_grace: float,
        launcher: Launcher,
        hooks: str | None = None,
    ) -> None:
        self.launcher = launcher
        self.hooks = hooks
        self.argv = argv
        self.state = state
        self.raw_log = raw_log
        self.cancel = cancel
        self.project = project
        self.stop_grace = stop_grace
        self.other_output: list[str] = []

    def run(self) -> None:
        nodes = [task.node for task in self.state.tasks.values()]
        env = self.project.env(nodes)
        if self.hooks is not None:
            env[HOOKS_ENV] = self.hooks
        command = Command(
            self.argv,
            cwd=self.project.project_dir,
            env=env,
            resources=tuple(dict.fromkeys(name for node in nodes for name in node.resources)),
        )
        handle = self.launcher.start(command)
        self.state.handle = handle
        next_check = 0.0
        while (lines := handle.read(_CHECK_SECONDS)) is not None:
            self.raw_log.writelines(lines)
            self.raw_log.flush()  # read after a crash to adopt what finished (dbt_adapter.recovered)
            for line in lines:
                self._on_line(line)
            if not self.state.stopping and time.monotonic() >= next_check:  # not per line: thousands a run
                next_check = time.monotonic() + _CHECK_SECONDS
                stopped_node, reason, grace = self._should_stop()
                if reason is not None:
                    self._interrupt(stopped_node, reason)
                    handle.stop(first_signal=signal.SIGINT, grace=grace)
        try:
            returncode = handle.wait()
        except WorkerLost as exc:
            self._lost(str(exc))
            return
        self._settle(returncode if returncode is not None else -1)

    def _should_stop(self) -> tuple[str | None, NodeOutcome | None, float]:
        """Whether to stop dbt now: the node that timed out (None: a cancel), why, and the grace of each signal."""
        if self.cancel.is_set():
            cancelled = NodeOutcome(AttemptStatus.CANCELLED, "the run was cancelled while dbt ran this node")
            return None, cancelled, self.stop_grace
        now = time.monotonic()
        for dbt_id in self.state.in_flight():
            limit = TryLimit.starting(self.state.started[dbt_id], self.state.tasks[dbt_id].timeout, self.stop_grace)
            if limit.stop_due(now):
                # SIGINT, SIGTERM and SIGKILL half the grace apart: dbt is gone when the node's timeout ends.
                timed_out = NodeOutcome(
                    AttemptStatus.TIMED_OUT, f"timed out after {limit.timeout:g} s; dbt was stopped"
                )
                return dbt_id, timed_out, limit.grace / 2
        return None, None, 0.0

    def _interrupt(self, stopped: str | None, reason: NodeOutcome) -> None:
        """Settle what is in flight before dbt is stopped; what dbt says of it later is ignored."""
        state = self.state
        state.stopping = True
        for dbt_id, status in list(state.pending.items()):
            lost = "dbt was stopped before it printed its message"
            state.finish(dbt_id, state.with_message(dbt_id, status, lost))
        if stopped is not None:
            state.finish(stopped, reason)
            reason = NodeOutcome(AttemptStatus.CANCELLED, f"dbt was stopped because {state.node_id(stopped)} timed out")
        for dbt_id in state.in_flight():
            state.finish(dbt_id, reason)

    def _on_line(self, line: str) -> None:
        event = parse_line(line)
        if event is None or event.unique_id not in self.state.tasks:
            self.other_output.append(line)
            return
        state = self.state
        dbt_id = event.unique_id
        if event.message:
            state.log(dbt_id, f"{event.level:>5} {event.message}")
        if state.stopping or dbt_id in state.finished:
            return
        if event.name in START_EVENTS:
            state.start(dbt_id)
        elif event.name in RESULT_EVENTS and event.node_status:
            self._on_result(dbt_id, event)
        elif event.name in MESSAGE_EVENTS and dbt_id in state.pending:
            status = state.pending[dbt_id]
            state.finish(dbt_id, state.with_message(dbt_id, status, event.summary_text))

    def _on_result(self, dbt_id: str, event: DbtEvent) -> None:
        state = self.state
        status = str(event.node_status)
        settings: Mapping[str, Any] = state.tasks[dbt_id].node.settings
        outcome = outcomes.immediate(status, settings, event.num_failures, warn_blocks=state.warn_blocks)
        if outcome is None:
            state.start(dbt_id)
            state.pending[dbt_id] = status
        else:
            state.finish(dbt_id, outcome)

    def _lost(self, error: str) -> None:
        """The machine running dbt died: what it had not finished crashed (a failed try, retried as allowed)."""
        for dbt_id in self.state.tasks.keys() - self.state.finished:
            self.state.finish(dbt_id, NodeOutcome(AttemptStatus.CRASHED, error))

    def _settle(self, returncode: int) -> None:
        """Report every task dbt left without a result."""
        state = self.state
        for dbt_id, status in list(state.pending.items()):
            state.finish(dbt_id, state.with_message(dbt_id, status, None))
        if state.stopping:
            for dbt_id in state.tasks.keys() - state.finished:
                state.finish(dbt_id, NodeOutcome.skip("dbt was stopped before this node started"))
            return
        problems = error_messages(self.other_output)
        detail = outcomes.with_lock_hint(
            "\n".join(problems[-20:]) if problems else f"dbt exited with code {returncode}"
        )
        for dbt_id in state.tasks.keys() - state.finished:
            if returncode == 0:
                error = f"dbt did not run {dbt_id}: its selection matched nothing"
            else:
                error = f"dbt failed before finishing this node:\n{detail}"
            state.finish(dbt_id, outcomes.unfinished(error, state.tasks[dbt_id].node.settings))
