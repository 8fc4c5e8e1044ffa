"""Creates runs and carries them out against one graph.

One execution of one run is a :class:`~orchestrate_ext.execution.run_loop.RunLoop`; this
module holds what outlives it: the graph, the runners, the store and defaults.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

from orchestrate_ext.clock import Clock
from orchestrate_ext.config import Defaults
from orchestrate_ext.events import RunListener
from orchestrate_ext.execution.claims import RunSupervisor, default_supervisor
from orchestrate_ext.execution.run_loop import RunLoop
from orchestrate_ext.graph import Graph
from orchestrate_ext.interfaces import NodeRunner
from orchestrate_ext.model import NodeRunRecord, NodeStatus, RunRecord, RunStatus
from orchestrate_ext.store import StateStore


def new_run_id(clock: Clock) -> str:
    """Sortable and unique: ``20240131T060000-3f9a1c07be``."""
    return clock.now().strftime("%Y%m%dT%H%M%S") + "-" + secrets.token_hex(5)


class Executor:
    """Creates runs and carries them out against one graph."""

    def __init__(
        self,
        graph: Graph,
        runners: Mapping[str, NodeRunner],
        store: StateStore,
        clock: Clock,
        *,
        state_dir: Path,
        concurrency: int,
        defaults: Defaults,
        listeners: Sequence[RunListener] = (),
        supervisor: RunSupervisor | None = None,
        redact: Callable[[str], str] | None = None,
    ) -> None:
        """``supervisor`` claims and fences each execution (default: one for this process when the
        store is SQLite; see :mod:`orchestrate_ext.execution.claims`). ``redact`` removes secrets from
        every error and warning a runner reports before it is stored or announced
        (:class:`orchestrate_ext.redact.Redactor`; default: none)."""
        self.graph = graph
        self.runners = runners
        self.store = store
        self.clock = clock
        self.state_dir = state_dir
        self.concurrency = concurrency
        self.defaults = defaults
        self.listeners = list(listeners)
        self.supervisor = supervisor if supervisor is not None else default_supervisor(store, clock)
        self.redact: Callable[[str], str] = redact or str

    def create_run(
        self,
        node_ids: set[str],
        logical_date: datetime,
        *,
        trigger: str = "manual",
        selection: str | None = None,
        schedule: str | None = None,
    ) -> RunRecord:
        """Persist a new run of the runnable nodes among ``node_ids``."""
        run, states = self.new_run(node_ids, logical_date, trigger=trigger, selection=selection, schedule=schedule)
        self.store.create_run(run, states)
        return run

    def new_run(
        self,
        node_ids: set[str],
        logical_date: datetime,
        *,
        trigger: str = "manual",
        selection: str | None = None,
        schedule: str | None = None,
    ) -> tuple[RunRecord, list[NodeRunRecord]]:
        """A new run and its nodes' first states, not yet written (the scheduler writes them with its tick)."""
        now = self.clock.now()
        run = RunRecord(
            run_id=new_run_id(self.clock),
            status=RunStatus.RUNNING,
            created_at=now,
            logical_date=logical_date,
            trigger=trigger,
            selection=selection,
            schedule=schedule,
        )
        states = [
            NodeRunRecord(run.run_id, node_id, self.graph.nodes[node_id].kind, NodeStatus.PENDING)
            for node_id in self.graph.order
            if node_id in node_ids and self.graph.nodes[node_id].runnable
        ]
        return run, states

    def execute(
        self,
        run_id: str,
        cancel: threading.Event | None = None,
        *,
        drain: threading.Event | None = None,
        resume: bool = False,
        parameters: Mapping[str, Any] | None = None,
    ) -> RunRecord:
        """Run every node of the run that has not succeeded yet; return the finished run.

        Nodes that failed or never ran are reset, so this also serves
        ``orchestrate retry``: attempts continue their numbering.

        Args:
            cancel: when set, running nodes are stopped and the rest cancelled.
            drain: when set, no further node starts; running ones finish and the rest are cancelled.
            resume: carry on after the process executing the run died: finished nodes keep their
                state and earlier failed or crashed tries count against each node's retries.
            parameters: passed to every notebook of the run (a schedule's ``parameters``).
        """
        run = self.store.get_run(run_id)
        states = self.store.get_node_states(run_id)
        loop = RunLoop(self, run, states, cancel or threading.Event(), drain or threading.Event(), resume)
        if parameters:
            loop.context = replace(loop.context, parameters=dict(parameters))
        return loop.run()
