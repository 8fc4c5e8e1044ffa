"""A dbt saved query's exports are listed on its node in `orchestrate graph --format json` (a real manifest)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.dbt_adapter.test_build_parity import kitchen, kitchen_parsed, orchestrate

pytestmark = pytest.mark.slow
__all__ = ["kitchen", "kitchen_parsed"]  # the fixtures, shared with the build parity tests


def test_graph_json_lists_a_saved_querys_exports(kitchen: Path) -> None:
    result = orchestrate("graph", "--format", "json", cwd=kitchen)
    assert result.returncode == 0, result.stderr
    nodes = {node["id"]: node for node in json.loads(result.stdout)["nodes"]}
    saved = nodes["saved_query.kitchen.revenue_by_day"]
    assert saved["details"] == {
        "exports": [{"name": "revenue_export", "export_as": "table", "schema": "main", "alias": "revenue_export"}]
    }
    assert "details" not in nodes["model.kitchen.orders"]
