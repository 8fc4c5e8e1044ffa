"""Cron expressions in an IANA time zone: the one module that talks to croniter.

A schedule's fire times are the wall-clock times its expression matches in its
time zone, turned into UTC instants. Daylight-saving changes are handled so
that fire times strictly increase and never repeat:

* A wall-clock time that does not exist (inside the hour skipped when clocks
  spring forward, e.g. 02:30 in Europe/Berlin on the last Sunday of March)
  fires once, at the first valid instant after the gap (03:00 local). Several
  matching times inside one gap collapse into that single fire.
* A wall-clock time that happens twice (inside the hour repeated when clocks
  fall back) fires once, at its first occurrence (the earlier UTC instant).
  Interval expressions such as ``*/15 * * * *`` follow the same wall-clock
  rule; use the time zone ``UTC`` (the default) for strictly even spacing.

croniter is only ever given naive wall-clock datetimes (pure calendar
arithmetic); the mapping to UTC is done here with :mod:`zoneinfo`.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, tzinfo
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from croniter import CroniterError, croniter  # type: ignore[import-untyped]

from orchestrate_ext.clock import to_utc

ALIASES = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
_MAX_STEPS = 100_000
"""Wall-clock candidates examined for one fire time before giving up (a repeated hour costs ≤ 60)."""
_REMEMBERED = 256
"""Fire times a schedule remembers (one cron expression may serve hundreds of schedules)."""


class CronError(ValueError):
    """A cron expression or time zone is not valid; the message says why and what to write."""


_ZONE_NAME = re.compile(r"[A-Za-z0-9_+\-]+(?:/[A-Za-z0-9_+\-]+)*")
MAX_ZONE_NAME = 64
"""The longest time zone name accepted (the longest IANA name has 32 characters)."""


@lru_cache(maxsize=512)
def zone(name: str) -> ZoneInfo:
    """The IANA time zone ``name``; raises :class:`CronError` with a suggestion.

    The one check of a time zone name, wherever it is written (orchestrate.yaml, a node's
    metadata, the REST API): names that are too long, hold other characters than IANA names
    do, name a folder of the tz database (``Europe``) or a file that is no zone, are refused
    here with a message, before :class:`~zoneinfo.ZoneInfo` sees them.
    """
    if not isinstance(name, str) or len(name) > MAX_ZONE_NAME or not _ZONE_NAME.fullmatch(name):
        shown = repr(name) if len(repr(name)) <= 40 else repr(name)[:37] + "..."
        raise CronError(f"{shown} is not a time zone name; use an IANA name such as 'Europe/Berlin' or 'UTC'")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a folder of tzdata (IsADirectoryError)
        pass
    known = sorted(available_timezones())
    regional = [candidate for candidate in known if candidate.startswith(name + "/")]
    if regional:
        raise CronError(f"'{name}' is a region, not a time zone; use one of its zones, e.g. '{regional[0]}'") from None
    import difflib

    close = difflib.get_close_matches(name, known, n=1)
    hint = f"; did you mean '{close[0]}'?" if close else "; use an IANA name such as 'Europe/Berlin' or 'UTC'"
    raise CronError(f"'{name}' is not a known time zone{hint}") from None


@lru_cache(maxsize=8192)
def normalize(expression: str) -> str:
    """The five-field form of ``expression`` (aliases expanded); raises :class:`CronError`."""
    text = " ".join(str(expression).split())
    text = ALIASES.get(text.lower(), text)
    fields = text.split(" ")
    if len(fields) != 5:
        raise CronError(
            f"'{expression}' is not a cron expression with five fields (minute hour day-of-month month "
            "day-of-week), e.g. '0 6 * * *' for 06:00 every day, or one of " + ", ".join(sorted(ALIASES))
        )
    try:
        valid = croniter.is_valid(text)
    except CroniterError:
        valid = False
    if not valid:
        raise CronError(f"'{expression}' is not a valid cron expression; e.g. '*/15 * * * *' or '0 6 * * MON-FRI'")
    try:
        croniter(text, datetime(2000, 1, 1)).get_next(datetime)
    except CroniterError:
        raise CronError(
            f"'{expression}' never matches a date (e.g. the 31st of February); fix the day fields"
        ) from None
    return text


@lru_cache(maxsize=16384)
def cron_schedule(expression: str, timezone: str = "UTC") -> CronSchedule:
    """The (shared) schedule of an expression in a time zone: many schedules repeat the same few."""
    return CronSchedule(expression, timezone)


class CronSchedule:
    """Fire times of one cron expression in one time zone, as UTC instants.

    Args:
        expression: five fields or an alias such as ``@daily``.
        timezone: an IANA name; wall-clock times are read there.
    """

    def __init__(self, expression: str, timezone: str = "UTC") -> None:
        self.expression = normalize(expression)
        self.timezone = timezone
        self.zone: tzinfo = zone(timezone)
        # Parsing an expression costs ~10 times more than a step, so one iterator is kept and moved.
        self._iterator = croniter(self.expression, datetime(2000, 1, 1))
        self._lock = threading.Lock()
        self._following: dict[datetime, datetime] = {}
        """Fire times already found, by the time they follow (see :meth:`next_after`)."""

    def __repr__(self) -> str:
        return f"CronSchedule({self.expression!r}, {self.timezone!r})"

    def next_after(self, after: datetime) -> datetime:
        """The first fire time strictly after ``after`` (UTC).

        Remembered for a while: the scheduler asks ahead of time (in a quiet second) for the fire
        time that follows each schedule's next one, so a busy minute boundary finds it ready.
        """
        after = to_utc(after)
        with self._lock:
            known = self._following.get(after)
            if known is not None:
                return known
            # Wall times up to ``wall`` map to instants at or before ``after``, so start there.
            self._iterator.set_current(after.astimezone(self.zone).replace(tzinfo=None), force=True)
            for _ in range(_MAX_STEPS):
                candidate = self.to_utc(self._iterator.get_next(datetime))
                if candidate > after:
                    if len(self._following) >= _REMEMBERED:
                        self._following.clear()
                    self._following[after] = candidate
                    return candidate
        raise CronError(f"'{self.expression}' in {self.timezone} found no fire time after {after.isoformat()}")

    def previous_at_or_before(self, moment: datetime) -> datetime | None:
        """The last fire time at or before ``moment`` (UTC); None if there is none within 400 days."""
        moment = to_utc(moment)
        wall = moment.astimezone(self.zone).replace(tzinfo=None)
        # When ``moment`` is the second occurrence of a repeated wall time, later wall times of the
        # repeated period fire (at their first occurrence) before it: start past that period.
        first, second = (wall.replace(tzinfo=self.zone, fold=fold).utcoffset() for fold in (0, 1))
        repeated = max((first or timedelta(0)) - (second or timedelta(0)), timedelta(0))
        limit = moment - timedelta(days=400)
        with self._lock:
            self._iterator.set_current(wall + repeated + timedelta(minutes=1), force=True)
            for _ in range(_MAX_STEPS):
                candidate = self.to_utc(self._iterator.get_prev(datetime))
                if candidate <= moment:
                    return candidate
                if candidate < limit:
                    break
        return None

    def iter_after(self, after: datetime) -> Iterator[datetime]:
        """Fire times strictly after ``after``, in order, without end."""
        current = to_utc(after)
        while True:
            current = self.next_after(current)
            yield current

    def between(self, start: datetime, end: datetime, limit: int | None = None) -> list[datetime]:
        """Fire times ``t`` with ``start <= t <= end``, oldest first, at most ``limit`` of them."""
        found: list[datetime] = []
        last = to_utc(end)
        for moment in self.iter_after(to_utc(start) - timedelta(microseconds=1)):
            if moment > last or (limit is not None and len(found) >= limit):
                break
            found.append(moment)
        return found

    def to_utc(self, wall: datetime) -> datetime:
        """The instant a naive wall-clock time fires at (see the module docstring for DST rules)."""
        instant = wall.replace(tzinfo=self.zone, fold=0).astimezone(UTC)
        if instant.astimezone(self.zone).replace(tzinfo=None) == wall:
            return instant  # the time exists; fold=0 picks the first occurrence of a repeated one
        return self._gap_end(wall)

    def _gap_end(self, wall: datetime) -> datetime:
        """The first instant whose wall time is past ``wall``, a time inside a spring-forward gap."""
        ends = [wall.replace(tzinfo=self.zone, fold=fold).astimezone(UTC).timestamp() for fold in (0, 1)]
        low, high = int(min(ends)), int(max(ends)) + 1  # wall(low) < wall < wall(high)
        while high - low > 1:
            middle = (low + high) // 2
            if datetime.fromtimestamp(middle, self.zone).replace(tzinfo=None) > wall:
                high = middle
            else:
                low = middle
        return datetime.fromtimestamp(high, UTC)
