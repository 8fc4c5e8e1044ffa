"""``orchestrate plan`` on the example project: it equals what the following run does, and changes nothing.

The slow test drives real dbt-core + dbt-duckdb and papermill through the installed command: a plan
before the first run, the run, an edit of one model, an ``--only-changed`` plan and the
``--only-changed`` run. The others load the example in-process and run nothing.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from orchestrate_ext.cli import main
from tests.conftest import run_cli

DAY = ("--logical-date", "2024-01-31")
REPORT = "notebook.notebooks/daily_report"
SUMMARY = "notebook.notebooks/summary"


def invoke(project: Path, *args: str) -> Result:
    return CliRunner().invoke(main, [*args, "--project", str(project)])


def fingerprint(path: Path) -> tuple[int, str] | None:
    """A file's modification time and content hash (None when it does not exist)."""
    if not path.exists():
        return None
    return path.stat().st_mtime_ns, hashlib.sha256(path.read_bytes()).hexdigest()


def plan_json(project: Path, *args: str) -> dict[str, tuple[str, str | None]]:
    """``plan --json``: each node's action and the run it reuses, with the state files checked untouched."""
    watched = [project / ".orchestrate" / "state.db", project / "dbt" / "target" / "run_results.json"]
    before = [fingerprint(path) for path in watched]
    result = run_cli("plan", "--json", *DAY, *args, cwd=project)
    assert result.returncode == 0, result.stderr
    assert [fingerprint(path) for path in watched] == before, "plan wrote the store or dbt's run results"
    return {node["id"]: (node["action"], node["reuses_run"]) for node in json.loads(result.stdout)}


def run_json(project: Path, *args: str) -> dict[str, Any]:
    result = run_cli("run", "--json", *DAY, *args, cwd=project)
    assert result.returncode == 0, result.stderr
    document: dict[str, Any] = json.loads(result.stdout)
    return document


def what_ran(document: dict[str, Any]) -> dict[str, tuple[str, str | None]]:
    """The run's record as a plan says it: ``run`` for a node that ran and succeeded, ``reused`` of run X."""
    found = {}
    for node in document["nodes"]:
        assert node["status"] in ("success", "reused"), node
        found[node["id"]] = ("reused", node["reused_from"]) if node["status"] == "reused" else ("run", None)
    return found


@pytest.mark.slow
def test_plans_equal_the_runs_that_follow_and_write_nothing(shop: Path) -> None:
    planned = plan_json(shop)
    assert not (shop / ".orchestrate").exists(), "a plan before the first run creates no store"
    assert {action for action, _ in planned.values()} == {"run"}
    first = run_json(shop)
    assert what_ran(first) == planned

    model = shop / "dbt" / "models" / "staging" / "stg_products.sql"
    model.write_text(model.read_text() + "\n-- an edit: the model's code changed\n")
    planned = plan_json(shop, "--only-changed")
    second = run_json(shop, "--only-changed")
    assert what_ran(second) == planned
    actions = dict(planned.values())
    assert set(actions) == {"run", "reused"}, "the edit reruns part of the pipeline and reuses the rest"
    assert planned["model.shop.stg_products"] == ("run", None)
    assert planned["notebook.notebooks/ingest_orders"] == ("reused", first["run_id"])
    assert planned[REPORT] == ("run", None), "the report reads daily_revenue, which reads stg_products"

    assert plan_json(shop, "--only-changed") == {node_id: ("reused", first["run_id"]) for node_id in planned} | {
        node_id: ("reused", second["run_id"]) for node_id, (action, _) in planned.items() if action == "run"
    }, "the next plan reuses each result from the run that made it"


@pytest.mark.slow  # a dbt-parsed project (a real `dbt parse`), `orchestrate` processes
def test_a_broken_notebook_and_what_reads_it_are_left_out_with_the_reason(shop: Path) -> None:
    report = shop / "notebooks" / "daily_report.ipynb"
    notebook = json.loads(report.read_text())
    notebook["metadata"]["orchestrate"]["depends_on"] = ["daily_revenu"]
    report.write_text(json.dumps(notebook))
    notebook["metadata"]["orchestrate"] = {"depends_on": ["notebooks/daily_report.ipynb"]}
    (shop / "notebooks" / "summary.ipynb").write_text(json.dumps(notebook))

    result = invoke(shop, "plan", "--json", *DAY)
    assert result.exit_code == 0, result.output
    nodes = {node["id"]: node for node in json.loads(result.output)}
    assert nodes[REPORT]["action"] == nodes[SUMMARY]["action"] == "left_out"
    assert "depends on 'daily_revenu'" in nodes[REPORT]["reason"]
    assert "did you mean 'daily_revenue'?" in nodes[REPORT]["reason"]
    assert nodes[SUMMARY]["reason"] == f"it waits for {REPORT}, which is broken"
    assert nodes["model.shop.daily_revenue"]["action"] == "run"
    assert len(nodes) == 39, "the 37 other nodes still run"

    text = invoke(shop, "plan", *DAY).output
    assert f"left out  {REPORT}" in text
    assert "37 run, 0 reused, 2 left out (a full run for 2024-01-31" in text.splitlines()[-1]
    assert not (shop / ".orchestrate").exists()


@pytest.mark.slow  # a dbt-parsed project (a real `dbt parse`), `orchestrate` processes
def test_a_selection_plans_only_its_nodes(shop: Path) -> None:
    by_argument = invoke(shop, "plan", "+daily_revenue", "--json", *DAY)
    by_option = invoke(shop, "plan", "--select", "+daily_revenue", "--json", *DAY)
    assert by_argument.exit_code == 0, by_argument.output
    assert by_argument.output == by_option.output
    ids = {node["id"] for node in json.loads(by_argument.output)}
    assert "model.shop.daily_revenue" in ids and "notebook.notebooks/ingest_orders" in ids
    assert REPORT not in ids


@pytest.mark.slow  # a dbt-parsed project (a real `dbt parse`), `orchestrate` processes
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("daily_revenu",), "selector 'daily_revenu': no node is called 'daily_revenu'; did you mean 'daily_revenue'?"),
        (("--logical-date", "31/01/2024"), "--logical-date:"),
        (("a", "--select", "b"), "give the selection once"),
        (("--param", "1x=2"), "--param '1x=2'"),
    ],
)
def test_bad_input_exits_2_and_says_what_is_wrong(shop: Path, args: tuple[str, ...], message: str) -> None:
    result = invoke(shop, "plan", *args)
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert not (shop / ".orchestrate").exists()
