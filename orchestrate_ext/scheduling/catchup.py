"""Which ticks a due cron schedule records: on-time fire times, and missed ones per its catch-up policy.

A fire time is *on time* when the scheduler sees it at most ``misfire_grace``
seconds after it passed; older ones were *missed* (the scheduler was not
running: a crash, a reboot, a laptop lid closed over a weekend). Every fire
time gets one tick record:

========  =====================================================================
catchup   missed fire times
========  =====================================================================
latest    the newest one runs (trigger ``catch-up``), unless an on-time fire
          time follows it; the others are ``skipped`` as superseded
all       every one runs, oldest first, the newest ``max_catchup`` of them;
          older ones are ``skipped``
none      all are ``skipped``
========  =====================================================================

After a very long downtime only the newest ``record_limit`` fire times get a
record each; one more ``skipped`` record covers the older range.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from orchestrate_ext.clock import isoformat
from orchestrate_ext.cron import CronSchedule
from orchestrate_ext.schedule_settings import CatchUp
from orchestrate_ext.scheduling.definitions import ScheduleDefinition
from orchestrate_ext.store.records import NewTick, TickStatus, Trigger

_SECOND = timedelta(seconds=1)


@dataclass(frozen=True, slots=True)
class CronPlan:
    ticks: list[NewTick]
    next_fire_at: datetime


def cron_key(moment: datetime) -> str:
    """The unique key of a cron fire time, whichever trigger (cron or catch-up) records it."""
    return f"cron@{isoformat(moment)}"


def plan_cron_ticks(
    definition: ScheduleDefinition,
    next_fire_at: datetime,
    now: datetime,
    *,
    misfire_grace: float = 60.0,
    record_limit: int = 1000,
) -> CronPlan:
    """The ticks for fire times from ``next_fire_at`` up to ``now``, and the next fire time after ``now``."""
    cron = definition.cron_schedule
    assert cron is not None, "only cron schedules have fire times"
    if next_fire_at > now:
        return CronPlan(ticks=[], next_fire_at=next_fire_at)
    times, older, following = _fire_times(cron, next_fire_at, now, record_limit)
    first_on_time = next(
        (index for index, moment in enumerate(times) if (now - moment).total_seconds() <= misfire_grace), len(times)
    )
    missed, on_time = times[:first_on_time], times[first_on_time:]
    ticks: list[NewTick] = []
    if older is not None:
        ticks.append(_older_range(definition.name, older, times[0]))
    ticks += _missed_ticks(definition, missed, bool(on_time))
    ticks += [NewTick(definition.name, moment, Trigger.CRON, cron_key(moment)) for moment in on_time]
    return CronPlan(ticks=ticks, next_fire_at=following)


def _fire_times(
    cron: CronSchedule, start: datetime, now: datetime, limit: int
) -> tuple[list[datetime], datetime | None, datetime]:
    """Fire times in ``[start, now]`` (``start`` is one), the newest ``limit`` of them, the first one left
    out (if any), and the next fire time after ``now``."""
    times = [start]
    following = cron.next_after(start)
    while following <= now and len(times) <= limit:
        times.append(following)
        following = cron.next_after(following)
    if len(times) <= limit:
        return times, None, following
    newest: list[datetime] = []
    moment = cron.previous_at_or_before(now)
    while moment is not None and moment >= start and len(newest) < limit:
        newest.append(moment)
        moment = cron.previous_at_or_before(moment.replace(microsecond=0) - _SECOND)
    newest.reverse()
    return newest, start, cron.next_after(now)


def _missed_ticks(definition: ScheduleDefinition, missed: list[datetime], on_time_follows: bool) -> list[NewTick]:
    name = definition.name
    if not missed:
        return []
    if definition.catchup == CatchUp.NONE:
        reason = "missed while no scheduler was running (catchup: none)"
        return [_skipped(name, moment, reason) for moment in missed]
    if definition.catchup == CatchUp.ALL:
        keep = missed[-definition.max_catchup :]
        reason = (
            f"one of more than max_catchup={definition.max_catchup} missed fire times; only the newest "
            f"{definition.max_catchup} run"
        )
        dropped = [_skipped(name, moment, reason) for moment in missed[: len(missed) - len(keep)]]
        return dropped + [NewTick(name, moment, Trigger.CATCH_UP, cron_key(moment)) for moment in keep]
    newest = None if on_time_follows else missed[-1]
    superseded = [
        _skipped(name, moment, "missed; superseded by a newer fire time (catchup: latest)")
        for moment in missed
        if moment != newest
    ]
    if newest is None:
        return superseded
    return [*superseded, NewTick(name, newest, Trigger.CATCH_UP, cron_key(newest))]


def _skipped(name: str, moment: datetime, reason: str) -> NewTick:
    return NewTick(name, moment, Trigger.CATCH_UP, cron_key(moment), status=TickStatus.SKIPPED, reason=reason)


def _older_range(name: str, start: datetime, first_recorded: datetime) -> NewTick:
    reason = (
        f"every fire time from {isoformat(start)} to before {isoformat(first_recorded)} was missed; "
        "too many to record one by one"
    )
    key = f"missed@{isoformat(start)}..{isoformat(first_recorded)}"
    return NewTick(name, start, Trigger.CATCH_UP, key, status=TickStatus.SKIPPED, reason=reason)
