"""The scheduler's main loop when every step fails: it backs off and logs one line a minute, not one a second."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import pytest

from orchestrate_ext.errors import StoreError
from orchestrate_ext.scheduler_process import BACKOFF_LIMIT_SECONDS, serve
from orchestrate_ext.testing import FakeClock

FULL = "state store /srv/state.db cannot be written: its disk is full"


class FailingScheduler:
    """Fails its steps with ``problems`` (one per step; the last repeats), then succeeds."""

    def __init__(self, clock: FakeClock, problems: list[BaseException | None]) -> None:
        self.clock = clock
        self.problems = problems
        self.steps = 0

    def step(self) -> None:
        problem = self.problems[min(self.steps, len(self.problems) - 1)]
        self.steps += 1
        if problem is not None:
            raise problem


class FakeStop:
    """A stop event whose waits move the fake clock; it is set once ``until`` simulated seconds have passed."""

    def __init__(self, clock: FakeClock, until: float) -> None:
        self.clock = clock
        self.until = until
        self.waited: list[float] = []

    def is_set(self) -> bool:
        return self.clock.monotonic() >= self.until

    def wait(self, seconds: float) -> bool:
        self.waited.append(seconds)
        self.clock.advance(seconds=seconds)
        return self.is_set()


def run(problems: list[BaseException | None], minutes: float) -> tuple[FailingScheduler, FakeStop]:
    clock = FakeClock(datetime(2026, 3, 2, 6, 0, tzinfo=UTC))
    scheduler = FailingScheduler(clock, problems)
    stop = FakeStop(clock, until=minutes * 60)
    serve(scheduler, stop, tick_seconds=1.0)  # type: ignore[arg-type]
    return scheduler, stop


def failure_lines(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.getMessage().startswith("scheduler step failed")]


def test_a_store_that_keeps_failing_is_retried_with_a_growing_wait_and_logged_once_a_minute(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="orchestrate_ext")
    scheduler, stop = run([StoreError(FULL)], minutes=10)
    waits = [round(wait) for wait in stop.waited]
    assert waits[:6] == [2, 4, 8, 16, 32, 60]
    assert max(stop.waited) <= BACKOFF_LIMIT_SECONDS + 0.01
    assert scheduler.steps < 20  # not 600 steps in 10 minutes
    lines = failure_lines(caplog)
    assert 9 <= len(lines) <= 11, [r.getMessage() for r in lines]  # the first, then one a minute
    assert FULL in lines[0].getMessage()
    assert "failed steps since the last line" in lines[-1].getMessage()
    assert all(r.exc_info is None for r in lines)  # our own errors: one line, no traceback


def test_steps_go_back_to_every_tick_once_the_store_works_again(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="orchestrate_ext")
    _, stop = run([StoreError(FULL), StoreError(FULL), StoreError(FULL), None], minutes=2)
    after = stop.waited[3:]
    assert after and all(wait <= 1.01 for wait in after)
    assert any("work again after 3 failed" in r.getMessage() for r in caplog.records)


def test_an_unexpected_error_is_logged_with_its_trace_once_then_throttled(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="orchestrate_ext")
    problems: list[Any] = [KeyError("x")]
    run(problems, minutes=3)
    lines = failure_lines(caplog)
    assert lines[0].exc_info is not None
    assert "KeyError" in lines[0].getMessage()
    assert len(lines) <= 4
    assert all(r.exc_info is None for r in lines[1:])
