"""A run whose store write failed (a full disk, a store that stayed unreachable): mark it failed, once.

When a write of the run loop fails, the run stops. Left so, it would show as
``running`` for good. :func:`record_store_failure` tries once, in one unit of
work fenced on the run's claim, to close it: its running tries and their nodes
``failed``, the nodes that had not started ``cancelled``, each with the cause,
and the run ``failed``. The error it returns says whether that worked; it never raises.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from orchestrate_ext.errors import StoreError, StoreUnreachable
from orchestrate_ext.execution.claims import RunClaim
from orchestrate_ext.model import AttemptStatus, NodeStatus, RunStatus


def record_store_failure(claim: RunClaim, cause: StoreError, now: datetime) -> StoreError:
    """Mark the run failed with ``cause`` (one try, no waiting); the error the caller raises instead."""
    reason = str(cause)
    stopped = f"the run stopped: {reason}"
    try:
        with claim.store.transaction() as tx:
            running = {a.node_id: a for a in tx.attempts(claim.run_id) if a.status == AttemptStatus.RUNNING}
            for state in tx.node_states(claim.run_id):
                if state.status.is_final:
                    continue
                attempt = running.get(state.node_id)
                status = NodeStatus.FAILED if attempt is not None else NodeStatus.CANCELLED
                ended = replace(state, status=status, error=stopped, finished_at=now, waiting_for=None)
                if attempt is not None:
                    closed = replace(attempt, status=AttemptStatus.FAILED, finished_at=now, error=stopped)
                    tx.finish_attempt(closed, ended, claim.epoch)
                else:
                    tx.set_node_state(ended, state.attempts, claim.epoch)
            recorded = tx.finish_run(claim.run_id, RunStatus.FAILED, claim.epoch, now)
    except StoreError as again:
        second = again.reason if isinstance(again, StoreUnreachable) else str(again)
        second = second.removeprefix(f"state store {claim.store.location}: ")
        return StoreError(
            f"{reason}\nThe run {claim.run_id} could not be marked failed either ({second}): it shows as running "
            f"until `orchestrate retry {claim.run_id}` goes on with it once the store can be written again"
        )
    if not recorded:
        return StoreError(f"{reason}\nThe run {claim.run_id} is held by another process now; it did not mark it")
    return StoreError(f"{reason}\nThe run {claim.run_id} is marked failed.")
