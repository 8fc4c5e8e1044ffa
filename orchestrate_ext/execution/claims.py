"""What an execution of a run writes through: a claim on the run, fenced on every store.

The run loop writes a run's state only through a :class:`RunClaim`. Each write
is one unit of work on the store that names the claim's epoch and is refused
(returns False) once another execution has claimed the run since (see
:mod:`orchestrate_ext.store.claims_sql`): the caller must then stop without
writing anything else. Every write and read rides out an outage of the store
(:meth:`StateStore.retrying <orchestrate_ext.store.protocol.StateStore.retrying>`): the run pauses and goes on
when the store is back. A claim also heartbeats, polls for a cancel request
from another process, and takes and gives back the run's exclusive resources.
"""

from __future__ import annotations

import time
from collections.abc import Collection, Sequence
from datetime import datetime

from orchestrate_ext.clock import Clock
from orchestrate_ext.errors import RunBusy
from orchestrate_ext.execution.liveness import Liveness, ProcessIdentity, ProcessLiveness, export_owner
from orchestrate_ext.model import AttemptRecord, NodeRunRecord, RunStatus
from orchestrate_ext.store import StateStore, StoreTx
from orchestrate_ext.store.records import ResourceWait, RunOwnership

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
        self._lost = False

    # -- fenced writes

    def set_node_state(self, state: NodeRunRecord, try_number: int) -> bool:
        return self.store.retrying(lambda tx: tx.set_node_state(state, try_number, self.epoch))

    def allocate_tries(self, node_ids: Sequence[str]) -> dict[str, int] | None:
        """The next try number of each node, reserved in the store under this claim (None: the claim is lost)."""
        # run twice after a commit that may have happened, it reserves higher numbers: a gap, never a shared try
        return self.store.retrying(lambda tx: tx.allocate_tries(self.run_id, node_ids, self.epoch))

    def start_attempt(self, attempt: AttemptRecord, state: NodeRunRecord) -> bool:
        def started(tx: StoreTx) -> bool | None:
            mine = tx.claim_epoch(self.run_id) == self.epoch
            return True if mine and _find(tx, attempt) is not None else None

        return self.store.retrying(
            lambda tx: tx.start_attempt(attempt, state, self.epoch, host=self.identity.host, pid=self.identity.pid),
            applied=started,
        )

    def finish_attempt(self, attempt: AttemptRecord, state: NodeRunRecord) -> bool:
        def finished(tx: StoreTx) -> bool | None:
            found = _find(tx, attempt)
            mine = tx.claim_epoch(self.run_id) == self.epoch
            return True if mine and found is not None and found.status == attempt.status else None

        return self.store.retrying(lambda tx: tx.finish_attempt(attempt, state, self.epoch), applied=finished)

    def mark_started(self, now: datetime) -> bool:
        return self.store.retrying(lambda tx: tx.mark_run_started(self.run_id, self.epoch, now))

    def finish_run(self, status: RunStatus, now: datetime) -> bool:
        return self.store.retrying(lambda tx: tx.finish_run(self.run_id, status, self.epoch, now))

    # -- liveness and cancel requests

    def keep(self, now: datetime) -> bool:
        """False as soon as the store says the claim is lost; heartbeats when one is due.

        Every call asks the store (a read of the run's epoch, or the heartbeat's
        conditional write when one is due), so a loss is seen on the next call.
        """
        if self._lost:
            return False
        if time.monotonic() - self._last_beat >= HEARTBEAT_SECONDS:
            self._last_beat = time.monotonic()
            held = self.store.retrying(lambda tx: tx.beat(self.run_id, self.epoch, now))
        else:
            held = self.store.reading(lambda tx: tx.claim_epoch(self.run_id) == self.epoch)
        self._lost = not held
        return held

    def cancel_requested(self) -> bool:
        """Whether another process asked to cancel the run (read at most every second)."""
        if not self._cancel and time.monotonic() - self._last_poll >= CANCEL_POLL_SECONDS:
            self._last_poll = time.monotonic()
            self._cancel = self.store.reading(lambda tx: tx.cancel_requested(self.run_id))
        return self._cancel

    # -- exclusive resources

    def request_resources(self, node_id: str, resources: Sequence[str], now: datetime) -> ResourceWait | None:
        """Take ``resources`` for ``node_id`` (None), or the wait: who holds them, how many are ahead.

        A holder whose process is gone (it crashed and nobody took its run over
        yet) loses its hold here, and the request is tried again at once.
        """

        def request(tx: StoreTx) -> ResourceWait | None:
            return tx.request_resources(
                self.run_id, node_id, resources, owner=self.identity.owner, epoch=self.epoch, now=now
            )

        wait = self.store.retrying(request)
        if wait is None:
            return None
        dead = {
            (holder.run_id, holder.owner)
            for holder in wait.holders
            if holder.owner and not self.liveness.is_alive(holder.owner, holder.heartbeat_at, now)
        }
        if not dead:
            return wait

        def drop_and_request(tx: StoreTx) -> ResourceWait | None:
            for run_id, owner in sorted(dead):
                tx.drop_dead_holds(run_id, owner or "")
            return request(tx)

        return self.store.retrying(drop_and_request)

    def release_resources(self, node_ids: Collection[str]) -> bool:
        """Give back what ``node_ids`` hold under this claim; False when the claim is lost (its waits stay)."""
        return self.store.retrying(lambda tx: tx.release_resources(self.run_id, node_ids, self.epoch))

    def withdraw_requests(self, node_ids: Collection[str]) -> bool:
        """Stop ``node_ids`` waiting for resources (False, nothing changed: the claim is lost)."""
        return self.store.retrying(lambda tx: tx.withdraw_requests(self.run_id, node_ids, self.epoch))


def _find(tx: StoreTx, attempt: AttemptRecord) -> AttemptRecord | None:
    """The stored try ``attempt`` names, if it is there."""
    found = [a for a in tx.attempts(attempt.run_id, attempt.node_id) if a.try_number == attempt.try_number]
    return found[0] if found else None


def refuse_if_executing(tx: StoreTx, run_id: str, now: datetime, liveness: Liveness | None = None) -> RunOwnership:
    """The run's ownership; :class:`RunBusy` when a live process still executes ``run_id``.

    Raises ``RunNotFound`` when there is no such run.
    """
    ownership = tx.run_ownership(run_id)
    _refuse_live_owner(ownership, now, liveness or ProcessLiveness())
    return ownership


def _refuse_live_owner(ownership: RunOwnership, now: datetime, liveness: Liveness) -> None:
    if ownership.status != RunStatus.RUNNING or ownership.owner is None:
        return
    if liveness.is_alive(ownership.owner, ownership.heartbeat_at, now):
        run_id = ownership.run_id
        raise RunBusy(
            run_id,
            ownership.owner,
            f"run {run_id} is still running ({_where(ownership.owner)}); cancel it with "
            f"`orchestrate cancel {run_id}` or wait for it to end",
        )


def _where(owner: str | None) -> str:
    who = ProcessIdentity.parse(owner)
    return f"pid {who.pid} on {who.host}" if who else repr(owner)


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

    def claim_again(self, run_id: str, expected_epoch: int) -> RunClaim:
        """Claim ``run_id`` to execute it again (``orchestrate retry``), in one compare-and-set.

        In one unit of work the run's row is locked, a live owner still executing
        it refuses the claim, and the claim is taken only while the run's epoch is
        ``expected_epoch`` (read before the caller prepared the retry); the run is
        ``running`` from then on. Of two processes retrying one run exactly one
        wins; the other gets :class:`RunBusy` naming the process that holds the run.
        """
        now = self.clock.now()
        with self.store.transaction() as tx:
            ownership = tx.lock_run(run_id)
            if ownership.owner != self.owner:  # this process may hold it: it took the run over from a dead owner
                _refuse_live_owner(ownership, now, self.liveness)
            epoch = None
            if ownership.epoch == expected_epoch:
                epoch = tx.claim_again(run_id, self.owner, now, expected_epoch)
        if epoch is None:
            raise RunBusy(
                run_id,
                ownership.owner,
                f"run {run_id} was claimed by {_where(ownership.owner)} while this retry was being prepared; "
                f"see it with `orchestrate show {run_id}`",
            )
        return self.resume(run_id, epoch)

    def resume(self, run_id: str, epoch: int) -> RunClaim:
        """A claim this process already holds (it created the run claimed, or took it over)."""
        return RunClaim(self.store, run_id, epoch, self.identity, self.liveness)
