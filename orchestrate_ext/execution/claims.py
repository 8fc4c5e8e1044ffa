"""What the executor uses to execute one run safely among several processes.

The executor writes a run's state only through a :class:`RunClaim`. The claim
of a :class:`ProcessSupervisor` fences every write (see
:mod:`orchestrate_ext.store.run_control`), heartbeats, and polls for a
cancel request from another process; :class:`UnsupervisedClaim` writes
straight to a store that has none of that (a store other than SQLite).
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Protocol

from orchestrate_ext.clock import Clock
from orchestrate_ext.execution.liveness import ProcessIdentity, export_owner
from orchestrate_ext.model import AttemptRecord, NodeRunRecord, RunStatus
from orchestrate_ext.store import SQLiteStore, StateStore
from orchestrate_ext.store.run_control import SQLiteRunControl

HEARTBEAT_SECONDS = 10.0
CANCEL_POLL_SECONDS = 1.0


class RunClaim(Protocol):
    """The right to write one run's state, held by one execution of it.

    Each write returns False when it was refused because another execution
    has claimed the run since (or a newer attempt exists): the caller must
    then stop without writing anything else.
    """

    def set_node_state(self, state: NodeRunRecord, try_number: int) -> bool: ...

    def start_attempt(self, attempt: AttemptRecord, state: NodeRunRecord) -> bool: ...

    def finish_attempt(self, attempt: AttemptRecord, state: NodeRunRecord) -> bool: ...

    def set_run_status(
        self, status: RunStatus, *, started_at: datetime | None = None, finished_at: datetime | None = None
    ) -> bool: ...

    def keep(self, now: datetime) -> bool:
        """Heartbeat when one is due; False once the claim is lost."""
        ...

    def cancel_requested(self) -> bool:
        """Whether another process asked to cancel the run (polled at most every second)."""
        ...


class RunSupervisor(Protocol):
    """Hands out claims for the runs one process executes."""

    @property
    def owner(self) -> str:
        """Who claims: ``host:pid:start-time`` of the executing process."""
        ...

    def claim(self, run_id: str) -> RunClaim: ...


class UnsupervisedClaim:
    """Writes straight to a plain :class:`StateStore`: no fencing, no heartbeat, no remote cancel."""

    def __init__(self, store: StateStore, run_id: str) -> None:
        self.store = store
        self.run_id = run_id

    def set_node_state(self, state: NodeRunRecord, try_number: int) -> bool:
        self.store.set_node_state(state)
        return True

    def start_attempt(self, attempt: AttemptRecord, state: NodeRunRecord) -> bool:
        self.store.start_attempt(attempt, state)
        return True

    def finish_attempt(self, attempt: AttemptRecord, state: NodeRunRecord) -> bool:
        return self.store.finish_attempt(attempt, state)

    def set_run_status(
        self, status: RunStatus, *, started_at: datetime | None = None, finished_at: datetime | None = None
    ) -> bool:
        self.store.set_run_status(self.run_id, status, started_at=started_at, finished_at=finished_at)
        return True

    def keep(self, now: datetime) -> bool:
        return True

    def cancel_requested(self) -> bool:
        return False


class SQLiteClaim:
    """A fenced claim on one run in the SQLite store."""

    def __init__(self, control: SQLiteRunControl, run_id: str, epoch: int, identity: ProcessIdentity) -> None:
        self.control = control
        self.run_id = run_id
        self.epoch = epoch
        self.identity = identity
        self._last_beat = time.monotonic()
        self._last_poll = float("-inf")
        self._cancel = False

    def set_node_state(self, state: NodeRunRecord, try_number: int) -> bool:
        return self.control.set_node_state(state, try_number, self.epoch)

    def start_attempt(self, attempt: AttemptRecord, state: NodeRunRecord) -> bool:
        return self.control.start_attempt(attempt, state, self.epoch, self.identity.host, self.identity.pid)

    def finish_attempt(self, attempt: AttemptRecord, state: NodeRunRecord) -> bool:
        return self.control.finish_attempt(attempt, state, self.epoch)

    def set_run_status(
        self, status: RunStatus, *, started_at: datetime | None = None, finished_at: datetime | None = None
    ) -> bool:
        return self.control.set_run_status(
            self.run_id, status, self.epoch, started_at=started_at, finished_at=finished_at
        )

    def keep(self, now: datetime) -> bool:
        if time.monotonic() - self._last_beat < HEARTBEAT_SECONDS:
            return True
        self._last_beat = time.monotonic()
        return self.control.beat(self.run_id, self.epoch, now)

    def cancel_requested(self) -> bool:
        if not self._cancel and time.monotonic() - self._last_poll >= CANCEL_POLL_SECONDS:
            self._last_poll = time.monotonic()
            self._cancel = self.control.cancel_requested(self.run_id)
        return self._cancel


class ProcessSupervisor:
    """Claims runs for this process (or for ``identity``, in tests) in the SQLite store.

    Creating one exports the identity to the environment children inherit
    (``ORCHESTRATE_OWNER``), so their process groups can be found and killed
    should this process die.
    """

    def __init__(self, store: SQLiteStore, clock: Clock, identity: ProcessIdentity | None = None) -> None:
        self.control = SQLiteRunControl(store)
        self.clock = clock
        self.identity = identity or ProcessIdentity.current()
        if identity is None:
            export_owner(self.identity)

    @property
    def owner(self) -> str:
        return self.identity.owner

    def claim(self, run_id: str) -> SQLiteClaim:
        epoch = self.control.claim(run_id, self.owner, self.clock.now())
        return SQLiteClaim(self.control, run_id, epoch, self.identity)


def default_supervisor(store: StateStore, clock: Clock) -> RunSupervisor | None:
    """A :class:`ProcessSupervisor` when ``store`` is the SQLite store, else None (unsupervised)."""
    return ProcessSupervisor(store, clock) if isinstance(store, SQLiteStore) else None
