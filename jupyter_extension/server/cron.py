"""Cron expressions for the API, through the scheduler's own cron module (so a preview is what will fire)."""

from __future__ import annotations

from datetime import datetime

from orchestrate_ext.cron import CronError, CronSchedule, zone
from orchestrate_ext.errors import BadInput


def check_timezone(name: str) -> None:
    try:
        zone(name)
    except CronError as exc:
        raise BadInput(f"time zone {exc}") from None


def next_times(expression: str, timezone: str, after: datetime, count: int) -> list[datetime]:
    """The next ``count`` times ``expression`` fires after ``after``, in ``timezone``."""
    try:
        schedule = CronSchedule(expression, timezone)
    except CronError as exc:
        raise BadInput(str(exc)) from None
    zone_info = schedule.zone
    times = []
    moment = after
    for _ in range(count):
        moment = schedule.next_after(moment)
        times.append(moment.astimezone(zone_info))
    return times
