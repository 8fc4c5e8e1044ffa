"""A small notebook-only project (no kernel runs) and the CLI driven in-process, for the history views.

No test here reads the wall clock: ``now`` is a fixed moment, and :func:`invoke` hands the CLI the
same moment (or a later one) through ``ORCHESTRATE_CLOCK_FILE``, so every "N min ago", every next
and last fire time and every stale verdict is the same at any hour, on any date, in any zone.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner, Result

from orchestrate_ext.cli import main
from orchestrate_ext.model import StateLocation
from orchestrate_ext.store import StateStore, open_store

BERLIN = ZoneInfo("Europe/Berlin")


def write_notebook(path: Path, orchestrate: dict[str, Any] | None = None) -> None:
    metadata: dict[str, Any] = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}
    if orchestrate is not None:
        metadata["orchestrate"] = orchestrate
    path.write_text(json.dumps({"cells": [], "metadata": metadata, "nbformat": 4, "nbformat_minor": 5}))


NOW = datetime(2026, 11, 30, 14, 17, 23, tzinfo=UTC)
"""The tests' "now" (15:17 in Berlin): the time the CLI is told it is, whatever the wall clock says."""

CLOCK_FILE = "clock.txt"
"""Where :func:`invoke` writes the CLI's time (``ORCHESTRATE_CLOCK_FILE``), in the project folder."""


@pytest.fixture
def now() -> datetime:
    return NOW


@pytest.fixture
def nightly_cron(now: datetime) -> str:
    """A daily cron (Europe/Berlin) that fired 3 to 4 hours before ``now``."""
    return f"0 {(now.astimezone(BERLIN) - timedelta(hours=3)).hour} * * *"


@pytest.fixture
def project(tmp_path: Path, nightly_cron: str) -> Path:
    """``load`` (on the nightly schedule) and ``report`` after it (fresh within 24 h, says its SLA)."""
    (tmp_path / "orchestrate.yaml").write_text(
        "notebooks:\n  include: ['*.ipynb']\n"
        "schedules:\n"
        f"  - {{name: nightly, cron: '{nightly_cron}', timezone: Europe/Berlin, select: load}}\n"
    )
    write_notebook(tmp_path / "load.ipynb")
    write_notebook(tmp_path / "report.ipynb", {"depends_on": ["load"], "sla": {"freshness": "24h"}})
    return tmp_path


@pytest.fixture
def store(project: Path) -> Iterator[StateStore]:
    opened = open_store(StateLocation(path=project / ".orchestrate" / "state.db"))
    yield opened
    opened.close()


def invoke(project: Path, *args: str, tz: str = "Europe/Berlin", at: datetime = NOW, **env: str) -> Result:
    """The CLI as a user calls it at the moment ``at``, with output piped (plain) and ``TZ`` set."""
    clock = project / CLOCK_FILE
    clock.write_text(at.isoformat(), encoding="utf-8")
    return CliRunner().invoke(
        main, [*args, "--project", str(project)], env={"TZ": tz, "ORCHESTRATE_CLOCK_FILE": str(clock), **env}
    )


def abbreviation(moment: datetime, zone: ZoneInfo = BERLIN) -> str:
    return moment.astimezone(zone).tzname() or ""
