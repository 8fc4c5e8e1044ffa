"""What every command that reads the history shares: the project, its store opened read-only, the time style.

``--utc`` switches a view from the user's local zone to UTC. The clock is the
system's, shifted by ``ORCHESTRATE_CLOCK_OFFSET_SECONDS`` when set (as for the
scheduler), so tests with real processes can look at the history "later"
without waiting.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import click

from orchestrate_ext.clock import parse_duration, to_utc
from orchestrate_ext.errors import BadInput
from orchestrate_ext.project import Project
from orchestrate_ext.store import StateStore
from orchestrate_ext.timefmt import TimeStyle


def utc_option(function: Callable[..., Any]) -> Callable[..., Any]:
    """``--utc`` on a command: show times in UTC instead of the local zone."""
    return click.option("--utc", is_flag=True, help="Show times in UTC (default: your local time zone).")(function)


@dataclass(frozen=True)
class Reading:
    project: Project
    store: StateStore
    style: TimeStyle

    @property
    def now(self) -> datetime:
        return self.style.now


def load_project(project_dir: Path | None) -> Project:
    from orchestrate_ext.scheduling.serve import clock_from_environment  # the scheduler's module: only when read

    return Project.load(project_dir, clock=clock_from_environment())


@contextmanager
def reading(project_dir: Path | None, *, utc: bool = False) -> Iterator[Reading]:
    """The project and its store, opened read-only (a store that does not exist reads empty)."""
    project = load_project(project_dir)
    store = project.open_store(read_only=True)
    try:
        yield Reading(project, store, TimeStyle.for_user(project.clock.now(), utc=utc))
    finally:
        store.close()


def parse_since(text: str, style: TimeStyle) -> datetime:
    """``--since``: a duration back from now (``2d``, ``12h``, ``90m``) or a date or date-time.

    A date or date-time without an offset is read in the zone the view shows
    (local, or UTC with ``--utc``).
    """
    value = text.strip()
    try:
        return style.now - timedelta(seconds=parse_duration(value))
    except ValueError:
        pass  # not a duration: a date or a date-time
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise BadInput(
            f"--since: '{text}' is neither a duration (e.g. 2d, 12h, 30m) nor a date or date-time "
            "(e.g. 2026-11-30 or 2026-11-30T06:00)"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=style.zone)
    return to_utc(moment)
