"""The scheduler's part of the state store: ticks, the next-fire index, pauses, the lease, file state.

:class:`ScheduleStore` is the contract; ``tests/orchestrate_ext/scheduling/
test_schedule_store_contract.py`` runs against every implementation
(:class:`~orchestrate_ext.scheduling.sqlite_store.SQLiteScheduleStore` today).

Every method is one transaction. Methods that take a ``fence`` (the lease
holder and epoch) write nothing and raise :class:`LeaseLost` when that
holder no longer holds the scheduler lease, so a scheduler that lost the
lease (it was presumed dead) cannot record ticks or start runs; ``None``
means "not on behalf of the scheduler" (a backfill, a test).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from orchestrate_ext.errors import BadInput, OrchestrateError
from orchestrate_ext.model import NodeRunRecord, RunRecord


class TickStatus(StrEnum):
    PENDING = "pending"
    """Recorded; waits for a free run slot of its schedule."""
    RAN = "ran"
    """Its run was created (``run_id``)."""
    SKIPPED = "skipped"
    """No run, on purpose; ``reason`` says why (catch-up policy, superseded, ...)."""
    DEDUPLICATED = "deduplicated"
    """No run: a run (``duplicate_of``) or waiting tick already covers it."""


class Trigger(StrEnum):
    """Why a run exists; the ``trigger`` of ticks and of runs."""

    CRON = "cron"
    CATCH_UP = "catch-up"
    BACKFILL = "backfill"
    AFTER = "after"
    FILE = "file"
    MANUAL = "manual"


class LeaseLost(OrchestrateError, RuntimeError):
    """A fenced write was refused: another scheduler holds the lease now."""


class ScheduleNotFound(BadInput, LookupError):
    """A schedule name that no orchestrate.yaml entry, notebook or dbt node defines."""


Fence = tuple[str, int] | None
"""``(holder, epoch)`` of the scheduler lease a write is made under; None for no lease."""


@dataclass(frozen=True, slots=True)
class NewTick:
    """A tick to record. ``key`` is unique per schedule: ``cron@<time>``, ``after@<run>``, ..."""

    schedule: str
    scheduled_at: datetime
    trigger: Trigger
    key: str
    status: TickStatus = TickStatus.PENDING
    reason: str | None = None
    duplicate_of: str | None = None


@dataclass(frozen=True, slots=True)
class TickRecord:
    tick_id: int
    schedule: str
    scheduled_at: datetime
    trigger: Trigger
    key: str
    status: TickStatus
    created_at: datetime
    updated_at: datetime
    reason: str | None = None
    run_id: str | None = None
    duplicate_of: str | None = None
    parameters: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ScheduleState:
    """The stored part of a schedule: its next fire time (the due index), pause flag, ``after`` cursor."""

    name: str
    fingerprint: str
    next_fire_at: datetime | None
    paused: bool = False
    cursor: datetime | None = None
    updated_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class StateUpdate:
    """Changes to one schedule's state written together with its ticks.

    ``next_fire_at`` and ``cursor`` are set when given (None keeps them);
    ``files`` replaces the stored signatures of the given paths (a ``None``
    signature deletes the path).
    """

    next_fire_at: datetime | None = None
    cursor: datetime | None = None
    files: Mapping[str, tuple[int, int] | None] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class StartResult:
    """What became of a request to start a tick's run.

    ``duplicate_of`` names a running or successful run of the same schedule
    and logical date that made the tick ``deduplicated`` instead.
    """

    started: bool
    duplicate_of: str | None = None


TickBatch = tuple[str, Sequence[NewTick], StateUpdate | None]
"""A schedule's new ticks and its state update, recorded together."""


@dataclass(frozen=True, slots=True)
class Lease:
    holder: str
    epoch: int
    acquired_at: datetime
    renewed_at: datetime
    expires_at: datetime


class ScheduleStore(Protocol):
    # -- schedule state and the next-fire index

    def states(self) -> dict[str, ScheduleState]: ...

    def save_states(self, states: Sequence[ScheduleState], fence: Fence, now: datetime) -> None:
        """Insert or replace fingerprint, next fire time and cursor; the pause flag is kept."""
        ...

    def paused(self) -> set[str]:
        """Names of the paused schedules."""
        ...

    def due(self, now: datetime, limit: int) -> list[ScheduleState]:
        """Unpaused schedules whose next fire time is at or before ``now``, soonest first."""
        ...

    def set_paused(self, name: str, paused: bool, now: datetime, next_fire_at: datetime | None) -> ScheduleState:
        """Pause or resume; resuming also sets the next fire time. Unknown names get a state row."""
        ...

    # -- ticks

    def record_ticks(
        self, schedule: str, ticks: Sequence[NewTick], update: StateUpdate | None, fence: Fence, now: datetime
    ) -> list[TickRecord]:
        """Record ticks and update the schedule's state together; returns the ticks that were new."""
        ...

    def record_batches(self, batches: Sequence[TickBatch], fence: Fence, now: datetime) -> list[TickRecord]:
        """:meth:`record_ticks` for several schedules in one transaction."""
        ...

    def pending_ticks(self, schedule: str | None = None) -> list[TickRecord]:
        """Ticks waiting for a run, oldest scheduled time first."""
        ...

    def start_run(
        self,
        tick_id: int,
        run: RunRecord,
        nodes: Sequence[NodeRunRecord],
        *,
        owner: str | None,
        parameters: Mapping[str, Any],
        fence: Fence,
        now: datetime,
        dedupe: bool = True,
    ) -> StartResult:
        """Create ``run`` for a pending tick, claimed by ``owner``, and mark the tick ``ran``, in one
        transaction. Nothing is written when the tick is not pending any more; with ``dedupe``, a
        running or successful run of the same schedule and logical date makes it ``deduplicated``.
        """
        ...

    def create_tick_run(
        self,
        tick: NewTick,
        run: RunRecord,
        nodes: Sequence[NodeRunRecord],
        *,
        owner: str | None,
        parameters: Mapping[str, Any],
        fence: Fence,
        now: datetime,
        dedupe: bool = True,
    ) -> tuple[TickRecord | None, StartResult]:
        """Record a new tick and create its run in one transaction (backfill).

        Returns (None, not started) when the tick's key exists already; with
        ``dedupe``, a covering run records the tick as ``deduplicated`` instead.
        """
        ...

    def close_tick(
        self,
        tick_id: int,
        status: TickStatus,
        reason: str,
        fence: Fence,
        now: datetime,
        duplicate_of: str | None = None,
    ) -> bool:
        """Move a pending tick to ``skipped`` or ``deduplicated``; False when it was not pending."""
        ...

    def list_ticks(self, schedule: str | None = None, limit: int = 50) -> list[TickRecord]:
        """The newest ticks first."""
        ...

    def tick_for_run(self, run_id: str) -> TickRecord | None: ...

    def last_ticks(self) -> dict[str, TickRecord]:
        """The newest tick of every schedule that has one."""
        ...

    def file_state(self, schedule: str) -> dict[str, tuple[int, int]]:
        """``path -> (mtime_ns, size)`` last seen for an ``on_file`` schedule."""
        ...

    # -- the scheduler lease

    def acquire_lease(
        self, holder: str, now: datetime, ttl: float, holder_is_dead: Callable[[Lease], bool]
    ) -> Lease | None:
        """Take or renew the lease: free, expired, ours, or held by a dead holder; else None."""
        ...

    def release_lease(self, holder: str) -> None: ...

    def get_lease(self) -> Lease | None: ...
