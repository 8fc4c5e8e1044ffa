"""Creates runs and carries them out against one graph.

One execution of one run is a :class:`~orchestrate_ext.execution.run_loop.RunLoop`;
this module holds what outlives it: the :class:`RunEnvironment` every execution
shares, and the :class:`Supervisor` that claims each run for this process.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from orchestrate_ext.clock import Clock
from orchestrate_ext.config import Defaults
from orchestrate_ext.errors import StoreError
from orchestrate_ext.events import RunListener
from orchestrate_ext.execution.claims import Supervisor
from orchestrate_ext.execution.run_loop import RunLoop
from orchestrate_ext.execution.store_failure import record_store_failure
from orchestrate_ext.graph import Graph
from orchestrate_ext.interfaces import NodeRunner
from orchestrate_ext.launcher import Launcher, LocalLauncher
from orchestrate_ext.model import NodeRunRecord, NodeStatus, RunRecord, RunStatus
from orchestrate_ext.run_request import RunRequest
from orchestrate_ext.secrets import seal_process
from orchestrate_ext.store import StateStore
from orchestrate_ext.store.files import StateFiles


def new_run_id(clock: Clock) -> str:
    """Sortable and unique: ``20240131T060000-3f9a1c07be``."""
    return clock.now().strftime("%Y%m%dT%H%M%S") + "-" + secrets.token_hex(5)


def plan_run(
    graph: Graph,
    clock: Clock,
    node_ids: set[str],
    logical_date: datetime,
    *,
    trigger: str = "manual",
    selection: str | None = None,
    schedule: str | None = None,
    parameters: Mapping[str, Any] | None = None,
    only_changed: bool = False,
    left_out: Mapping[str, str] | None = None,
) -> tuple[RunRecord, list[NodeRunRecord]]:
    """A new run of the runnable nodes among ``node_ids`` and their first states, in graph order (not written).

    ``left_out``: the nodes the selection chose that the run cannot include, with why (see
    :meth:`~orchestrate_ext.partial_graph.PartialGraph.left_out`); recorded on the run.
    """
    run = RunRecord(
        run_id=new_run_id(clock),
        status=RunStatus.RUNNING,
        created_at=clock.now(),
        logical_date=logical_date,
        trigger=trigger,
        selection=selection,
        schedule=schedule,
        parameters=dict(parameters or {}),
        only_changed=only_changed,
        left_out=dict(left_out or {}),
    )
    states = [
        NodeRunRecord(run.run_id, node_id, graph.nodes[node_id].kind, NodeStatus.PENDING)
        for node_id in graph.order
        if node_id in node_ids and graph.nodes[node_id].runnable
    ]
    return run, states


@dataclass(frozen=True)
class RunEnvironment:
    """What every execution of a run shares: the graph, its runners, the store, the clock and the policies."""

    graph: Graph
    runners: Mapping[str, NodeRunner]
    store: StateStore
    clock: Clock
    state_dir: Path
    concurrency: int
    defaults: Defaults
    listeners: Sequence[RunListener] = field(default_factory=tuple)
    launcher: Launcher = field(default_factory=LocalLauncher)
    redact: Callable[[str], str] = str
    """Removes secrets from every error and warning a runner reports (:class:`orchestrate_ext.redact.Redactor`)."""


class Executor:
    """Creates runs and carries them out against one graph.

    Args:
        supervisor: claims each execution (default: one for this process).
        launcher: where tries run (default: this machine).
        redact: removes secrets from what runners report, before it is stored or announced.
    """

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
        supervisor: Supervisor | None = None,
        launcher: Launcher | None = None,
        redact: Callable[[str], str] = str,
    ) -> None:
        if store.files is None:  # the paths this executor records are relative to state_dir: read them so
            store.files = StateFiles(state_dir)
        self.environment = RunEnvironment(
            graph,
            runners,
            store,
            clock,
            state_dir,
            concurrency,
            defaults,
            tuple(listeners),
            launcher or LocalLauncher(),
            redact,
        )
        self.supervisor = supervisor if supervisor is not None else Supervisor(store, clock)

    @property
    def graph(self) -> Graph:
        return self.environment.graph

    @property
    def store(self) -> StateStore:
        return self.environment.store

    @property
    def clock(self) -> Clock:
        return self.environment.clock

    def create_run(
        self,
        node_ids: set[str],
        logical_date: datetime,
        *,
        trigger: str = "manual",
        selection: str | None = None,
        schedule: str | None = None,
        parameters: Mapping[str, Any] | None = None,
        only_changed: bool | None = None,
        left_out: Mapping[str, str] | None = None,
    ) -> RunRecord:
        """Persist a new run of the runnable nodes among ``node_ids``."""
        run, states = self.new_run(
            node_ids,
            logical_date,
            trigger=trigger,
            selection=selection,
            schedule=schedule,
            parameters=parameters,
            only_changed=only_changed,
            left_out=left_out,
        )
        with self.store.transaction() as tx:
            tx.insert_run(run, states)
        return run

    def plan(self, request: RunRequest) -> tuple[RunRecord, list[NodeRunRecord]]:
        """The run ``request`` describes and its nodes' first states, not yet written (status ``running``;
        the run coordinator writes it ``queued``)."""
        return self.new_run(
            set(request.node_ids),
            request.logical_date,
            trigger=request.trigger,
            selection=request.selection,
            schedule=request.schedule,
            parameters=request.parameters,
            only_changed=request.only_changed,
            left_out=request.left_out,
        )

    def new_run(
        self,
        node_ids: set[str],
        logical_date: datetime,
        *,
        trigger: str = "manual",
        selection: str | None = None,
        schedule: str | None = None,
        parameters: Mapping[str, Any] | None = None,
        only_changed: bool | None = None,
        left_out: Mapping[str, str] | None = None,
    ) -> tuple[RunRecord, list[NodeRunRecord]]:
        """A new run and its nodes' first states, not yet written (the scheduler writes them with its tick).

        ``only_changed`` None takes ``defaults.only_changed``; ``left_out`` as for :func:`plan_run`.
        """
        return plan_run(
            self.graph,
            self.clock,
            node_ids,
            logical_date,
            trigger=trigger,
            selection=selection,
            schedule=schedule,
            parameters=parameters,
            only_changed=self.environment.defaults.only_changed if only_changed is None else only_changed,
            left_out=left_out,
        )

    def execute(
        self,
        run_id: str,
        cancel: threading.Event | None = None,
        *,
        drain: threading.Event | None = None,
        resume: bool = False,
        left_out: Mapping[str, str] | None = None,
        expected_epoch: int | None = None,
    ) -> RunRecord:
        """Claim the run and run every node of it that has not succeeded yet; return the finished run.

        Seals this process first (:func:`orchestrate_ext.secrets.seal_process`).
        Nodes that failed or never ran are reset, so this also serves
        ``orchestrate retry``: attempts continue their numbering.

        Args:
            cancel: when set, running nodes are stopped and the rest cancelled.
            drain: when set, no further node starts; running ones finish and the rest are cancelled.
            resume: carry on after the process executing the run died: finished nodes keep their
                state and earlier failed or crashed tries count against each node's retries.
            left_out: nodes of the run this execution cannot run (broken since, or waiting for a
                broken node), with why: added to the run's ``left_out`` (see
                :attr:`~orchestrate_ext.model.RunRecord.left_out`) and skipped with that reason.
            expected_epoch: claim the run only while its epoch is still this one and no live process
                executes it (``orchestrate retry``; see :meth:`Supervisor.claim_again`), else raise
                :class:`~orchestrate_ext.errors.RunBusy`. None claims it whoever held it.
        """
        seal_process()  # node processes are started from here: none may read this process's environment
        if expected_epoch is None:
            claim = self.supervisor.claim(run_id)
        else:
            claim = self.supervisor.claim_again(run_id, expected_epoch)
        if left_out:
            with self.store.transaction() as tx:
                tx.add_left_out(run_id, left_out, claim.epoch)
        with self.store.read() as tx:
            run = tx.get_run(run_id)
            states = tx.node_states(run_id)
            attempts = tx.attempts(run_id)
        loop = RunLoop(
            self.environment,
            claim,
            run,
            states,
            attempts,
            cancel=cancel or threading.Event(),
            drain=drain or threading.Event(),
            resume=resume,
        )
        try:
            return loop.run()
        except StoreError as exc:  # a write failed (a full disk): the run must not stay `running`
            raise record_store_failure(claim, exc, self.clock.now()) from exc
