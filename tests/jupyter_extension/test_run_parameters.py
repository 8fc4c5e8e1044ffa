"""Run parameters no notebook of the run takes are refused before the run starts (issue 21, terminal).

``orchestrate run --param top_m=5`` used to start the run, and papermill's "Passed unknown
parameter: top_m" reached the progress without saying which notebook; now the typo is an error
naming the notebook, the parameter and what the notebook takes (exit 2; the REST API answers 400,
see ``server_api/test_run_parameters_api.py``), and papermill's messages carry the node's id.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest

from jupyter_extension.notebook_meta import parameter_names
from jupyter_extension.worker import execute
from orchestrate_ext.errors import BadInput
from orchestrate_ext.model import Node
from orchestrate_ext.parameters import PARAMETER_NAMES, check_run_parameters
from tests.orchestrate_ext.cli.conftest import invoke


def _cell(source: str, tags: tuple[str, ...] = ("parameters",)) -> dict[str, Any]:
    return {
        "cell_type": "code",
        "metadata": {"tags": list(tags)},
        "source": source,
        "outputs": [],
        "execution_count": None,
    }


def _notebook(path: Path, parameters: str | None) -> None:
    cells = [_cell(parameters)] if parameters is not None else []
    cells.append(_cell("print('hello')", ()))
    for number, cell in enumerate(cells):
        cell["id"] = f"cell-{number}"
    metadata = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}
    path.write_text(json.dumps({"cells": cells, "metadata": metadata, "nbformat": 4, "nbformat_minor": 5}))


def _node(path: str, names: list[str] | None) -> Node:
    settings = {} if names is None else {PARAMETER_NAMES: names}
    return Node(
        id=f"notebook.{path}", kind="notebook", resource_type="notebook", name=path, path=path, settings=settings
    )


def test_the_names_a_parameters_cell_assigns() -> None:
    cells = [_cell("top_n = 10\nregion: str = 'eu'\na, b = 1, 2\nprint(top_n)\n"), _cell("x = 1", ())]
    assert parameter_names(cells) == ("top_n", "region", "a", "b")
    assert parameter_names([_cell("x = 1", ())]) is None  # no parameters cell: nobody can tell
    assert parameter_names([_cell("%%R\nx <- 1")]) is None  # not Python: nobody can tell


def test_a_parameter_no_notebook_takes_is_refused_naming_the_notebook() -> None:
    report = _node("notebooks/daily_report.ipynb", ["top_n", "region"])
    with pytest.raises(BadInput) as error:
        check_run_parameters([report], {"top_m": 5})
    message = str(error.value)
    assert "notebook 'notebooks/daily_report.ipynb' has no parameter 'top_m'" in message
    assert "top_n, region" in message and "add `top_m = ...`" in message

    ingest = _node("notebooks/ingest.ipynb", ["days"])
    with pytest.raises(BadInput, match="parameter 'top_m' is in no parameters cell of the run's notebooks"):
        check_run_parameters([report, ingest], {"top_m": 5})
    check_run_parameters([report, ingest], {"top_n": 5, "days": 2, "logical_date": "x"})  # each taken by one
    check_run_parameters([report, _node("notebooks/free.ipynb", None)], {"anything": 1})  # one cannot tell


def test_orchestrate_run_refuses_an_unknown_parameter_before_the_run_starts(tmp_path: Path) -> None:
    (tmp_path / "orchestrate.yaml").write_text("notebooks:\n  include: ['*.ipynb']\n")
    _notebook(tmp_path / "report.ipynb", "top_n = 10\n")
    result = invoke(tmp_path, "run", "--param", "top_m=5")
    assert result.exit_code == 2, result.output
    assert "notebook 'report.ipynb' has no parameter 'top_m' in its parameters cell (it has: top_n)" in result.output
    assert not (tmp_path / ".orchestrate" / "runs").exists()  # no run started


def test_papermills_messages_name_the_notebook_node(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """papermill warns while it injects the parameters, before any kernel starts (here: none can)."""
    _notebook(tmp_path / "report.ipynb", "top_n = 10\n")
    spec = {
        "input": str(tmp_path / "report.ipynb"),
        "output": str(tmp_path / "out" / "report.ipynb"),
        "cwd": str(tmp_path),
        "kernel": "no-such-kernel-for-this-test",
        "parameters": {"top_m": 5},
        "result": str(tmp_path / "out" / "result.json"),
        "node": "notebook.report",
    }
    with caplog.at_level(logging.WARNING, logger="papermill"):
        result = execute(spec, log=None)
    assert result["status"] == "failed"  # the kernel does not exist
    warnings = [record.getMessage() for record in caplog.records if "unknown parameter" in record.getMessage()]
    assert warnings == ["notebook.report: Passed unknown parameter: top_m"]
