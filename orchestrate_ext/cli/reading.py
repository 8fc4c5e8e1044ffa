"""What every command that reads the history shares: the project, its store opened read-only, the time style.

``--utc`` switches a view from the user's local zone to UTC. The clock is the
system's, shifted by ``ORCHESTRATE_CLOCK_OFFSET_SECONDS`` when set (as for the
scheduler), so tests with real processes can look at the history "later"
without waiting.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import click
from rich.console import Console

from orchestrate_ext.cli.app import emit_json
from orchestrate_ext.cli.screen import Screen, draw, stdout_console
from orchestrate_ext.clock import clock_from_environment, parse_duration, to_utc
from orchestrate_ext.errors import BadInput
from orchestrate_ext.project import Project
from orchestrate_ext.store import StateStore
from orchestrate_ext.timefmt import TimeStyle


def utc_option(function: Callable[..., Any]) -> Callable[..., Any]:
    """``--utc`` on a command: show times in UTC instead of the local zone."""
    return click.option("--utc", is_flag=True, help="Show times in UTC (default: your local time zone).")(function)


class Redacts(Protocol):
    """Takes secrets out of text shown to the user (``[redacted]``)."""

    def __call__(self, text: str) -> str: ...

    def document(self, value: Any) -> Any:
        """A JSON-like document with every string in it redacted."""
        ...


class Unchanged:
    """Redacts nothing."""

    def __call__(self, text: str) -> str:
        return text

    def document(self, value: Any) -> Any:
        return value


def redaction(project: Project) -> Redacts:
    """The project's redactor (the values of the secrets orchestrate.yaml names, and credential-like text).

    ``Project.redactor`` comes with the secrets work of issue 10; where the
    project has none, text passes unchanged.
    """
    make = getattr(project, "redactor", None)
    return make() if callable(make) else Unchanged()


@dataclass(frozen=True)
class Reading:
    """What a reading command works with. Everything it prints goes through :meth:`show`, :meth:`emit` or
    ``redact``, so no secret that reached the store or a log is shown."""

    project: Project
    store: StateStore
    style: TimeStyle
    redact: Redacts = field(default_factory=Unchanged)

    @property
    def now(self) -> datetime:
        return self.style.now

    def show(self, screen: Screen, console: Console | None = None) -> None:
        """Draw a view (redacted) on the console (default: standard output)."""
        draw(screen.redacted(self.redact), console or stdout_console())

    def emit(self, document: object) -> None:
        """Print a JSON document (redacted)."""
        emit_json(self.redact.document(document))


def load_project(project_dir: Path | None) -> Project:
    return Project.load(project_dir, clock=clock_from_environment())


@contextmanager
def reading(project_dir: Path | None, *, utc: bool = False) -> Iterator[Reading]:
    """The project and its store, opened read-only (a store that does not exist reads empty)."""
    project = load_project(project_dir)
    store = project.open_store(read_only=True)
    try:
        yield Reading(project, store, TimeStyle.for_user(project.clock.now(), utc=utc), redaction(project))
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
    try:
        return to_utc(moment)
    except OverflowError:  # 9999-12-31T23:59-05:00 is after year 9999 in UTC
        raise BadInput(
            f"--since: '{text}' is outside the dates Python can hold once read in UTC; "
            "give a date between the years 1 and 9999, e.g. 2026-11-30"
        ) from None
