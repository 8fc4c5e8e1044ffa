"""The one-node project the scheduler benchmarks run: a node whose runner does nothing."""

from __future__ import annotations

import threading
from collections.abc import Sequence

from orchestrate_ext.graph import Graph, build_graph
from orchestrate_ext.interfaces import BatchReporter, NodeOutcome, NodeTask, RunContext
from orchestrate_ext.model import AttemptStatus, Node


class NoopRunner:
    """Reports every node started and succeeded at once."""

    batchable = False

    def run(
        self, context: RunContext, tasks: Sequence[NodeTask], reporter: BatchReporter, cancel: threading.Event
    ) -> None:
        for task in tasks:
            reporter.started(task.node.id)
            reporter.finished(task.node.id, NodeOutcome(AttemptStatus.SUCCESS))


def noop_graph() -> Graph:
    return build_graph([Node(id="noop.a", kind="noop", resource_type="model", name="a")])
