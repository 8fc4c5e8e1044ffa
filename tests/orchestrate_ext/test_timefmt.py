"""Durations, relative times and absolute times labelled with their zone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from orchestrate_ext.timefmt import TimeStyle, duration, local_zone, relative, zone_name

NOW = datetime(2026, 11, 30, 8, 30, tzinfo=UTC)
BERLIN = ZoneInfo("Europe/Berlin")


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (None, "-"),
        (0.04, "0.0 s"),
        (0.42, "0.4 s"),
        (9.94, "9.9 s"),
        (12.4, "12 s"),
        (72, "1 m 12 s"),
        (120, "2 m"),
        (3900, "1 h 05 m"),
        (86400 + 3600, "1 d 1 h"),
        (3 * 86400, "3 d"),
        (-5, "0.0 s"),
    ],
)
def test_durations(seconds: float | None, text: str) -> None:
    assert duration(seconds) == text


@pytest.mark.parametrize(
    ("moment", "text"),
    [
        (None, "never"),
        (NOW, "just now"),
        (NOW - timedelta(seconds=12.7), "12 s ago"),
        (NOW - timedelta(minutes=3, seconds=59), "3 min ago"),
        (NOW - timedelta(hours=5, minutes=20), "5 h 20 min ago"),
        (NOW - timedelta(hours=2), "2 h ago"),
        (NOW - timedelta(hours=26), "1 day 2 h ago"),
        (NOW - timedelta(days=12, hours=3), "12 days ago"),
        (NOW + timedelta(hours=20, minutes=5), "in 20 h 5 min"),
    ],
)
def test_relative_times(moment: datetime | None, text: str) -> None:
    assert relative(moment, NOW) == text


def test_absolute_times_carry_their_zone_in_winter_and_in_summer() -> None:
    style = TimeStyle(BERLIN, NOW)
    assert style.absolute(NOW) == "2026-11-30 09:30:00 CET"
    assert style.absolute(datetime(2026, 7, 1, 4, 0, tzinfo=UTC), seconds=False) == "2026-07-01 06:00 CEST"
    assert TimeStyle.for_user(NOW, utc=True).absolute(NOW) == "2026-11-30 08:30:00 UTC"
    assert style.absolute(None) == "-"


def test_both_drops_the_date_today_and_keeps_it_on_another_day() -> None:
    style = TimeStyle(BERLIN, NOW)
    assert style.both(NOW - timedelta(minutes=3)) == "3 min ago (09:27 CET)"
    assert style.both(NOW - timedelta(hours=10)) == "10 h ago (2026-11-29 23:30 CET)", "another day in Berlin"
    assert style.both(NOW + timedelta(days=1), seconds=True) == "in 1 day (2026-12-01 09:30:00 CET)"
    assert style.clock(NOW, NOW - timedelta(hours=1)) == "09:30:00 CET"
    assert style.clock(NOW, NOW - timedelta(days=1)) == "2026-11-30 09:30:00 CET"


def test_the_local_zone_comes_from_tz_then_the_system(tmp_path: Path) -> None:
    assert zone_name(local_zone({"TZ": "Asia/Tokyo"})) == "Asia/Tokyo"
    assert zone_name(local_zone({"TZ": ":Europe/Berlin"})) == "Europe/Berlin"
    link = tmp_path / "localtime"
    link.symlink_to("/usr/share/zoneinfo/America/New_York")
    assert zone_name(local_zone({"TZ": "CET-1CEST"}, localtime=link)) == "America/New_York", (
        "a POSIX rule: the system's"
    )
    assert zone_name(local_zone({}, localtime=link)) == "America/New_York"
    fallback = local_zone({}, localtime=tmp_path / "missing")
    assert datetime.now(fallback).utcoffset() == datetime.now().astimezone().utcoffset()


@pytest.mark.parametrize(
    ("zone", "moment"),
    [
        (ZoneInfo("America/New_York"), datetime(1, 1, 1, tzinfo=UTC)),
        (ZoneInfo("Asia/Tokyo"), datetime(9999, 12, 31, 23, tzinfo=UTC)),
    ],
)
def test_a_moment_the_zone_cannot_hold_is_shown_in_utc(zone: ZoneInfo, moment: datetime) -> None:
    """A logical date stored before dates were bounded (issue 18) made `runs` and `show` fail with OverflowError."""
    style = TimeStyle(zone, NOW)
    with pytest.raises(OverflowError):
        moment.astimezone(zone)
    assert style.absolute(moment).endswith(" UTC")
    assert style.clock(moment, day_of=NOW).endswith(" UTC")
