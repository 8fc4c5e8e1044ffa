"""The scheduler process's main loop: step at every whole second until asked to stop."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Sequence
from datetime import datetime, timedelta

from orchestrate_ext.clock import SystemClock
from orchestrate_ext.errors import OrchestrateError
from orchestrate_ext.interfaces import Observer
from orchestrate_ext.scheduling.scheduler import Scheduler

log = logging.getLogger("orchestrate_ext.scheduler")

CLOCK_OFFSET_ENV = "ORCHESTRATE_CLOCK_OFFSET_SECONDS"
"""For tests with real processes: shifts the scheduler's clock, so a fire time comes without waiting for it."""


class OffsetClock(SystemClock):
    """The system clock shifted by ``offset`` seconds (wall time only; monotonic time is untouched)."""

    def __init__(self, offset: float) -> None:
        self.offset = timedelta(seconds=offset)

    def now(self) -> datetime:
        return super().now() + self.offset


def clock_from_environment() -> SystemClock:
    """The system clock, or an :class:`OffsetClock` when ``ORCHESTRATE_CLOCK_OFFSET_SECONDS`` is set."""
    offset = os.environ.get(CLOCK_OFFSET_ENV)
    if not offset:
        return SystemClock()
    try:
        return OffsetClock(float(offset))
    except ValueError:
        raise OrchestrateError(f"{CLOCK_OFFSET_ENV}={offset!r} is not a number of seconds") from None


def serve(
    scheduler: Scheduler,
    stop: threading.Event,
    *,
    observers: Sequence[Observer] = (),
    tick_seconds: float = 1.0,
) -> None:
    """Call ``scheduler.step()`` just after every whole ``tick_seconds`` until ``stop`` is set.

    A step that fails on the store (e.g. the disk is full) is logged and tried
    again at the next tick; observers get their periodic ``tick`` after each step.
    """
    while not stop.is_set():
        try:
            scheduler.step()
        except OrchestrateError as exc:
            log.error("scheduler step failed, trying again: %s", exc)
        except Exception:  # a long-running process outlives a bug in one step; the next step tries again
            log.exception("scheduler step failed, trying again")
        now = scheduler.clock.now()
        for observer in observers:
            try:
                observer.tick(now)
            except Exception:  # an observer must not stop the scheduler
                log.exception("observer %r failed in tick", observer)
        wall = scheduler.clock.now().timestamp()
        stop.wait(tick_seconds - (wall % tick_seconds) + 0.005)
