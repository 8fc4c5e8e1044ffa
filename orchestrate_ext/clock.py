"""Time: an injectable clock, UTC helpers and duration parsing."""

from __future__ import annotations

import contextlib
import os
import re
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Protocol

from orchestrate_ext.errors import OrchestrateError


class Clock(Protocol):
    """Where the engine reads the time; tests pass a fake one."""

    def now(self) -> datetime:
        """The current time, timezone-aware, in UTC."""
        ...

    def monotonic(self) -> float:
        """Seconds from an arbitrary start, never going backwards."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()


def to_utc(value: datetime) -> datetime:
    """Return ``value`` in UTC; a naive datetime is taken to be UTC already."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def isoformat(value: datetime | None) -> str | None:
    """ISO-8601 in UTC with a ``Z`` suffix, or None."""
    if value is None:
        return None
    return to_utc(value).isoformat().replace("+00:00", "Z")


EARLIEST_LOGICAL_DATE = datetime(1900, 1, 1, tzinfo=UTC)
"""The earliest logical date a run may have."""
LATEST_LOGICAL_DATE = datetime(2999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)
"""The latest logical date a run may have.

Why a range at all: a run's logical date is shown by every view in the user's zone,
and the schedules, SLAs and freshness checks add days and durations (up to
:data:`MAX_DURATION`) to it. Python's ``datetime`` ends at years 1 and 9999, so a run
dated there made ``runs`` and ``show`` fail with ``OverflowError`` until it was deleted.
Years 1900–2999 leave centuries of room on both sides and cover any real business date.
"""


def parse_datetime(text: str) -> datetime:
    """Parse an ISO-8601 date or date-time (a logical date); dates mean midnight UTC.

    Raises:
        ValueError: with the offending text when it is not ISO-8601, or when it is outside
            the years 1900–2999 (:func:`check_logical_date`).
    """
    try:
        parsed = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"'{text}' is not an ISO-8601 date or date-time; use e.g. 2024-01-31 or 2024-01-31T06:00:00Z"
        ) from None
    try:
        moment = to_utc(parsed)
    except OverflowError:  # 0001-01-01T00:00+01:00 is before year 1 in UTC
        raise ValueError(logical_date_out_of_range(text)) from None
    return check_logical_date(moment, text)


def check_logical_date(moment: datetime, shown: str | None = None) -> datetime:
    """Refuse a logical date outside :data:`EARLIEST_LOGICAL_DATE` .. :data:`LATEST_LOGICAL_DATE`.

    Every place a logical date enters (``run --logical-date``, ``backfill --start/--end``, the REST
    trigger) calls this, directly or through :func:`parse_datetime`.

    Args:
        shown: the text the user wrote, for the message (default: the moment in ISO-8601).

    Raises:
        ValueError: naming the value and the accepted years.
    """
    if not EARLIEST_LOGICAL_DATE <= to_utc(moment) <= LATEST_LOGICAL_DATE:
        raise ValueError(logical_date_out_of_range(shown if shown is not None else str(isoformat(moment))))
    return moment


def logical_date_out_of_range(shown: str) -> str:
    """The message for a logical date outside the accepted years (also for one Python cannot represent)."""
    return (
        f"'{shown}' is outside the logical dates orchestrate-ext accepts (years {EARLIEST_LOGICAL_DATE.year} "
        f"to {LATEST_LOGICAL_DATE.year}); use a date in that range, e.g. 2024-01-31"
    )


_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


MAX_DURATION = 10 * 366 * 86400.0
"""The longest duration accepted (about ten years): longer ones overflow date arithmetic."""


def parse_duration(value: object) -> float:
    """Seconds from a number of seconds or a text like ``90s``, ``5m``, ``1h30m``.

    Raises:
        ValueError: naming the value and the accepted forms; also for negative, infinite,
            NaN or absurdly long (over ten years) durations.
    """
    seconds = _duration_seconds(value)
    if seconds < 0:
        raise ValueError(f"duration {value!r} is negative")
    if not seconds <= MAX_DURATION:  # also true for NaN
        shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:37] + "..."
        raise ValueError(f"duration {shown} is out of range; use 0 to ten years, e.g. '30s', '5m', '1h'")
    return seconds


def _duration_seconds(value: object) -> float:
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a duration; use seconds or a text like '30s', '5m', '1h'")
    if isinstance(value, int | float):
        try:
            return float(value)
        except OverflowError:
            return float("inf")
    if isinstance(value, str) and len(value) <= 100:
        text = value.strip().lower().replace(" ", "")
        if re.fullmatch(r"\d+(\.\d+)?", text):
            return float(text)
        position, total = 0, 0.0
        for match in _DURATION_PART.finditer(text):
            if match.start() != position:
                break
            total += float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
            position = match.end()
        if text and position == len(text):
            return total
    shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:37] + "..."
    raise ValueError(f"{shown} is not a duration; use seconds or a text like '30s', '5m', '1h30m'")


def duration_text(seconds: float) -> str:
    """The shortest exact text of a duration: ``90s``, ``5m``, ``24h``."""
    whole = round(seconds)
    if whole % 3600 == 0 and whole >= 3600:
        return f"{whole // 3600}h"
    if whole % 60 == 0 and whole >= 60:
        return f"{whole // 60}m"
    return f"{whole}s"


CLOCK_OFFSET_ENV = "ORCHESTRATE_CLOCK_OFFSET_SECONDS"
"""For tests with real processes: shifts the scheduler's clock, so a fire time comes without waiting for it."""


class OffsetClock(SystemClock):
    """The system clock shifted by ``offset`` seconds (wall time only; monotonic time is untouched)."""

    def __init__(self, offset: float) -> None:
        self.offset = timedelta(seconds=offset)

    def now(self) -> datetime:
        return super().now() + self.offset


CLOCK_FILE_ENV = "ORCHESTRATE_CLOCK_FILE"
"""For tests with real processes: the scheduler's time is the one written in this file (ISO-8601), so the
test sets it, as a fake clock, and no part of the test depends on the wall clock."""


class FileClock(SystemClock):
    """The time written in a file, read on every call (monotonic time is untouched).

    A file being rewritten (empty, half written) reads as the time read last; the
    writer should replace the file atomically.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self._last = parse_datetime(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise OrchestrateError(f"{CLOCK_FILE_ENV}={path}: cannot read a time from it: {exc}") from None

    def now(self) -> datetime:
        with contextlib.suppress(OSError, ValueError):
            self._last = parse_datetime(self.path.read_text(encoding="utf-8"))
        return self._last


def clock_from_environment() -> SystemClock:
    """The system clock; a :class:`FileClock` when ``ORCHESTRATE_CLOCK_FILE`` is set, or an :class:`OffsetClock`
    when ``ORCHESTRATE_CLOCK_OFFSET_SECONDS`` is."""
    path = os.environ.get(CLOCK_FILE_ENV)
    if path:
        return FileClock(Path(path))
    offset = os.environ.get(CLOCK_OFFSET_ENV)
    if not offset:
        return SystemClock()
    try:
        return OffsetClock(float(offset))
    except ValueError:
        raise OrchestrateError(f"{CLOCK_OFFSET_ENV}={offset!r} is not a number of seconds") from None
