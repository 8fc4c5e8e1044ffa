"""Keeping the next-fire index in line with the schedules, a bounded amount of work per step.

Computing a next fire time costs croniter a fraction of a millisecond; a
project with 10,000 schedules that just started (or changed every one of
them) would block the scheduler for seconds. So the schedules that are new or
changed are indexed a time budget's worth per step, soonest registered first,
each from the moment it was first seen: a fire time that passes while a
schedule waits to be indexed is still found (the index then holds a time in
the past, which the next step records as due, within the misfire grace).
"""

from __future__ import annotations

import heapq
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import count

from orchestrate_ext.cron import CronSchedule
from orchestrate_ext.scheduling.definitions import ScheduleDefinition
from orchestrate_ext.scheduling.source import ProjectSnapshot
from orchestrate_ext.store.records import ScheduleState


@dataclass
class _Work:
    snapshot: ProjectSnapshot
    waiting: list[tuple[ScheduleDefinition, ScheduleState | None, datetime]] = field(default_factory=list)
    """Schedules to index: the definition, its stored state, when it was first seen."""
    retired: list[ScheduleState] = field(default_factory=list)
    """Stored schedules no longer defined: their next fire time is cleared."""


class NextFireIndex:
    """What of the next-fire index still has to be written for the newest snapshot."""

    def __init__(self, budget: float) -> None:
        self.budget = budget
        self._work: _Work | None = None

    def done_for(self, snapshot: ProjectSnapshot) -> bool:
        return self._work is not None and self._work.snapshot is snapshot and not self._work.waiting

    def plan(self, snapshot: ProjectSnapshot, states: dict[str, ScheduleState], now: datetime) -> None:
        """Compare a (new) snapshot with the stored states: what to index, what to retire."""
        seen_before = {definition.name: (definition.fingerprint, at) for definition, _, at in self._pending()}
        waiting = []
        for name, definition in snapshot.definitions.items():
            state = states.get(name)
            if (
                state is not None
                and state.fingerprint == definition.fingerprint
                and (state.next_fire_at is not None or definition.cron is None)
            ):
                continue  # unchanged
            earlier = seen_before.get(name)
            first_seen = earlier[1] if earlier and earlier[0] == definition.fingerprint else now
            waiting.append((definition, state, first_seen))
        waiting.sort(key=lambda item: (item[2], item[0].name), reverse=True)  # popped from the end: oldest first
        retired = [
            ScheduleState(name, state.fingerprint, None, state.paused, state.cursor)
            for name, state in states.items()
            if name not in snapshot.definitions and state.next_fire_at is not None
        ]
        self._work = _Work(snapshot, waiting, retired)

    def take(self, now: datetime, save: Callable[[list[ScheduleState]], None]) -> None:
        """Index what fits in the budget (and retire what went away), then ``save`` those states."""
        work = self._work
        if work is None:
            return
        retired, work.retired = work.retired, []
        changed = list(retired)
        taken = []
        deadline = time.monotonic() + self.budget
        while work.waiting and (not changed or time.monotonic() < deadline):
            taken.append(item := work.waiting.pop())
            definition, state, first_seen = item
            cron = definition.cron_schedule
            cursor = state.cursor if state is not None and state.cursor is not None else first_seen
            next_fire = cron.next_after(first_seen) if cron is not None else None
            changed.append(ScheduleState(definition.name, definition.fingerprint, next_fire, False, cursor))
        if not changed:
            return
        try:
            save(changed)
        except BaseException:  # e.g. the lease was lost: not written, so still to do (by whoever holds it next)
            work.waiting.extend(reversed(taken))
            work.retired = retired + work.retired
            raise

    def _pending(self) -> list[tuple[ScheduleDefinition, ScheduleState | None, datetime]]:
        return self._work.waiting if self._work is not None else []


class FireTimePrefetch:
    """Finds, in quiet steps, the fire time that follows each schedule's next one.

    Recording a fire time also moves the schedule to its following fire time,
    which croniter takes a fraction of a millisecond to find. A minute boundary
    where a hundred schedules are due would spend most of its step on that; so
    each schedule whose next fire time is within ``horizon`` seconds has the
    following one computed ahead (a small budget per step), and the boundary
    finds it remembered by its :class:`~orchestrate_ext.cron.CronSchedule`.
    """

    def __init__(self, horizon: float = 120.0, budget: float = 0.01) -> None:
        self.horizon = timedelta(seconds=horizon)
        self.budget = budget
        self._upcoming: list[tuple[datetime, int, CronSchedule]] = []
        self._order = count()

    def reset(self, schedules: Iterable[tuple[ScheduleDefinition, datetime | None]]) -> None:
        """Start over from every schedule's next fire time (a new snapshot)."""
        self._upcoming = [
            (next_fire, next(self._order), definition.cron_schedule)
            for definition, next_fire in schedules
            if next_fire is not None and definition.cron_schedule is not None
        ]
        heapq.heapify(self._upcoming)

    def note(self, definition: ScheduleDefinition, next_fire: datetime | None) -> None:
        """A schedule's next fire time was set."""
        if next_fire is not None and definition.cron_schedule is not None:
            heapq.heappush(self._upcoming, (next_fire, next(self._order), definition.cron_schedule))

    def run(self, now: datetime) -> None:
        """Compute ahead what fits in the budget, soonest next fire time first."""
        deadline = time.monotonic() + self.budget
        horizon = now + self.horizon
        while self._upcoming and self._upcoming[0][0] <= horizon and time.monotonic() < deadline:
            next_fire, _, cron = heapq.heappop(self._upcoming)
            cron.next_after(next_fire)
