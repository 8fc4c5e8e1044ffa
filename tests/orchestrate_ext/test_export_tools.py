"""The exported example, checked by the real tools in virtual environments of their own (slow).

Airflow 3 + astronomer-cosmos + the papermill provider, and Dagster + dagster-dbt + dagstermill, pinned in
tests/export_tools.txt and built once into ~/.cache/orchestrate-ext-tests (both at once, the first time:
see tests/support/tool_venvs.py). The DAG's tasks and edges, and the asset graph, must be our graph: its
models, seeds, snapshots and notebooks, each dbt node with its tests, and the edges between them through
sources and tests.
"""

from __future__ import annotations

import json
import os
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path, PurePosixPath

import pytest

from orchestrate_ext.export.build import export_project
from orchestrate_ext.project import Project
from tests.support import tool_venvs

pytestmark = [pytest.mark.slow, pytest.mark.timeout(2400)]

PROBES = Path(__file__).resolve().parent.parent / "support" / "export_probes"
NIGHTLY = """
schedules:
  - name: nightly
    cron: "0 6 * * *"
    timezone: Europe/Berlin
    select: "+daily_revenue"
    parameters: {region: eu}
"""


def _with_schedule(shop: Path) -> None:
    config = shop / "orchestrate.yaml"
    config.write_text(config.read_text(encoding="utf-8") + NIGHTLY, encoding="utf-8")


@pytest.fixture(scope="session")
def tool_pythons() -> dict[str, Path]:
    """The Python of each tool environment, built in parallel when not cached yet."""
    with ThreadPoolExecutor(max_workers=2) as pool:
        built = dict(zip(("airflow", "dagster"), pool.map(tool_venvs.ensure, ("airflow", "dagster")), strict=True))
    return {section: tool_venvs.python_of(venv) for section, venv in built.items()}


def _units(project: Path) -> tuple[dict[str, str], set[tuple[str, str]]]:
    """Our graph as the tools show it: each model, seed, snapshot and notebook by its name there, and the
    edges between them (looking through sources and tests)."""
    graph = Project.load(project).graph
    names: dict[str, str] = {}
    for node_id, node in graph.nodes.items():
        if node.kind == "notebook":
            names[node_id] = PurePosixPath(node.path).stem
        elif node.kind == "dbt" and node.resource_type in ("model", "seed", "snapshot"):
            names[node_id] = node.name
    edges: set[tuple[str, str]] = set()
    for node_id, name in names.items():
        stack, seen = list(graph.parents[node_id]), set()
        while stack:
            parent = stack.pop()
            if parent in seen:
                continue
            seen.add(parent)
            if parent in names:
                edges.add((names[parent], name))
            else:
                stack.extend(graph.parents[parent])
    return names, edges


def _airflow_unit(task_id: str) -> str:
    """A cosmos task's dbt node name (``dbt.stg_orders.run``, ``dbt.customers_seed``), or a notebook's task."""
    if not task_id.startswith("dbt."):
        return task_id
    name = task_id.split(".")[1]
    for suffix in ("_seed", "_snapshot"):
        if name.endswith(suffix) and "." not in task_id[4:]:
            return name[: -len(suffix)]
    return name


def test_airflow_dagbag_loads_the_export_and_its_dag_is_our_graph(
    shop: Path, tmp_path: Path, tool_pythons: dict[str, Path]
) -> None:
    names, edges = _units(shop)
    _with_schedule(shop)
    dags = tmp_path / "dags"
    export_project(Project.load(shop), "airflow", dags)
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(tmp_path / "airflow_home"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__COSMOS__CACHE_DIR": str(tmp_path / "cosmos_cache"),
    }
    env.pop("PYTHONPATH", None)
    probe = subprocess.run(
        [str(tool_pythons["airflow"]), str(PROBES / "airflow_probe.py"), str(dags)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=600,
        check=False,
    )
    assert probe.returncode == 0, probe.stderr[-3000:]
    found = json.loads(probe.stdout.strip().splitlines()[-1])
    assert found["import_errors"] == {}
    assert list(found["dags"]) == ["shop", "shop__nightly"]
    dag = found["dags"]["shop"]
    assert {_airflow_unit(task) for task in dag["tasks"]} == set(names.values())
    drawn = {(_airflow_unit(a), _airflow_unit(b)) for a, b in dag["edges"]}
    assert {(a, b) for a, b in drawn if a != b} == edges
    # each dbt model's tests run right after it, inside its task group
    assert ["dbt.stg_orders.run", "dbt.stg_orders.test"] in dag["edges"]
    # the schedule's DAG runs its selection (cosmos selects the same dbt nodes by path)
    nightly = {_airflow_unit(task) for task in found["dags"]["shop__nightly"]["tasks"]}
    assert nightly == set(names.values()) - {"customers_snapshot", "daily_report"}


def test_dagster_validates_the_export_and_its_asset_graph_is_our_graph(
    shop: Path, tmp_path: Path, tool_pythons: dict[str, Path]
) -> None:
    names, edges = _units(shop)
    _with_schedule(shop)
    out = tmp_path / "defs"
    result = export_project(Project.load(shop), "dagster", out)
    env = {**os.environ}
    env.pop("PYTHONPATH", None)
    env.pop("DAGSTER_HOME", None)
    dagster = tool_pythons["dagster"].with_name("dagster")
    validate = subprocess.run(
        [str(dagster), "definitions", "validate", "-f", str(result.path)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=600,
        check=False,
    )
    assert validate.returncode == 0, (validate.stdout + validate.stderr)[-3000:]
    assert "Validation successful" in validate.stdout + validate.stderr
    probe = subprocess.run(
        [str(tool_pythons["dagster"]), str(PROBES / "dagster_probe.py"), str(result.path)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=600,
        check=False,
    )
    assert probe.returncode == 0, probe.stderr[-3000:]
    found = json.loads(probe.stdout.strip().splitlines()[-1])
    assert set(found["assets"]) == set(names.values())
    assert {(parent, key) for key, parents in found["assets"].items() for parent in parents} == edges
    assert found["jobs"] == ["shop", "shop__nightly"]
    assert found["schedules"] == {"shop__nightly": ["0 6 * * *", "Europe/Berlin"]}
