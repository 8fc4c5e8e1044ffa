"""`orchestrate run --param NAME=VALUE`: parameters for every notebook of the run."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrate_ext.cli.run_commands import parse_params
from orchestrate_ext.errors import BadInput
from tests.conftest import run_cli


def test_values_are_json_where_they_parse_else_text() -> None:
    assert parse_params(("top_n=5", "name=Ana", 'quoted="5"', "items=[1, 2]", "empty=")) == {
        "top_n": 5,
        "name": "Ana",
        "quoted": "5",
        "items": [1, 2],
        "empty": "",
    }
    assert parse_params(("x=NaN",)) == {"x": "NaN"}  # not JSON, so text


@pytest.mark.parametrize(
    ("param", "message"),
    [
        ("top_n", "write NAME=VALUE"),
        ("1x=2", "parameter name .1x. is not a Python identifier"),
        ("class=2", "parameter name .class. is a Python keyword"),
        ("run_id=x", "'run_id' is set by orchestrate-ext"),
    ],
)
def test_bad_params_are_refused(param: str, message: str) -> None:
    with pytest.raises(BadInput, match=message):
        parse_params((param,))


@pytest.mark.slow  # a real `orchestrate` process on a dbt-parsed project
def test_a_bad_param_exits_2_before_anything_runs(shop: Path) -> None:
    result = run_cli("run", "--param", "logical_date=2024", cwd=shop)
    assert result.returncode == 2, result.stderr
    assert "'logical_date' is set by orchestrate-ext" in result.stderr
    assert not (shop / ".orchestrate" / "state.db").exists()
