"""A dbt project that dbt cannot parse leaves out every dbt node and what reads one; the rest still runs.

Real dbt-core with dbt-duckdb (its `dbt parse` fails on a model's Jinja), real papermill notebooks and the
installed `orchestrate` command, as a user would meet them.
"""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest

from tests.conftest import run_cli

pytestmark = pytest.mark.slow

ALONE = "notebook.alone"
REPORT = "notebook.report"


def _notebook(path: Path, source: str, depends_on: list[str] | None = None) -> None:
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    if depends_on is not None:
        notebook.metadata["orchestrate"] = {"depends_on": depends_on}
    notebook.cells.append(nbformat.v4.new_code_cell(source))
    nbformat.write(notebook, path)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    dbt = tmp_path / "dbt"
    (dbt / "models").mkdir(parents=True)
    (dbt / "dbt_project.yml").write_text(
        "name: tiny\nversion: '1.0'\nprofile: tiny\nflags: {send_anonymous_usage_stats: false}\n"
    )
    (dbt / "profiles.yml").write_text(
        "tiny:\n  target: dev\n  outputs:\n    dev: {type: duckdb, path: tiny.duckdb, threads: 1}\n"
    )
    (dbt / "models" / "orders.sql").write_text("select 1 as id\n")
    (dbt / "models" / "broken.sql").write_text("select * from {{ ref('orders' }}\n")  # a Jinja syntax error
    (tmp_path / "orchestrate.yaml").write_text(
        "dbt: {project_dir: dbt, profiles_dir: dbt}\nnotebooks:\n  include: ['*.ipynb']\ndefaults: {retries: 0}\n"
    )
    _notebook(tmp_path / "alone.ipynb", "print('alone')")
    _notebook(tmp_path / "report.ipynb", "print('report')", depends_on=["orders"])
    return tmp_path


def test_an_unparsable_dbt_project_leaves_its_readers_out_and_runs_the_rest(project: Path) -> None:
    result = run_cli("run", "--json", cwd=project)
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert {node["id"]: node["status"] for node in document["nodes"]} == {ALONE: "success"}
    [left_out] = document["left_out"]
    assert left_out["id"] == REPORT
    assert "depends on 'orders'" in left_out["reason"]
    assert "nothing of `dbt:` could be loaded: `dbt parse` failed" in left_out["reason"], left_out["reason"]
    assert "broken.sql" in left_out["reason"] or "Syntax error" in left_out["reason"], "dbt's own message"

    status = run_cli("status", "--json", cwd=project)
    assert status.returncode == 1, status.stderr
    health = json.loads(status.stdout)
    [unloaded] = health["unloaded"]
    assert unloaded["plugin"] == "dbt" and "`dbt parse` failed" in unloaded["reason"]
    text = run_cli("status", cwd=project).stdout
    assert "nothing of `dbt:` could be loaded" in text.splitlines()[0]
    assert "every node of `dbt:`" in text

    (project / "dbt" / "models" / "broken.sql").write_text("select * from {{ ref('orders') }}\n")
    fixed = run_cli("run", "--json", cwd=project)
    assert fixed.returncode == 0, fixed.stderr
    statuses = {node["id"]: node["status"] for node in json.loads(fixed.stdout)["nodes"]}
    assert statuses[REPORT] == "success" and statuses["model.tiny.broken"] == "success"
    assert json.loads(fixed.stdout)["left_out"] == []
