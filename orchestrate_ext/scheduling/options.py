"""The scheduler's timings and limits, and what one step reports."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from orchestrate_ext.execution.recovery import Recovered
from orchestrate_ext.store.records import TickRecord, TickStatus


@dataclass(frozen=True)
class SchedulerOptions:
    """Timings and limits; the defaults suit a laptop or a small server.

    Attributes:
        lease_ttl: seconds a lease lasts without renewal: the longest a standby
            waits when the holder vanished without a trace (a holder on this
            host whose process is gone is replaced at once).
        misfire_grace: a fire time seen later than this is *missed* and
            handled by the schedule's catch-up policy.
        stale_after: seconds without a heartbeat after which the owner of a
            run on another host counts as dead.
        max_concurrent_runs: runs this scheduler executes at once, over all schedules.
        due_limit: due schedules read per step (more than a step's budget can record).
        step_budget: seconds of schedule work (indexing new schedules, recording due fire times)
            one step does before leaving the rest to the next step, so a step never blocks for long.
    """

    lease_ttl: float = 15.0
    misfire_grace: float = 60.0
    file_poll_seconds: float = 5.0
    recovery_seconds: float = 5.0
    stale_after: float = 60.0
    max_concurrent_runs: int = 8
    due_limit: int = 2_000
    step_budget: float = 0.2
    record_limit: int = 1_000


@dataclass
class StepReport:
    """What one step did (for logs, tests and benchmarks)."""

    now: datetime
    holds_lease: bool = False
    recorded: list[TickRecord] = field(default_factory=list)
    started: list[str] = field(default_factory=list)
    closed: list[tuple[int, TickStatus, str]] = field(default_factory=list)
    recovered: list[Recovered] = field(default_factory=list)


def seconds_between(later: datetime, earlier: datetime) -> float:
    return (later - earlier).total_seconds()
