"""Time: an injectable clock, UTC helpers and duration parsing."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime
from typing import Protocol


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


def parse_datetime(text: str) -> datetime:
    """Parse an ISO-8601 date or date-time; dates mean midnight UTC.

    Raises:
        ValueError: with the offending text when it is not ISO-8601.
    """
    try:
        parsed = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"'{text}' is not an ISO-8601 date or date-time; use e.g. 2024-01-31 or 2024-01-31T06:00:00Z"
        ) from None
    return to_utc(parsed)


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
