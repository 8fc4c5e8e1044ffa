"""The records the state store keeps besides runs, node states and attempts (those are in
:mod:`orchestrate_ext.model`): ticks and schedule state, the scheduler lease, run ownership,
resource holds, and the queries the CLI and the JupyterLab panel ask.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from orchestrate_ext.errors import BadInput, OrchestrateError
from orchestrate_ext.model import NodeRunRecord, NodeStatus, RunRecord, RunStatus

# -- ticks and schedules


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


TickBatch = tuple[str, Sequence[NewTick], StateUpdate | None]
"""A schedule's new ticks and its state update, recorded together."""


@dataclass(frozen=True, slots=True)
class TickStart:
    """A pending tick and the run to create for it (:meth:`~orchestrate_ext.store.protocol.StoreTx.start_tick_runs`).

    ``dedupe``: a running or successful run of the same schedule and logical date
    makes the tick ``deduplicated`` instead.
    """

    tick_id: int
    run: RunRecord
    nodes: Sequence[NodeRunRecord]
    dedupe: bool = True


@dataclass(frozen=True, slots=True)
class StartResult:
    """What became of a request to start a tick's run.

    ``duplicate_of`` names a running or successful run of the same schedule
    and logical date that made the tick ``deduplicated`` instead.
    """

    started: bool
    duplicate_of: str | None = None


@dataclass(frozen=True, slots=True)
class UpstreamSuccess:
    """A successful run of a schedule that an ``after`` trigger waits for."""

    run_id: str
    schedule: str
    logical_date: datetime
    finished_at: datetime


@dataclass(frozen=True, slots=True)
class Lease:
    holder: str
    epoch: int
    acquired_at: datetime
    renewed_at: datetime
    expires_at: datetime


# -- who executes a run


@dataclass(frozen=True, slots=True)
class RunOwnership:
    """Who executes a run that is not finished, as the runs table says."""

    run_id: str
    schedule: str | None
    trigger: str
    owner: str | None
    epoch: int
    created_at: datetime
    heartbeat_at: datetime | None
    cancel_requested_at: datetime | None
    status: RunStatus = RunStatus.RUNNING


@dataclass(frozen=True, slots=True)
class Takeover:
    """A run claimed from an owner that died: the new epoch and the tries that were running."""

    run_id: str
    epoch: int
    running: tuple[tuple[str, int, str | None], ...]
    """``(node_id, try_number, log_path)`` of each attempt still marked running at the takeover."""


# -- exclusive resources held across runs


@dataclass(frozen=True, slots=True)
class ResourceHolder:
    """Who holds an exclusive resource now."""

    resource: str
    run_id: str
    node_id: str
    owner: str | None
    acquired_at: datetime
    heartbeat_at: datetime | None = None
    """The holder run's last heartbeat (its owner on another host lives while it beats)."""
    epoch: int = 0
    """The claim of the run the hold was taken under."""


@dataclass(frozen=True, slots=True)
class ResourceWait:
    """A request for resources that could not be granted yet (``holders`` say by whom)."""

    holders: tuple[ResourceHolder, ...]
    position: int
    """How many earlier requests wait for any of the same resources (0: next in line)."""
    claim_lost: bool = False
    """The request was made under a claim that was lost: nothing was taken, the execution must stop."""


# -- history queries

SQL_INT_MAX = 2**63 - 1
"""The largest integer SQLite's INTEGER and PostgreSQL's BIGINT hold (a LIMIT or OFFSET beyond it is an error)."""


@dataclass(frozen=True, slots=True)
class RunQuery:
    """Which runs a history query returns, newest first. Empty collections mean "any".

    Raises:
        BadInput: ``limit`` below 1 or ``offset`` below 0, or either beyond :data:`SQL_INT_MAX`.
    """

    statuses: frozenset[RunStatus] = frozenset()
    schedules: frozenset[str] = frozenset()
    triggers: frozenset[str] = frozenset()
    node_id: str | None = None
    """Only runs that include this node."""
    since: datetime | None = None
    """Only runs created at or after this time."""
    id_prefix: str | None = None
    """Only runs whose id starts with this text (shell completion of run ids)."""
    limit: int = 50
    offset: int = 0

    def __post_init__(self) -> None:
        for name, value, least in (("limit", self.limit, 1), ("offset", self.offset, 0)):
            if not least <= value <= SQL_INT_MAX:
                raise BadInput(f"{name} {value} is out of range; use a whole number from {least} to {SQL_INT_MAX}")


@dataclass(frozen=True, slots=True)
class NodeLatest:
    """A node's state in the newest run that includes it, and its newest success."""

    node_id: str
    run_id: str
    status: NodeStatus
    finished_at: datetime | None
    error: str | None
    last_success_run_id: str | None
    last_success_at: datetime | None


@dataclass(frozen=True, slots=True)
class LastSuccess:
    """A node's newest success, as an ``--only-changed`` run compares it.

    Attributes:
        fingerprint: what determined that result (None when it was recorded without one).
        result: the identity of its data (``<run id>:<try>``).
        failed_since: the node failed (or was cancelled while running) after it: never reuse it.
        produced_at: when the result was produced (a reuse does not produce one).
    """

    node_id: str
    run_id: str
    finished_at: datetime
    fingerprint: str | None
    result: str | None
    failed_since: bool
    produced_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class NodeHistoryEntry:
    """One run's outcome for one node (a node's recent history); ``error`` is why it failed, if it did."""

    run_id: str
    status: NodeStatus
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    error: str | None = None
