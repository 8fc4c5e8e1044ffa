"""`orchestrate run` gives exactly the nodes and outcomes of `dbt build`, on real dbt projects of each shape.

The kitchen project (tests/fixtures/dbt_kitchen) has one of every shape: seeds,
table, ephemeral and Python models, a model named like a folder, a snapshot,
singular and generic tests, a multi-parent `relationships` test of severity
warn that finds a row, an `accepted_values` test that fails, a unit test that
passes and one that fails, a semantic model, a metric, a saved query with an
export, two exposures and an analysis. It is parsed once per session.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from tests.support.shared import prepared_once

pytestmark = pytest.mark.slow

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "dbt_kitchen"
BIN = Path(sys.executable).parent
DBT_TO_ORCHESTRATE = {
    "success": "success",
    "pass": "success",
    "no-op": "success",
    "warn": "warned",
    "fail": "failed",
    "error": "failed",
    "skipped": "upstream_failed",
}
_GENERATED = shutil.ignore_patterns("logs", "*.duckdb", "*.duckdb.wal", ".orchestrate", ".user.yml")


def command(*argv: str, cwd: Path, env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environ = {**os.environ, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false", **(env or {})}
    return subprocess.run(argv, cwd=cwd, env=environ, capture_output=True, text=True, timeout=600, check=False)


def orchestrate(*args: str, cwd: Path, env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return command(str(BIN / "orchestrate"), *args, cwd=cwd, env=env)


def dbt(*args: str, cwd: Path, env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return command(str(BIN / "dbt"), *args, cwd=cwd, env=env)


def run_json(*args: str, cwd: Path, env: Mapping[str, str] | None = None) -> dict[str, Any]:
    result = orchestrate("run", "--json", *args, cwd=cwd, env=env)
    assert result.returncode in (0, 1), result.stderr
    document: dict[str, Any] = json.loads(result.stdout)
    return document


def outcomes(document: dict[str, Any]) -> dict[str, str]:
    return {node["id"]: node["status"] for node in document["nodes"]}


def dbt_outcomes(run_results: Path) -> dict[str, str]:
    """``run_results.json`` with dbt's statuses mapped to orchestrate-ext's."""
    results = json.loads(run_results.read_text())["results"]
    return {result["unique_id"]: DBT_TO_ORCHESTRATE[result["status"]] for result in results}


def dbt_log_argv(workspace: Path, kind: str = "build") -> list[str]:
    """The command line of each dbt invocation of the newest run, as its batch logs recorded it."""
    runs = sorted((workspace / ".orchestrate" / "runs").iterdir())
    return [log.read_text().splitlines()[0] for log in sorted(runs[-1].glob(f"logs/dbt-{kind}.*.jsonl"))]


@pytest.fixture(scope="session")
def kitchen_parsed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The kitchen workspace (orchestrate.yaml + dbt/), parsed once per test run (shared by xdist workers)."""

    def build(root: Path) -> None:
        shutil.copytree(FIXTURE, root / "dbt", ignore=_GENERATED)
        (root / "orchestrate.yaml").write_text("dbt:\n  project_dir: dbt\n")
        parsed = dbt("parse", cwd=root / "dbt")
        assert parsed.returncode == 0, parsed.stdout

    return prepared_once(tmp_path_factory, "kitchen", build)


@pytest.fixture
def kitchen(kitchen_parsed: Path, tmp_path: Path) -> Path:
    """A fresh copy of the parsed kitchen (its manifest stays newer than its files)."""
    return Path(shutil.copytree(kitchen_parsed, tmp_path / "kitchen"))


@pytest.fixture(scope="module")
def parity(
    kitchen_parsed: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[dict[str, str], dict[str, Any], Path]:
    """`dbt build` on one copy, `orchestrate run` on another."""
    plain = Path(shutil.copytree(kitchen_parsed, tmp_path_factory.mktemp("plain") / "kitchen"))
    built = dbt("build", cwd=plain / "dbt")
    assert built.returncode == 1, built.stdout  # the failing tests fail the build
    ours = Path(shutil.copytree(kitchen_parsed, tmp_path_factory.mktemp("ours") / "kitchen"))
    document = run_json(cwd=ours)
    return dbt_outcomes(plain / "dbt" / "target" / "run_results.json"), document, ours


def test_orchestrate_run_has_exactly_the_nodes_and_outcomes_of_dbt_build(
    parity: tuple[dict[str, str], dict[str, Any], Path],
) -> None:
    expected, document, _ = parity
    assert outcomes(document) == expected
    assert document["status"] == "failed" and document["warnings"] == 1
    shapes = {
        "unit_test.kitchen.order_totals.totals_sum": "upstream_failed",  # its model waits for a failed test
        "unit_test.kitchen.shouting.shouting_is_lowercase": "failed",
        "model.kitchen.shouting": "upstream_failed",
        "model.kitchen.after_shouting": "upstream_failed",
        "saved_query.kitchen.revenue_by_day": "success",
        "exposure.kitchen.orders_dashboard": "upstream_failed",
        "exposure.kitchen.customer_app": "success",
        "model.kitchen.py_model": "success",
        "model.kitchen.uses_eph": "success",
        "snapshot.kitchen.customers_snapshot": "success",
    }
    assert {node_id: outcomes(document)[node_id] for node_id in shapes} == shapes
    warned = next(node for node in document["nodes"] if node["status"] == "warned")
    assert warned["id"].startswith("test.kitchen.relationships_orders_customer_id")
    assert warned["error"] == "Got 1 result, configured to warn if != 0"
    failed = {node["id"]: node["error"] for node in document["nodes"] if node["status"] == "failed"}
    assert "Got 1 result, configured to fail if != 0" in failed.values()
    assert "model.kitchen.eph" not in outcomes(document)  # ephemeral: compiled into uses_eph, never run


def test_a_whole_project_goes_to_dbt_without_a_selection(parity: tuple[dict[str, str], dict[str, Any], Path]) -> None:
    _, _, workspace = parity
    [argv] = dbt_log_argv(workspace)
    assert " build " in argv and "--select" not in argv and "--exclude" not in argv
    assert "--log-level info" in argv


def test_a_model_named_like_a_folder_runs_alone(kitchen: Path) -> None:
    document = run_json("--select", "+orders", cwd=kitchen)
    assert outcomes(document) == {"seed.kitchen.raw_orders": "success", "model.kitchen.orders": "success"}
    ran = json.loads((kitchen / "dbt" / "target" / "run_results.json").read_text())["results"]
    assert sorted(result["unique_id"] for result in ran) == ["model.kitchen.orders", "seed.kitchen.raw_orders"]
    [argv] = dbt_log_argv(kitchen)
    assert "--select fqn:kitchen.orders,path:models/orders.sql fqn:kitchen.raw_orders " in argv


def test_a_unit_test_selected_without_its_model_runs(kitchen: Path) -> None:
    document = run_json("--select", "+orders totals_sum", cwd=kitchen)
    assert outcomes(document)["unit_test.kitchen.order_totals.totals_sum"] == "success"
    assert "model.kitchen.order_totals" not in outcomes(document)
    [argv] = dbt_log_argv(kitchen, "test")
    assert "fqn:kitchen.order_totals.totals_sum" in argv


def test_warn_blocks_turns_warnings_into_failures(kitchen: Path) -> None:
    assert dbt("seed", cwd=kitchen / "dbt").returncode == 0
    selection = ["--select", "customers orders relationships_orders_customer_id__id__ref_customers_ after_orders"]
    found = outcomes(run_json(*selection, cwd=kitchen))
    test_id = next(node_id for node_id in found if node_id.startswith("test.kitchen.relationships"))
    assert (found[test_id], found["model.kitchen.after_orders"]) == ("warned", "success")
    (kitchen / "orchestrate.yaml").write_text("dbt:\n  project_dir: dbt\n  warn_blocks: true\n")
    document = run_json(*selection, cwd=kitchen)
    found = outcomes(document)
    assert (found[test_id], found["model.kitchen.after_orders"]) == ("failed", "upstream_failed")
    error = next(node["error"] for node in document["nodes"] if node["id"] == test_id)
    assert error.startswith("Got 1 result, configured to fail if != 0") and "warn_blocks" in error


# -- small projects built in tmp_path, one shape each

SMALL_MODELS = {
    "seeds/raw_events.csv": "id,loaded_at\n1,2020-01-01 00:00:00\n2,2020-01-02 00:00:00\n",
    "models/events.sql": "select * from {{ ref('raw_events') }}",
    "models/schema.yml": (
        "version: 2\nmodels:\n  - name: events\n    columns:\n      - name: id\n        data_tests: [unique]\n"
    ),
}


def small_project(folder: Path, project_extra: str = "", profile: str | None = None) -> Path:
    folder.mkdir(parents=True)
    (folder / "dbt_project.yml").write_text(f"name: small\nprofile: small\nversion: '1.0'\n{project_extra}")
    if profile is not None:
        (folder / "profiles.yml").write_text(profile)
    for relative, text in SMALL_MODELS.items():
        (folder / relative).parent.mkdir(parents=True, exist_ok=True)
        (folder / relative).write_text(text)
    return folder


def working_profile(database: Path) -> str:
    return f"small:\n  target: dev\n  outputs:\n    dev: {{type: duckdb, path: '{database}', threads: 1}}\n"


def test_dbt_profiles_dir_wins_over_a_ci_profile_in_the_project(tmp_path: Path) -> None:
    ci_profile = (
        "small:\n  target: ci\n  outputs:\n    ci:\n      type: duckdb\n      path: \"{{ env_var('CI_DB') }}\"\n"
    )
    project = small_project(tmp_path / "work", profile=ci_profile)
    real = tmp_path / "home_profiles"
    real.mkdir()
    (real / "profiles.yml").write_text(working_profile(tmp_path / "real.duckdb"))
    env = {"DBT_PROFILES_DIR": str(real)}
    init = orchestrate("init", cwd=project, env=env)
    assert init.returncode == 0, init.stderr
    assert "profiles_dir:" not in (project / "orchestrate.yaml").read_text().split("#")[0]
    assert "profile 'small'" in init.stdout and "(from DBT_PROFILES_DIR)" in init.stdout
    assert ".ipynb_checkpoints/" in (project / ".dbtignore").read_text()
    document = run_json(cwd=project, env=env)
    assert document["status"] == "success", document
    built = dbt("build", cwd=project, env=env)
    assert built.returncode == 0, built.stdout
    assert outcomes(document) == dbt_outcomes(project / "target" / "run_results.json")
    assert orchestrate("run", cwd=project).returncode == 2  # without DBT_PROFILES_DIR: the CI profile needs CI_DB


def test_a_target_path_outside_the_project(tmp_path: Path) -> None:
    project = small_project(
        tmp_path / "work" / "dbt", "target-path: ../artifacts\n", working_profile(tmp_path / "db.duckdb")
    )
    (tmp_path / "work" / "orchestrate.yaml").write_text("dbt:\n  project_dir: dbt\n")
    validate = orchestrate("validate", cwd=tmp_path / "work")
    assert validate.returncode == 0, validate.stderr
    manifest = tmp_path / "work" / "artifacts" / "manifest.json"
    assert f"dbt manifest: {manifest} (target path from dbt_project.yml target-path)" in validate.stdout
    assert manifest.is_file() and not (project / "target").exists()
    document = run_json(cwd=tmp_path / "work")
    assert document["status"] == "success"
    assert dbt("build", cwd=project).returncode == 0
    assert outcomes(document) == dbt_outcomes(tmp_path / "work" / "artifacts" / "run_results.json")


FRESHNESS = """version: 2
sources:
  - name: raw
    schema: main
    tables:
      - name: stale
        identifier: raw_events
        loaded_at_field: loaded_at
        freshness: {error_after: {count: 1, period: day}}
      - name: late
        identifier: raw_events
        loaded_at_field: loaded_at
        freshness: {warn_after: {count: 1, period: day}}
"""


def test_source_freshness_gates_what_reads_the_source(tmp_path: Path) -> None:
    project = small_project(tmp_path / "work", profile=working_profile(tmp_path / "db.duckdb"))
    (project / "models" / "sources.yml").write_text(FRESHNESS)
    (project / "models" / "from_stale.sql").write_text("select * from {{ source('raw', 'stale') }}")
    (project / "models" / "from_late.sql").write_text("select * from {{ source('raw', 'late') }}")
    (project / "orchestrate.yaml").write_text("dbt:\n  project_dir: .\n")
    assert dbt("seed", cwd=project).returncode == 0  # the table the sources point at
    document = run_json("--select", "+from_stale +from_late", cwd=project)
    found = outcomes(document)
    assert found == {
        "freshness.source.small.raw.stale": "failed",
        "freshness.source.small.raw.late": "warned",
        "model.small.from_stale": "upstream_failed",
        "model.small.from_late": "success",
    }
    checked = dbt("source", "freshness", cwd=project)
    assert checked.returncode == 1
    results = json.loads((project / "target" / "sources.json").read_text())["results"]
    expected = {f"freshness.{result['unique_id']}": DBT_TO_ORCHESTRATE[result["status"]] for result in results}
    assert {node_id: found[node_id] for node_id in expected} == expected
    stale = next(node for node in document["nodes"] if node["id"] == "freshness.source.small.raw.stale")
    assert "error after 1 day" in stale["error"]
