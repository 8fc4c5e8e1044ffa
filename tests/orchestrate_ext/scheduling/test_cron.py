"""Cron in time zones: both daylight-saving changes in several zones, and properties over many expressions."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from croniter import croniter
from hypothesis import given, settings
from hypothesis import strategies as st

from orchestrate_ext.cron import CronError, CronSchedule, normalize


def fires(expression: str, timezone: str, after: datetime, count: int) -> list[datetime]:
    schedule = CronSchedule(expression, timezone)
    found: list[datetime] = []
    for moment in schedule.iter_after(after):
        found.append(moment)
        if len(found) == count:
            return found
    return found


def local(moments: list[datetime], timezone: str) -> list[str]:
    return [moment.astimezone(ZoneInfo(timezone)).strftime("%m-%d %H:%M%z") for moment in moments]


# -- spring forward: a wall time that does not exist fires once, at the end of the gap


@pytest.mark.parametrize(
    ("timezone", "expression", "after", "expected"),
    [
        # Berlin: 2024-03-31 02:00 CET -> 03:00 CEST
        (
            "Europe/Berlin",
            "30 2 * * *",
            "2024-03-29T12:00Z",
            ["03-30 02:30+0100", "03-31 03:00+0200", "04-01 02:30+0200"],
        ),
        # New York: 2024-03-10 02:00 EST -> 03:00 EDT
        ("America/New_York", "15 2 * * *", "2024-03-09T12:00Z", ["03-10 03:00-0400", "03-11 02:15-0400"]),
        # Lord Howe moves by 30 minutes: 2024-10-06 02:00 -> 02:30
        ("Australia/Lord_Howe", "10 2 * * *", "2024-10-05T00:00Z", ["10-06 02:30+1100", "10-07 02:10+1100"]),
        # Havana changes at midnight: 2024-03-10 00:00 -> 01:00
        (
            "America/Havana",
            "0 0 * * *",
            "2024-03-09T00:00Z",
            ["03-09 00:00-0500", "03-10 01:00-0400", "03-11 00:00-0400"],
        ),
    ],
)
def test_a_skipped_wall_time_fires_once_at_the_end_of_the_gap(
    timezone: str, expression: str, after: str, expected: list[str]
) -> None:
    start = datetime.fromisoformat(after.replace("Z", "+00:00"))
    assert local(fires(expression, timezone, start, len(expected)), timezone) == expected


def test_several_fire_times_inside_one_gap_collapse_into_one() -> None:
    moments = fires("*/20 * * * *", "Europe/Berlin", datetime(2024, 3, 31, 0, 30, tzinfo=UTC), 4)
    # 01:40 CET, then 02:00/02:20/02:40 do not exist: one fire at 03:00 CEST, then on as usual.
    assert local(moments, "Europe/Berlin") == [
        "03-31 01:40+0100",
        "03-31 03:00+0200",
        "03-31 03:20+0200",
        "03-31 03:40+0200",
    ]


# -- fall back: a wall time that happens twice fires once, at its first occurrence


@pytest.mark.parametrize(
    ("timezone", "expression", "after", "expected"),
    [
        # Berlin: 2024-10-27 03:00 CEST -> 02:00 CET; 02:30 happens twice
        ("Europe/Berlin", "30 2 * * *", "2024-10-26T12:00Z", ["10-27 02:30+0200", "10-28 02:30+0100"]),
        # New York: 2024-11-03 02:00 EDT -> 01:00 EST; 01:30 happens twice
        ("America/New_York", "30 1 * * *", "2024-11-02T12:00Z", ["11-03 01:30-0400", "11-04 01:30-0500"]),
        # Hourly in New York: the repeated hour fires once
        (
            "America/New_York",
            "0 * * * *",
            "2024-11-03T04:30Z",
            ["11-03 01:00-0400", "11-03 02:00-0500", "11-03 03:00-0500"],
        ),
        # Lord Howe falls back by 30 minutes: 2024-04-07 02:00 -> 01:30
        ("Australia/Lord_Howe", "45 1 * * *", "2024-04-06T00:00Z", ["04-07 01:45+1100", "04-08 01:45+1030"]),
    ],
)
def test_a_repeated_wall_time_fires_once_at_its_first_occurrence(
    timezone: str, expression: str, after: str, expected: list[str]
) -> None:
    start = datetime.fromisoformat(after.replace("Z", "+00:00"))
    assert local(fires(expression, timezone, start, len(expected)), timezone) == expected


def test_inside_the_repeated_hour_the_next_fire_is_after_it() -> None:
    schedule = CronSchedule("*/30 * * * *", "Europe/Berlin")
    second_0210 = datetime(2024, 10, 27, 1, 10, tzinfo=UTC)  # 02:10 CET, the second 02:10
    assert local([schedule.next_after(second_0210)], "Europe/Berlin") == ["10-27 03:00+0100"]
    assert schedule.previous_at_or_before(second_0210) == datetime(2024, 10, 27, 0, 30, tzinfo=UTC)


def test_utc_and_zones_without_dst_are_plain() -> None:
    assert fires("0 6 * * MON-FRI", "UTC", datetime(2024, 1, 5, 7, tzinfo=UTC), 2) == [
        datetime(2024, 1, 8, 6, tzinfo=UTC),
        datetime(2024, 1, 9, 6, tzinfo=UTC),
    ]
    assert local(fires("@daily", "Asia/Kolkata", datetime(2024, 1, 1, tzinfo=UTC), 1), "Asia/Kolkata") == [
        "01-02 00:00+0530"
    ]


def test_between_is_inclusive_and_bounded() -> None:
    schedule = CronSchedule("0 * * * *")
    start, end = datetime(2024, 1, 1, 1, tzinfo=UTC), datetime(2024, 1, 1, 4, tzinfo=UTC)
    assert [m.hour for m in schedule.between(start, end)] == [1, 2, 3, 4]
    assert [m.hour for m in schedule.between(start, end, limit=2)] == [1, 2]


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("61 * * * *", "'61 \\* \\* \\* \\*' is not a valid cron expression"),
        ("* * * *", "five fields"),
        ("*/5 * * * * 30", "five fields"),
        ("0 0 31 2 *", "never matches a date"),
        ("@reboot", "five fields"),
    ],
)
def test_invalid_expressions_say_what_to_write(expression: str, message: str) -> None:
    with pytest.raises(CronError, match=message):
        normalize(expression)


def test_an_unknown_zone_suggests_the_closest() -> None:
    with pytest.raises(CronError, match="'Europe/Berln' is not a known time zone; did you mean 'Europe/Berlin'"):
        CronSchedule("0 6 * * *", "Europe/Berln")


# -- properties over many expressions, zones and moments around DST changes

ZONES = [
    "UTC",
    "Europe/Berlin",
    "Europe/London",
    "America/New_York",
    "America/Sao_Paulo",
    "America/Havana",
    "Australia/Sydney",
    "Australia/Lord_Howe",
    "Pacific/Chatham",
    "Asia/Tehran",
]
TRANSITIONS = [
    datetime(2024, 3, 10, tzinfo=UTC),
    datetime(2024, 3, 31, tzinfo=UTC),
    datetime(2024, 4, 7, tzinfo=UTC),
    datetime(2024, 10, 6, tzinfo=UTC),
    datetime(2024, 10, 27, tzinfo=UTC),
    datetime(2024, 11, 3, tzinfo=UTC),
    datetime(2022, 3, 21, tzinfo=UTC),
]


def _field(low: int, high: int) -> st.SearchStrategy[str]:
    number = st.integers(low, high)
    return st.one_of(
        st.just("*"),
        number.map(str),
        st.integers(2, 20).map(lambda step: f"*/{step}"),
        st.tuples(number, number).map(lambda pair: f"{min(pair)}-{max(pair)}"),
        st.lists(number, min_size=2, max_size=3, unique=True).map(lambda items: ",".join(map(str, sorted(items)))),
    )


EXPRESSIONS = st.tuples(
    _field(0, 59), _field(0, 23), st.one_of(st.just("*"), _field(1, 28)), st.just("*"), _field(0, 6)
)


@settings(max_examples=120, deadline=None)
@given(
    fields=EXPRESSIONS,
    timezone=st.sampled_from(ZONES),
    around=st.sampled_from(TRANSITIONS),
    offset_hours=st.integers(-60, 60),
)
def test_fire_times_strictly_increase_never_repeat_and_match_the_expression(
    fields: tuple[str, ...], timezone: str, around: datetime, offset_hours: int
) -> None:
    expression = " ".join(fields)
    schedule = CronSchedule(expression, timezone)
    start = around + timedelta(hours=offset_hours)
    moments = [moment for moment, _ in zip(schedule.iter_after(start), range(25), strict=False)]
    assert moments[0] > start
    assert all(earlier < later for earlier, later in itertools.pairwise(moments))
    assert len({moment for moment in moments}) == len(moments)
    zone = ZoneInfo(timezone)
    for moment in moments:
        assert moment.tzinfo is UTC
        wall = moment.astimezone(zone).replace(tzinfo=None)
        if not croniter.match(schedule.expression, wall):
            # Only the end of a spring-forward gap may fire off the expression (for a time inside the gap).
            assert (moment - timedelta(seconds=1)).astimezone(zone).utcoffset() != moment.astimezone(zone).utcoffset()
        # Each fire time is its own last fire time, and the next one after the one before it.
        assert schedule.previous_at_or_before(moment) == moment
        before = schedule.previous_at_or_before(moment - timedelta(seconds=1))
        if before is not None and before > start:
            assert schedule.next_after(before) == moment
