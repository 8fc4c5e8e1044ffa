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

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

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
        changed, work.retired = work.retired, []
        deadline = time.monotonic() + self.budget
        while work.waiting and (not changed or time.monotonic() < deadline):
            definition, state, first_seen = work.waiting.pop()
            cron = definition.cron_schedule
            cursor = state.cursor if state is not None and state.cursor is not None else first_seen
            next_fire = cron.next_after(first_seen) if cron is not None else None
            changed.append(ScheduleState(definition.name, definition.fingerprint, next_fire, False, cursor))
        if changed:
            save(changed)

    def _pending(self) -> list[tuple[ScheduleDefinition, ScheduleState | None, datetime]]:
        return self._work.waiting if self._work is not None else []
