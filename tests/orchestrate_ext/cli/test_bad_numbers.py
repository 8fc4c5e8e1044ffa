"""Numbers the store cannot hold, and tries that do not exist (issue 18): exit 2 naming the option, never a
traceback or a silent exit 0."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from orchestrate_ext.errors import BadInput
from orchestrate_ext.model import NodeStatus
from orchestrate_ext.store import StateStore
from orchestrate_ext.store.records import SQL_INT_MAX, RunQuery
from tests.orchestrate_ext.cli.conftest import invoke
from tests.support.history import Step, record_run

HUGE = str(10**30)


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (["runs", "--limit", HUGE], "--limit"),
        (["runs", "--limit", str(SQL_INT_MAX + 1)], "--limit"),
        (["ticks", "--limit", HUGE], "--limit"),
        (["logs", "r1", "notebook.load", "--try", "-1"], "--try"),
        (["logs", "r1", "notebook.load", "--try", "0"], "--try"),
        (["logs", "r1", "notebook.load", "--try", HUGE], "--try"),
    ],
)
def test_numbers_out_of_range_are_exit_2_naming_the_option(
    project: Path, store: StateStore, now: datetime, args: list[str], option: str
) -> None:
    record_run(store, "r1", now, [Step("notebook.load", kind="notebook")], logs=project / "logs")
    result = invoke(project, *args)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert result.exit_code == 2, result.output
    assert f"Invalid value for '{option}'" in result.stderr and "is not in the range" in result.stderr


def test_runs_with_the_largest_limit_the_store_holds(project: Path, store: StateStore, now: datetime) -> None:
    record_run(store, "r1", now, [Step("notebook.load", kind="notebook")])
    result = invoke(project, "runs", "--limit", str(SQL_INT_MAX))
    assert result.exit_code == 0, result.output
    assert "r1" in result.output


def test_logs_of_a_try_that_does_not_exist_is_exit_2_listing_the_tries(
    project: Path, store: StateStore, now: datetime
) -> None:
    steps = [Step("notebook.load", NodeStatus.FAILED, error="boom", tries=2, kind="notebook")]
    record_run(store, "r1", now, steps, logs=project / "logs")
    result = invoke(project, "logs", "r1", "notebook.load", "--try", "5")
    assert result.exit_code == 2, result.output
    assert "error: --try 5: notebook.load has no try 5 in run r1; its tries: 1, 2" in result.stderr
    assert invoke(project, "logs", "r1", "notebook.load", "--try", "2").exit_code == 0


@pytest.mark.parametrize(("limit", "offset"), [(0, 0), (1, -1), (10**30, 0), (1, 10**31 - 1), (SQL_INT_MAX + 1, 0)])
def test_a_history_query_beyond_the_store_is_bad_input(limit: int, offset: int) -> None:
    with pytest.raises(BadInput, match="is out of range; use a whole number from"):
        RunQuery(limit=limit, offset=offset)
