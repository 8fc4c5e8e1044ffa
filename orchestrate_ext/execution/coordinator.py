"""The run coordinator: every run it is handed is queued in the store and started under the limits.

Whoever wants a run (the CLI, the scheduler, backfill, the REST API) builds a
:class:`~orchestrate_ext.run_request.RunRequest` and hands it to
:meth:`RunCoordinator.submit`, which writes the run ``queued`` with its
priority and the schedule whose ``max_active_runs`` it counts against. The
process that wants to execute it then calls :meth:`RunCoordinator.wait`: each
poll is one admission decision in the store (a compare-and-set serialized
across processes: :meth:`~orchestrate_ext.store.queue_sql.QueueStatements.admit_run`),
so no scheduler needs to run for a queued run to start, and two processes
never both take the last free slot. A queued run can be cancelled
(:meth:`RunCoordinator.cancel`, or ``orchestrate cancel`` from anywhere).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import replace

from orchestrate_ext.clock import Clock
from orchestrate_ext.execution.executor import Executor
from orchestrate_ext.model import RunRecord, RunStatus
from orchestrate_ext.run_request import RunRequest
from orchestrate_ext.store import StateStore
from orchestrate_ext.store.queue_sql import Admission

POLL_SECONDS = 0.5
"""How often a waiting process asks for admission (and shows it is still waiting)."""
STALE_AFTER = 30.0
"""A queued run whose waiter has not asked for this long no longer holds back those behind it."""


class RunCoordinator:
    """Queues runs and admits them under ``max_runs`` and each schedule's ``max_active_runs``.

    Args:
        max_runs: runs that may execute at once in the store (None: no limit).
        owner: the identity of this process (the waiter of the runs it submits).
    """

    def __init__(
        self,
        store: StateStore,
        clock: Clock,
        *,
        owner: str,
        max_runs: int | None = None,
        poll_seconds: float = POLL_SECONDS,
        stale_after: float = STALE_AFTER,
    ) -> None:
        self.store = store
        self.clock = clock
        self.owner = owner
        self.max_runs = max_runs
        self.poll_seconds = poll_seconds
        self.stale_after = stale_after

    def submit(self, executor: Executor, request: RunRequest) -> RunRecord:
        """Write the run ``request`` describes, ``queued``; returns it."""
        run, states = executor.plan(request)
        run = replace(run, status=RunStatus.QUEUED)
        with self.store.transaction() as tx:
            tx.insert_run(run, states)
            tx.enqueue(
                run.run_id,
                priority=int(request.priority),
                limit_key=request.limit_key,
                max_active=request.max_active,
                owner=self.owner,
                now=self.clock.now(),
            )
        return run

    def admit(self, run_id: str) -> Admission:
        """One admission decision: the run is ``running`` afterwards when the limits allowed it."""
        with self.store.transaction() as tx:
            return tx.admit_run(
                run_id, self.owner, self.clock.now(), max_runs=self.max_runs, stale_after=self.stale_after
            )

    def wait(
        self,
        run_id: str,
        stop: threading.Event | None = None,
        on_queued: Callable[[Admission], None] | None = None,
    ) -> Admission:
        """Wait until ``run_id`` is admitted (or is no longer queued); ``on_queued`` hears each new reason.

        When ``stop`` is set while the run is still queued, the run is cancelled.
        """
        stop = stop or threading.Event()
        told: tuple[str | None, str | None] | None = None
        while True:
            admission = self.admit(run_id)
            if admission.status != RunStatus.QUEUED:
                return admission
            if on_queued is not None and (admission.behind, admission.reason) != told:
                told = (admission.behind, admission.reason)
                on_queued(admission)
            if stop.wait(self.poll_seconds) and self.cancel(run_id):
                return Admission(RunStatus.CANCELLED)  # once the run left the queue, the next admit says so

    def cancel(self, run_id: str) -> bool:
        """Cancel ``run_id`` while it is queued; False when it is not queued (any more)."""
        with self.store.transaction() as tx:
            return tx.cancel_queued(run_id, self.clock.now())


def queued_line(run_id: str, admission: Admission) -> str:
    """The progress line of a queued run: ``run X queued behind run Y (max_runs: 1)``."""
    behind = f" behind run {admission.behind}" if admission.behind else ""
    why = f" ({admission.reason})" if admission.reason else ""
    return f"run {run_id} queued{behind}{why}"
