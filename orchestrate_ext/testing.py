"""Helpers for testing code that uses orchestrate-ext: a fake clock, a scripted runner, waiting.

Shipped with the package (as httpx ships its mock transport) so that the
project's own tests and a plugin's tests use the same ones::

    clock = FakeClock(datetime(2024, 1, 31, 6, tzinfo=UTC))
    runner = ScriptedRunner({"model.shop.orders": ["fail", "ok"]})   # fails once, then succeeds
    ...
    clock.advance(minutes=5)
    wait_until(lambda: runner.tries["model.shop.orders"] == 2)
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from orchestrate_ext.interfaces import BatchReporter, NodeFingerprint, NodeOutcome, NodeTask, RunContext
from orchestrate_ext.model import AttemptStatus, Node


class FakeClock:
    """Time that moves only when a test says so (wall time and monotonic time together)."""

    def __init__(self, start: datetime) -> None:
        self.current = start
        self.ticks = 0.0

    def now(self) -> datetime:
        return self.current

    def monotonic(self) -> float:
        return self.ticks

    def set(self, moment: datetime) -> datetime:
        self.ticks += max(0.0, (moment - self.current).total_seconds())
        self.current = moment
        return moment

    def advance(self, **delta: float) -> datetime:
        return self.set(self.current + timedelta(**delta))


class ScriptedRunner:
    """A :class:`~orchestrate_ext.interfaces.NodeRunner` that plays a script instead of running anything.

    ``script[node_id]`` lists one step per try (the last one repeats): ``ok``,
    ``warn`` (succeeds with a warning), ``fail``, ``skip`` (reported as not run),
    ``raise`` (the runner raises), ``silent`` (started, never finished). Every
    try waits for ``gate`` (set by default) and takes ``seconds``; a set cancel
    flag ends a waiting try as cancelled.

    Each node's fingerprint (for ``--only-changed`` runs) is ``code[node_id]``
    (default ``v1``: change it to "edit" a node) and the run's parameters.

    Attributes:
        calls: ``(run_id, node_id, logical_date, parameters)`` of every try, in order.
        batches: the node ids of every call of ``run``.
        tries: how many times each node was handed to the runner.
        most_running: the most batches that ran at the same time.
    """

    def __init__(
        self, script: Mapping[str, Sequence[str]] | None = None, *, batchable: bool = False, seconds: float = 0.0
    ) -> None:
        self.script = {node_id: list(steps) for node_id, steps in (script or {}).items()}
        self.batchable = batchable
        self.seconds = seconds
        self.gate = threading.Event()
        self.gate.set()
        self.calls: list[tuple[str, str, datetime, dict[str, Any]]] = []
        self.batches: list[list[str]] = []
        self.tries: dict[str, int] = {}
        self.code: dict[str, str] = {}
        self.running = 0
        self.most_running = 0
        self.lock = threading.RLock()

    def run(
        self, context: RunContext, tasks: Sequence[NodeTask], reporter: BatchReporter, cancel: threading.Event
    ) -> None:
        with self.lock:
            self.batches.append([task.node.id for task in tasks])
            self.running += 1
            self.most_running = max(self.most_running, self.running)
        try:
            for task in tasks:
                if not self._play(context, task, reporter, cancel):
                    return
        finally:
            with self.lock:
                self.running -= 1

    def _play(self, context: RunContext, task: NodeTask, reporter: BatchReporter, cancel: threading.Event) -> bool:
        node_id = task.node.id
        with self.lock:
            steps = self.script.get(node_id, ["ok"])
            step = steps[min(self.tries.get(node_id, 0), len(steps) - 1)]
            self.tries[node_id] = self.tries.get(node_id, 0) + 1
            self.calls.append((context.run_id, node_id, context.logical_date, dict(context.parameters)))
        if step == "skip":
            reporter.finished(node_id, NodeOutcome.skip("skipped by the runner"))
            return True
        if step == "raise":
            raise RuntimeError("the runner broke")
        reporter.started(node_id)
        if step == "silent":
            return True
        deadline = time.monotonic() + self.seconds
        while not self.gate.wait(0.02) or time.monotonic() < deadline:
            if cancel.is_set():
                reporter.finished(node_id, NodeOutcome(AttemptStatus.CANCELLED, "cancelled"))
                return False
            time.sleep(min(0.02, max(0.0, deadline - time.monotonic())))
        if step == "ok":
            reporter.finished(node_id, NodeOutcome(AttemptStatus.SUCCESS))
        elif step == "warn":
            reporter.finished(node_id, NodeOutcome(AttemptStatus.SUCCESS, warning="3 rows found"))
        else:
            reporter.finished(node_id, NodeOutcome(AttemptStatus.FAILED, f"{node_id} failed"))
        return True

    def fingerprints(
        self, context: RunContext, nodes: Sequence[Node], *, check_sources: bool
    ) -> dict[str, NodeFingerprint | None]:
        inputs = json.dumps(dict(context.parameters), sort_keys=True, default=str)
        return {node.id: NodeFingerprint(self.code.get(node.id, "v1"), inputs) for node in nodes}

    def nodes_run(self) -> list[str]:
        with self.lock:
            return [call[1] for call in self.calls]


def wait_until(condition: Callable[[], object], timeout: float = 10.0, *, interval: float = 0.02) -> None:
    """Poll ``condition`` until it is true; ``AssertionError`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s: {condition}")
        time.sleep(interval)
