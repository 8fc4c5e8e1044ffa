"""``orchestrate plan --only-changed`` where dbt checks source freshness: the plan equals the run that follows.

The project of :mod:`tests.dbt_adapter.test_dbt_reuse` (a source with a freshness rule and a
``loaded_at_field``): the plan asks dbt for the sources' newest rows as the run does, and still
writes neither the state store nor dbt's ``run_results.json``.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import run_cli
from tests.dbt_adapter.test_dbt_reuse import FRESHNESS, _warehouse, mini, parsed  # noqa: F401 (fixtures)

pytestmark = pytest.mark.slow

DAY = ("--only-changed", "--logical-date", "2024-01-31")


def _files(root: Path) -> list[tuple[int, str] | None]:
    paths = [root / ".orchestrate" / "state.db", root / "dbt" / "target" / "run_results.json"]
    return [(p.stat().st_mtime_ns, hashlib.sha256(p.read_bytes()).hexdigest()) if p.exists() else None for p in paths]


def plan(root: Path) -> dict[str, tuple[str, str | None]]:
    before = _files(root)
    result = run_cli("plan", "--json", *DAY, cwd=root)
    assert result.returncode == 0, result.stderr
    assert _files(root) == before, "plan wrote the store or dbt's run results"
    return {node["id"]: (node["action"], node["reuses_run"]) for node in json.loads(result.stdout)}


def run(root: Path) -> dict[str, tuple[str, str | None]]:
    result = run_cli("run", "--json", *DAY, cwd=root)
    assert result.returncode == 0, result.stderr
    nodes: list[dict[str, Any]] = json.loads(result.stdout)["nodes"]
    return {
        node["id"]: ("reused", node["reused_from"]) if node["status"] == "reused" else ("run", None) for node in nodes
    }


def test_a_plan_checks_source_freshness_as_the_run_does_and_equals_it(mini: Path) -> None:  # noqa: F811
    first = plan(mini)
    assert {action for action, _ in first.values()} == {"run"}
    assert first == run(mini)

    _warehouse(mini, "insert into main.events values (2, 4.0, timestamp '2024-02-01 09:00:00')")
    new_rows = plan(mini)
    ran = {node_id for node_id, (action, _) in new_rows.items() if action == "run"}
    assert ran == {FRESHNESS, "model.mini.stg_events", "model.mini.customer_totals"}, "what reads the new rows"
    assert {action for node_id, (action, _) in new_rows.items() if node_id not in ran} == {"reused"}
    assert new_rows == run(mini)
