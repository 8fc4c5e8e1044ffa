"""A run whose logical date is at the edge of Python's dates (stored before issue 18 bounded them) still shows.

Such a run made `runs` and `show` fail with ``OverflowError`` in a zone west (year 1) or east (year 9999) of UTC,
until it was deleted. New ones are refused where the date is parsed (tests/test_cli_hostile_input.py).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from orchestrate_ext.model import NodeRunRecord, NodeStatus, RunRecord, RunStatus
from orchestrate_ext.store import StateStore
from tests.orchestrate_ext.cli.conftest import invoke


@pytest.mark.parametrize(
    ("logical_date", "tz"),
    [(datetime(1, 1, 1, tzinfo=UTC), "America/New_York"), (datetime(9999, 12, 31, 23, tzinfo=UTC), "Asia/Tokyo")],
)
def test_runs_and_show_of_a_run_dated_at_the_edge(
    project: Path, store: StateStore, now: datetime, logical_date: datetime, tz: str
) -> None:
    run = RunRecord("edge", RunStatus.RUNNING, now, logical_date)
    with store.transaction() as tx:
        tx.insert_run(run, [NodeRunRecord("edge", "notebook.load", "notebook", NodeStatus.PENDING)])
    for args in (["runs"], ["show", "edge"], ["runs", "--json"], ["show", "edge", "--json"]):
        result = invoke(project, *args, tz=tz)
        assert result.exception is None or isinstance(result.exception, SystemExit), (args, result.exception)
        assert result.exit_code == 0, (args, result.output)
        assert "edge" in result.output
