"""Issue 21: the Problems view's API, the one-click ``.dbtignore`` fix, and "Set up this folder".

The problems come from the checks ``orchestrate validate`` runs and the scheduler's ``config_error``
problems; a real Jupyter server and a real ``dbt parse``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import run_cli

pytestmark = pytest.mark.slow  # a real Jupyter server and dbt parse

REPORT = "notebooks/daily_report.ipynb"
CHECKPOINT = "dbt/models/marts/.ipynb_checkpoints/daily_revenue-checkpoint.sql"


def _break_report(root: Path) -> None:
    path = root / REPORT
    document = json.loads(path.read_text(encoding="utf-8"))
    document["metadata"]["orchestrate"]["depends_on"] = ["daily_revnue"]
    path.write_text(json.dumps(document, indent=1), encoding="utf-8")


async def test_problems_list_broken_and_checkpoint_models_and_the_fix_ignores_them(api: Any, jp_root_dir: Path) -> None:
    _break_report(jp_root_dir)
    (jp_root_dir / "dbt" / ".dbtignore").unlink()
    checkpoint = jp_root_dir / CHECKPOINT
    checkpoint.parent.mkdir(parents=True)
    checkpoint.write_text((jp_root_dir / "dbt/models/marts/daily_revenue.sql").read_text(), encoding="utf-8")
    # `dbt parse` outside the server (on a loaded machine it takes longer than the test client waits).
    validated = run_cli("validate", cwd=jp_root_dir)

    status, found = await api.get("problems")
    assert status == 200, found
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for problem in found["problems"]:
        by_kind.setdefault(problem["kind"], []).append(problem)
    assert found["count"] == len(found["problems"]) and not found["setup"]
    [broken] = by_kind["broken"]
    assert broken["node_id"] == "notebook.notebooks/daily_report"
    assert "did you mean 'daily_revenue'?" in broken["message"]
    assert broken["lab_path"] == REPORT and broken["node_kind"] == "notebook"
    [warning] = [item for item in by_kind["warning"] if "checkpoint" in item["message"]]
    assert warning["fix"] == "ignore_checkpoints" and warning["fix_label"] == "Add .ipynb_checkpoints/ to .dbtignore"
    assert "daily_revenue-checkpoint" in warning["message"]

    status, done = await api.post("problems/fix", {"fix": "ignore_checkpoints"})
    assert status == 200, done
    assert (jp_root_dir / "dbt" / ".dbtignore").read_text(encoding="utf-8") == ".ipynb_checkpoints/\n"
    status, again = await api.post("problems/fix", {"fix": "ignore_checkpoints"})  # idempotent
    assert status == 200 and "already ignores" in again["done"]
    assert (jp_root_dir / "dbt" / ".dbtignore").read_text(encoding="utf-8") == ".ipynb_checkpoints/\n"

    run_cli("graph", cwd=jp_root_dir)  # dbt parses again: .dbtignore changed
    status, found = await api.get("problems")
    assert not [item for item in found["problems"] if "checkpoint" in item["message"]]
    status, graph = await api.get("graph")
    assert not [node for node in graph["nodes"] if "checkpoint" in node["id"]]
    assert validated.returncode == 2  # validate refuses the broken notebook; the Problems view lists it


async def test_a_fix_no_plugin_offers_is_a_400(api: Any) -> None:
    status, answer = await api.post("problems/fix", {"fix": "rm -rf"})
    assert status == 400 and "no plugin of this project does the fix 'rm -rf'" in answer["message"]
    status, answer = await api.post("problems/fix", {"fix": "ignore_checkpoints", "also": 1})
    assert status == 400


async def test_a_folder_without_orchestrate_yaml_is_set_up_from_the_api(api: Any, jp_root_dir: Path) -> None:
    (jp_root_dir / "orchestrate.yaml").unlink()
    status, found = await api.get("problems")
    assert status == 200 and found["setup"] is True

    status, done = await api.post("setup")
    assert status == 200, done
    assert done["path"] == "orchestrate.yaml" and (jp_root_dir / "orchestrate.yaml").is_file()
    assert "dbt project: dbt" in done["notes"]
    assert done["nodes"]["notebook"] == 2 and done["nodes"]["model"] >= 1 and done["problem"] is None

    status, again = await api.post("setup")
    assert status == 400 and "already exists" in again["message"]
    status, found = await api.get("problems")
    assert found["setup"] is False


async def test_loading_says_whether_the_graph_is_being_built(api: Any) -> None:
    status, answer = await api.get("loading")
    assert status == 200 and answer == {"loading": False, "seconds": 0, "dbt": False}


FRESHNESS_SOURCES = """version: 2
sources:
  - name: raw
    schema: main
    freshness: {warn_after: {count: 1, period: day}}
    tables:
      - name: orders
        loaded_at_field: loaded_at
      - name: events
        identifier: orders
"""


async def test_freshness_rules_dbt_cannot_compute_are_warned_by_validate_and_listed(
    api: Any, jp_root_dir: Path
) -> None:
    """A freshness rule without loaded_at_field on DuckDB (no metadata freshness): a warning with its fix."""
    (jp_root_dir / "dbt/models/sources.yml").write_text(FRESHNESS_SOURCES, encoding="utf-8")
    validated = run_cli("validate", cwd=jp_root_dir)
    assert validated.returncode == 0, validated.stderr
    printed = validated.stdout + validated.stderr
    assert "freshness.source.shop.raw.events: dbt cannot compute the freshness of source 'raw.events'" in printed
    assert "the duckdb adapter has no metadata-based freshness" in printed
    assert "add `loaded_at_field: <timestamp column>` (or `loaded_at_query`)" in printed
    assert "models/sources.yml" in printed
    assert "source 'raw.orders'" not in printed  # it has a loaded_at_field: dbt computes it

    status, found = await api.get("problems")
    assert status == 200, found
    [warning] = [item for item in found["problems"] if "cannot compute the freshness" in item["message"]]
    assert warning["kind"] == "warning" and warning["severity"] == "warning"
    assert "raw.events" in warning["message"] and "loaded_at_field" in warning["message"]


def test_loading_says_dbt_parses_while_any_thread_runs_dbt_parse(tmp_path: Path) -> None:
    """Any build of the graph that parses (not only the first) reads as dbt parsing: the activity is the parse."""
    from jupyter_extension.server.backend import Backend
    from orchestrate_ext.activity import DBT_PARSE, doing

    backend = Backend(tmp_path, tmp_path)
    assert backend.loading() == {"loading": False, "seconds": 0, "dbt": False}
    with doing(DBT_PARSE):
        assert backend.loading() == {"loading": True, "seconds": 0, "dbt": True}
    assert backend.loading() == {"loading": False, "seconds": 0, "dbt": False}
