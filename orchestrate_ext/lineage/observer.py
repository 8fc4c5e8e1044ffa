"""The lineage observer: every run and node change as an OpenLineage event, written to the outbox.

========================  =====================================================
what happens              event (job)
========================  =====================================================
a run starts              START (the run's job), once per run
a node starts running     START (``<job>.<node id>``), once per run and resumption
a node succeeds / warns   COMPLETE
a node fails              FAIL, with the error-message facet
a node that ran is        ABORT
cancelled
a run ends                COMPLETE / FAIL / ABORT (the run's job)
========================  =====================================================

Nodes that never run (reused, skipped, upstream failed) have no events: no
job ran. Each callback writes one row (the event's facts, see
:mod:`orchestrate_ext.lineage.facts`) in one small transaction and returns;
the sender's thread imports the client, builds the event and does the network. Nothing here raises into the run: an
error is logged (redacted) and the run goes on.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from datetime import datetime
from pathlib import Path
from typing import Any

from orchestrate_ext.background import logged_not_raised
from orchestrate_ext.datasets import node_datasets
from orchestrate_ext.events import NodeChanged
from orchestrate_ext.execution.observers import ObserverContext
from orchestrate_ext.lineage.config import LineageConfig
from orchestrate_ext.lineage.delivery import Sender
from orchestrate_ext.lineage.facts import JobRef, NodeFacts, node_facts, run_facts
from orchestrate_ext.lineage.outbox import LineageOutbox
from orchestrate_ext.lineage.transport import open_transport
from orchestrate_ext.model import NodeStatus, RunRecord, RunStatus
from orchestrate_ext.redact import Redactor

log = logging.getLogger(__name__)

NODE_TERMINAL = {
    NodeStatus.SUCCESS: "COMPLETE",
    NodeStatus.WARNED: "COMPLETE",
    NodeStatus.FAILED: "FAIL",
    NodeStatus.CANCELLED: "ABORT",
}
RUN_TERMINAL = {RunStatus.SUCCESS: "COMPLETE", RunStatus.FAILED: "FAIL", RunStatus.CANCELLED: "ABORT"}


class LineageObserver:
    """The :class:`~orchestrate_ext.interfaces.Observer` of the lineage plugin.

    Args:
        background: send in a thread of its own (the default); tests pass False and send in ``tick``.
        environ: where the API key and ``OPENLINEAGE_*`` are read from (default ``os.environ``).
        transport: opens the client transport (default: :func:`~orchestrate_ext.lineage.transport.open_transport`).
    """

    def __init__(
        self,
        config: LineageConfig,
        context: ObserverContext,
        *,
        background: bool = True,
        environ: Mapping[str, str] | None = None,
        transport: Callable[[], Any] | None = None,
    ) -> None:
        env = os.environ if environ is None else environ
        self.config = config
        self.context = context
        self.clock = context.clock
        self.graph = context.graph
        self.job = JobRef(config.job_namespace(env), config.job_name or context.workspace.root.name)
        secret_names = set(context.workspace.secret_env)
        key_env = getattr(config.transport, "api_key_env", None)
        if key_env:
            secret_names.add(key_env)
        self.redact = Redactor.from_env(secret_names, env)
        self.outbox = LineageOutbox(context.store)
        self.sender = Sender(
            self.outbox,
            self.clock,
            config.delivery,
            transport or (lambda: open_transport(config, env)),
            self.redact,
        )
        self.background = background
        self._lock = threading.RLock()
        self._runs: dict[str, RunRecord] = {}
        self._started: set[tuple[str, str]] = set()
        self._failed: dict[str, list[str]] = {}
        self._facts: dict[str, NodeFacts] = {}
        self._closed = False
        if background:
            self.sender.start()

    def _guard(self, what: str) -> AbstractContextManager[None]:
        """Log, never raise: lineage must not fail a run."""
        return logged_not_raised(self._lock, f"lineage: {what}", self.redact)

    # -- the Observer protocol

    def run_started(self, run: RunRecord, node_ids: list[str]) -> None:
        with self._guard("run_started"):
            self._runs[run.run_id] = run
            when = run.started_at or self.clock.now()
            event = run_facts("START", when, run.run_id, self.job, run.logical_date, None)
            self._add(f"{run.run_id}:run:START", run.run_id, event)

    def node_changed(self, change: NodeChanged) -> None:
        if change.status != NodeStatus.RUNNING and change.status not in NODE_TERMINAL:
            return
        with self._guard("node_changed"):
            run = self._run(change.run_id)
            started = (run.run_id, change.node_id) in self._started
            if change.status == NodeStatus.RUNNING:
                if not started:
                    self._node_event("START", run, change.node_id, None)
                    self._started.add((run.run_id, change.node_id))
                return
            if change.status == NodeStatus.CANCELLED and not started:
                return  # cancelled before it ran: no job ran
            error = self.redact(change.error) if change.status == NodeStatus.FAILED else None
            if change.status == NodeStatus.FAILED:
                self._failed.setdefault(run.run_id, []).append(change.node_id)
                error = error or f"node {change.node_id} failed"
            self._node_event(NODE_TERMINAL[change.status], run, change.node_id, error)
            self._started.discard((run.run_id, change.node_id))

    def run_finished(self, run: RunRecord) -> None:
        with self._guard("run_finished"):
            state = RUN_TERMINAL.get(run.status)
            if state is None:
                return
            error = None
            if state == "FAIL":
                failed = self._failed.get(run.run_id) or []
                error = f"{len(failed)} node(s) failed: {', '.join(failed)}" if failed else f"run {run.run_id} failed"
            when = run.finished_at or self.clock.now()
            event = run_facts(state, when, run.run_id, self.job, run.logical_date, error)
            self._add(f"{run.run_id}:{run.resumptions}:run:END", run.run_id, event)
            self._runs.pop(run.run_id, None)
            self._failed.pop(run.run_id, None)
            self._started = {key for key in self._started if key[0] != run.run_id}

    def tick(self, now: datetime) -> None:
        with self._guard("tick"):
            if self.background:
                self.sender.wake()
            else:
                self.sender.deliver_due()

    def close(self, timeout: float) -> None:
        """Let the sender try what is due for at most ``timeout`` (and ``delivery.exit_wait``) seconds.

        It stops at the first failure: with the collector down the process exits at once, and the
        events wait in the outbox for the next process (the scheduler, ``orchestrate lineage deliver``).
        """
        if self._closed:
            return
        self._closed = True
        wait = max(0.0, min(timeout, self.config.delivery.exit_wait))
        with self._guard("close"):
            if self.background:
                self.sender.flush(wait)
                self.sender.stop(0.1)
            else:
                self.sender.drain(wait)

    # -- events

    def _run(self, run_id: str) -> RunRecord:
        run = self._runs.get(run_id)
        if run is None:
            with self.context.store.read() as runs:
                run = self._runs[run_id] = runs.get_run(run_id)
        return run

    def _node_event(self, state: str, run: RunRecord, node_id: str, error: str | None) -> None:
        facts = self._node_facts(node_id)
        when = self.clock.now()
        event = node_facts(state, when, run.run_id, self.job, run.logical_date, facts, error, run.resumptions)
        phase = "START" if state == "START" else "END"
        self._add(f"{run.run_id}:{run.resumptions}:{node_id}:{phase}", run.run_id, event)

    def _node_facts(self, node_id: str) -> NodeFacts:
        facts = self._facts.get(node_id)
        if facts is None:
            node = self.graph.nodes[node_id]
            source = (self.context.workspace.root / node.path).resolve() if node.path else None
            facts = self._facts[node_id] = NodeFacts(
                node_id=node_id,
                resource_type=node.resource_type,
                kind=node.kind,
                source_file=source if isinstance(source, Path) and source.is_file() else None,
                datasets=node_datasets(self.graph, node_id),
            )
        return facts

    def _add(self, key: str, run_id: str, event: dict[str, Any]) -> None:
        with self.outbox.transaction() as tx:
            tx.add(key, run_id, json.dumps(event, sort_keys=True), self.clock.now())
        if self.background:
            self.sender.wake()
