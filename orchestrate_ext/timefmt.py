"""Times and durations as a person reads them: ``1 m 12 s``, ``3 min ago``, ``2026-11-30 09:00:51 CET``.

Every function takes the moment to compare with (``now``) and the zone to show
times in as arguments; nothing here reads the clock. A :class:`TimeStyle` holds
both for one command: the user's local zone by default (``TZ``, else the
system's zone), UTC when the command was given ``--utc``. An absolute time
always carries its zone's abbreviation (``CET``, ``CEST``, ``UTC``), so a time
is never shown without saying where it is read.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


def duration(seconds: float | None) -> str:
    """``0.4 s``, ``12 s``, ``1 m 12 s``, ``2 h 05 m``, ``3 d 4 h``; ``-`` for None."""
    if seconds is None:
        return "-"
    seconds = max(0.0, seconds)
    if seconds < 10:
        return f"{seconds:.1f} s"
    whole = round(seconds)
    if whole < 60:
        return f"{whole} s"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes} m {secs} s" if secs else f"{minutes} m"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes:02d} m"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


def between(start: datetime | None, end: datetime | None) -> float | None:
    """Seconds from ``start`` to ``end``; None when either is unknown."""
    if start is None or end is None:
        return None
    return (end - start).total_seconds()


def span(seconds: float) -> str:
    """A stretch of time in words, rounded down: ``12 s``, ``3 min``, ``5 h 20 min``, ``2 days``."""
    whole = int(abs(seconds))
    if whole < 60:
        return f"{whole} s"
    minutes = whole // 60
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    unit = "day" if days == 1 else "days"
    return f"{days} {unit} {hours} h" if hours and days < 3 else f"{days} {unit}"


def relative(moment: datetime | None, now: datetime) -> str:
    """``3 min ago``, ``in 20 h 5 min``, ``just now``; ``never`` for None."""
    if moment is None:
        return "never"
    seconds = (now - moment).total_seconds()
    if abs(seconds) < 1:
        return "just now"
    return f"{span(seconds)} ago" if seconds > 0 else f"in {span(seconds)}"


def local_zone(environ: dict[str, str] | None = None, localtime: Path = Path("/etc/localtime")) -> tzinfo:
    """The user's time zone: ``TZ`` when it names an IANA zone, else the system's, else UTC."""
    environ = dict(os.environ) if environ is None else environ
    name = (environ.get("TZ") or "").lstrip(":").strip()
    if name:
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            pass  # a POSIX TZ rule (``CET-1``) or garbage: fall back to the system's zone
    try:
        target = str(localtime.resolve())
    except OSError:
        target = ""
    if "/zoneinfo/" in target:
        try:
            return ZoneInfo(target.split("/zoneinfo/", 1)[1])
        except (ZoneInfoNotFoundError, ValueError):
            pass  # not a zone this Python knows: use the fixed offset below
    fixed = datetime.now().astimezone().tzinfo
    return fixed if fixed is not None else UTC


def zone_name(zone: tzinfo) -> str:
    """``Europe/Berlin`` for an IANA zone, else what the zone calls itself now (``UTC``, ``CET``)."""
    key = getattr(zone, "key", None)
    if key:
        return str(key)
    return datetime.now(zone).tzname() or "UTC"


@dataclass(frozen=True)
class TimeStyle:
    """How one command shows times: the zone it reads them in and the moment it compares them with."""

    zone: tzinfo
    now: datetime

    @classmethod
    def for_user(cls, now: datetime, *, utc: bool = False) -> TimeStyle:
        return cls(UTC if utc else local_zone(), now)

    @property
    def zone_name(self) -> str:
        return zone_name(self.zone)

    def local(self, moment: datetime) -> datetime:
        """``moment`` in this style's zone; in UTC when the zone's offset would leave Python's years
        1–9999 (a logical date stored before they were bounded), so a view never fails on it."""
        try:
            return moment.astimezone(self.zone)
        except OverflowError:
            return moment.astimezone(UTC)

    def absolute(self, moment: datetime | None, *, seconds: bool = True) -> str:
        """``2026-11-30 09:00:51 CET`` (``-`` for None)."""
        if moment is None:
            return "-"
        local = self.local(moment)
        shown = local.strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")
        return f"{shown} {self._abbreviation(local)}"

    def clock(self, moment: datetime | None, day_of: datetime | None = None) -> str:
        """``09:00:51 CET``, with the date in front when it is not the day of ``day_of``."""
        if moment is None:
            return "-"
        local = self.local(moment)
        if day_of is not None and self.local(day_of).date() != local.date():
            return self.absolute(moment)
        return f"{local:%H:%M:%S} {self._abbreviation(local)}"

    def relative(self, moment: datetime | None) -> str:
        return relative(moment, self.now)

    def both(self, moment: datetime | None, *, seconds: bool = False) -> str:
        """``3 min ago (09:00 CET)`` today, ``2 days ago (2026-11-28 09:00 CET)`` on another day; ``never`` for None."""
        if moment is None:
            return "never"
        if self.local(moment).date() == self.local(self.now).date():
            local = self.local(moment)
            shown = f"{local:%H:%M:%S}" if seconds else f"{local:%H:%M}"
            return f"{self.relative(moment)} ({shown} {self._abbreviation(local)})"
        return f"{self.relative(moment)} ({self.absolute(moment, seconds=seconds)})"

    @staticmethod
    def _abbreviation(local: datetime) -> str:
        return local.tzname() or "UTC"
