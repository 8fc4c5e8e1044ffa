"""What an execution of a run writes through: a claim on the run, fenced on every store.

The run loop writes a run's state only through a :class:`RunClaim`. Each write
is one unit of work on the store that names the claim's epoch and is refused
(returns False) once another execution has claimed the run since (see
:mod:`orchestrate_ext.store.claims_sql`): the caller must then stop without
writing anything else. A claim also heartbeats, polls for a cancel request
from another process, and takes and gives back the run's exclusive resources.
"""

from __future__ import annotations

import time
from collections.abc import Collection, Sequence
from datetime import datetime

from orchestrate_ext.clock import Clock
from orchestrate_ext.errors import BadInput
from orchestrate_ext.execution.liveness import Liveness, ProcessIdentity, ProcessLiveness, export_owner
from orchestrate_ext.model import AttemptRecord, NodeRunRecord, RunStatus
from orchestrate_ext.store import StateStore, StoreTx
from orchestrate_ext.store.records import ResourceWait

HEARTBEAT_SECONDS = 10.0
CANCEL_POLL_SECONDS = 1.0


class RunClaim:
    """The right to write one run's state, held by one execution of it (epoch ``epoch``)."""

    def __init__(
        self, store: StateStore, run_id: str, epoch: int, identity: ProcessIdentity, liveness: Liveness
    ) -> None:
        self.store = store
        self.run_id = run_id
        self.epoch = epoch
        self.identity = identity
        self.liveness = liveness
        self._last_beat = time.monotonic()
        self._last_poll = float("-inf")
        self._cancel = False

    # -- fenced writes

    def set_node_state(self, state: NodeRunRecord, try_number: int) -> bool:
        with self.store.transaction() as tx:
            return tx.set_node_state(state, try_number, self.epoch)

    def start_attempt(self, attempt: AttemptRecord, state: NodeRunRecord) -> bool:
        with self.store.transaction() as tx:
            return tx.start_attempt(attempt, state, self.epoch, host=self.identity.host, pid=self.identity.pid)

    def finish_attempt(self, attempt: AttemptRecord, state: NodeRunRecord) -> bool:
        with self.store.transaction() as tx:
            return tx.finish_attempt(attempt, state, self.epoch)

    def mark_started(self, now: datetime) -> bool:
        with self.store.transaction() as tx:
            return tx.mark_run_started(self.run_id, self.epoch, now)

    def finish_run(self, status: RunStatus, now: datetime) -> bool:
        with self.store.transaction() as tx:
            return tx.finish_run(self.run_id, status, self.epoch, now)

    # -- liveness and cancel requests

    def keep(self, now: datetime) -> bool:
        """Heartbeat when one is due; False once the claim is lost."""
        if time.monotonic() - self._last_beat < HEARTBEAT_SECONDS:
            return True
        self._last_beat = time.monotonic()
        with self.store.transaction() as tx:
            return tx.beat(self.run_id, self.epoch, now)

    def cancel_requested(self) -> bool:
        """Whether another process asked to cancel the run (read at most every second)."""
        if not self._cancel and time.monotonic() - self._last_poll >= CANCEL_POLL_SECONDS:
            self._last_poll = time.monotonic()
            with self.store.read() as tx:
                self._cancel = tx.cancel_requested(self.run_id)
        return self._cancel

    # -- exclusive resources

    def request_resources(self, node_id: str, resources: Sequence[str], now: datetime) -> ResourceWait | None:
        """Take ``resources`` for ``node_id`` (None), or the wait: who holds them, how many are ahead.

        A holder whose process is gone (it crashed and nobody took its run over
        yet) loses its hold here, and the request is tried again at once.
        """
        with self.store.transaction() as tx:
            wait = tx.request_resources(
                self.run_id, node_id, resources, owner=self.identity.owner, epoch=self.epoch, now=now
            )
        if wait is None:
            return None
        dead = {
            (holder.run_id, holder.owner)
            for holder in wait.holders
            if holder.owner and not self.liveness.is_alive(holder.owner, holder.heartbeat_at, now)
        }
        if not dead:
            return wait
        with self.store.transaction() as tx:
            for run_id, owner in sorted(dead):
                tx.drop_dead_holds(run_id, owner or "")
            return tx.request_resources(
                self.run_id, node_id, resources, owner=self.identity.owner, epoch=self.epoch, now=now
            )

    def release_resources(self, node_ids: Collection[str]) -> None:
        with self.store.transaction() as tx:
            tx.release_resources(self.run_id, node_ids)

    def withdraw_requests(self, node_ids: Collection[str]) -> None:
        with self.store.transaction() as tx:
            tx.withdraw_requests(self.run_id, node_ids)


def refuse_if_executing(tx: StoreTx, run_id: str, now: datetime, liveness: Liveness | None = None) -> None:
    """Raise ``BadInput`` when a live process still executes ``run_id`` (``RunNotFound`` when there is none)."""
    ownership = tx.run_ownership(run_id)
    if ownership.status != RunStatus.RUNNING or ownership.owner is None:
        return
    if (liveness or ProcessLiveness()).is_alive(ownership.owner, ownership.heartbeat_at, now):
        who = ProcessIdentity.parse(ownership.owner)
        where = f"pid {who.pid} on {who.host}" if who else ownership.owner
        raise BadInput(
            f"run {run_id} is still running ({where}); cancel it with `orchestrate cancel {run_id}` "
            "or wait for it to end"
        )


class Supervisor:
    """Claims runs for this process (or for ``identity``, in tests).

    Creating one for this process exports its identity to the environment its
    children inherit (``ORCHESTRATE_OWNER``), so their process groups can be
    found and killed should this process die.
    """

    def __init__(
        self,
        store: StateStore,
        clock: Clock,
        identity: ProcessIdentity | None = None,
        liveness: Liveness | None = None,
    ) -> None:
        self.store = store
        self.clock = clock
        self.identity = identity or ProcessIdentity.current()
        self.liveness = liveness or ProcessLiveness()
        if identity is None:
            export_owner(self.identity)

    @property
    def owner(self) -> str:
        return self.identity.owner

    def claim(self, run_id: str) -> RunClaim:
        """Claim ``run_id`` for this process, whoever held it (raises ``RunNotFound``)."""
        with self.store.transaction() as tx:
            epoch = tx.claim_run(run_id, self.owner, self.clock.now())
        assert epoch is not None, "an unconditional claim always gets an epoch"
        return self.resume(run_id, epoch)

    def resume(self, run_id: str, epoch: int) -> RunClaim:
        """A claim this process already holds (it created the run claimed, or took it over)."""
        return RunClaim(self.store, run_id, epoch, self.identity, self.liveness)
