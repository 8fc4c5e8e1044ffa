"""--only-changed with real notebooks: markdown is not code, parameters and the logical date are inputs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import nbformat
import pytest

from tests.conftest import run_cli
from tests.jupyter_extension.test_notebook_nodes import write_notebook

pytestmark = pytest.mark.slow


def run(workspace: Path, *args: str) -> dict[str, dict[str, Any]]:
    result = run_cli("run", "--json", *args, cwd=workspace)
    assert result.returncode == 0, result.stderr
    return {node["id"]: node for node in json.loads(result.stdout)["nodes"]}


def statuses(nodes: dict[str, dict[str, Any]]) -> dict[str, str]:
    return {node_id: node["status"] for node_id, node in nodes.items()}


def test_notebooks_rerun_only_when_their_code_parameters_or_logical_date_change(tmp_path: Path) -> None:
    (tmp_path / "orchestrate.yaml").write_text("notebooks:\n  include: ['nb/*.ipynb']\n")
    extract = write_notebook(tmp_path / "nb" / "extract.ipynb", ["rows = limit * 2"], {"parameters": {"limit": 5}})
    write_notebook(tmp_path / "nb" / "report.ipynb", ["print('report')"], {"depends_on": ["extract"]})
    write_notebook(tmp_path / "nb" / "daily.ipynb", ["print(logical_date)"], parameters="logical_date = None")

    first = run(tmp_path, "--only-changed", "--logical-date", "2024-01-31")
    assert set(statuses(first).values()) == {"success"}
    assert first["notebook.nb/report"]["reason"] == "no earlier success"

    second = run(tmp_path, "--only-changed", "--logical-date", "2024-01-31")
    assert set(statuses(second).values()) == {"reused"}
    assert second["notebook.nb/extract"]["reason"].startswith("code unchanged, inputs unchanged since ")

    notebook = nbformat.read(extract, as_version=4)
    notebook.cells.append(nbformat.v4.new_markdown_cell("## Documented later"))
    nbformat.write(notebook, extract)
    documented = run(tmp_path, "--only-changed", "--logical-date", "2024-01-31")
    assert set(statuses(documented).values()) == {"reused"}, "markdown is not code"

    notebook.metadata["orchestrate"]["parameters"] = {"limit": 50}
    nbformat.write(notebook, extract)
    new_limit = run(tmp_path, "--only-changed", "--logical-date", "2024-01-31")
    assert statuses(new_limit) == {
        "notebook.nb/daily": "reused",
        "notebook.nb/extract": "success",
        "notebook.nb/report": "success",
    }
    assert new_limit["notebook.nb/extract"]["reason"].startswith("inputs changed since")
    assert new_limit["notebook.nb/report"]["reason"] == "upstream notebook.nb/extract ran"

    next_day = run(tmp_path, "--only-changed", "--logical-date", "2024-02-01")
    assert statuses(next_day) == {
        "notebook.nb/daily": "success",
        "notebook.nb/extract": "reused",
        "notebook.nb/report": "reused",
    }, "only the notebook that reads logical_date runs for another date"

    everything = run(tmp_path, "--all", "--logical-date", "2024-02-01")
    assert set(statuses(everything).values()) == {"success"}
