"""Logical dates are bounded to years 1900-2999 where they are parsed (issue 18).

Every entry point (``run --logical-date``, the REST trigger's ``logical_date``, ``backfill --start/--end``)
goes through :func:`orchestrate_ext.clock.parse_datetime` or :func:`~orchestrate_ext.clock.check_logical_date`.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from orchestrate_ext.clock import check_logical_date, parse_datetime


@pytest.mark.parametrize(
    ("text", "moment"),
    [
        ("1900-01-01", datetime(1900, 1, 1, tzinfo=UTC)),
        ("2999-12-31T23:59:59.999999Z", datetime(2999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)),
        ("2024-01-31T06:00:00+01:00", datetime(2024, 1, 31, 5, tzinfo=UTC)),
    ],
)
def test_dates_inside_the_range_are_accepted(text: str, moment: datetime) -> None:
    assert parse_datetime(text) == moment


@pytest.mark.parametrize(
    "text",
    [
        "0001-01-01",
        "0001-01-01T00:00+05:00",
        "1899-12-31T23:59:59Z",
        "1900-01-01T00:00:00+00:01",
        "3000-01-01",
        "9999-12-31",
    ],
)
def test_dates_outside_are_refused_naming_the_value_and_the_range(text: str) -> None:
    expected = rf"'{re.escape(text)}' is outside .* \(years 1900 to 2999\); use a date in that range"
    with pytest.raises(ValueError, match=expected):
        parse_datetime(text)


def test_text_that_is_no_date_says_so() -> None:
    with pytest.raises(ValueError, match="is not an ISO-8601 date"):
        parse_datetime("yesterday")


def test_check_logical_date_names_the_moment_when_no_text_is_given() -> None:
    with pytest.raises(ValueError, match="'3000-01-01T00:00:00Z' is outside"):
        check_logical_date(datetime(3000, 1, 1, tzinfo=UTC))
