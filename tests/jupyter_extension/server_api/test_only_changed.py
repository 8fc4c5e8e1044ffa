"""``POST /runs`` with ``only_changed``: state-aware runs from the Lab, on a real server and real notebooks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.slow  # a real Jupyter server (and a dbt-parsed project)

INGEST = "notebooks/ingest_orders"
INGEST_ID = "notebook.notebooks/ingest_orders"
DAY = "2024-01-31"


def _default_only_changed(root: Path) -> None:
    config = root / "orchestrate.yaml"
    text = config.read_text(encoding="utf-8")
    assert "defaults:\n" in text
    config.write_text(text.replace("defaults:\n", "defaults:\n  only_changed: true\n"), encoding="utf-8")


async def _run(api: Any, body: dict[str, Any]) -> dict[str, Any]:
    status, run = await api.post("runs", {"select": INGEST, "logical_date": DAY, **body})
    assert status == 201, run
    finished: dict[str, Any] = await api.wait_for_run(run["run_id"])
    assert finished["status"] == "success", finished
    return finished


@pytest.mark.parametrize("value", ["yes", 1, 0, [], {"on": True}])
async def test_a_non_boolean_only_changed_is_a_400_naming_the_key(api: Any, value: object) -> None:
    status, body = await api.post("runs", {"select": INGEST, "only_changed": value})
    assert status == 400, body
    assert body["field"] == "only_changed"
    assert body["message"].startswith("request body: 'only_changed' must be true or false, not "), body
    status, page = await api.get("runs")
    assert (status, page["total"]) == (200, 0), "a refused request starts no run"


async def test_info_tells_the_projects_default(api: Any, jp_root_dir: Path) -> None:
    status, info = await api.get("info")
    assert (status, info["only_changed_default"]) == (200, False)


async def test_info_tells_a_default_of_true(api: Any, jp_root_dir: Path) -> None:
    _default_only_changed(jp_root_dir)
    status, info = await api.get("info")
    assert (status, info["only_changed_default"]) == (200, True)


@pytest.mark.slow
async def test_a_second_only_changed_run_reuses_the_unchanged_notebook(api: Any) -> None:
    first = await _run(api, {"only_changed": True})
    assert first["only_changed"] is True
    [node] = first["nodes"]
    assert (node["status"], node["reason"], node["reused_from"]) == ("success", "no earlier success", None)
    assert node["fingerprint"]

    second = await _run(api, {"only_changed": True})
    assert second["only_changed"] is True
    [node] = second["nodes"]
    assert node["status"] == "reused", node
    assert node["reason"] == f"code unchanged, inputs unchanged since {first['run_id']}"
    assert node["reused_from"] == first["run_id"]
    assert not [attempt for attempt in second["attempts"] if attempt["node_id"] == INGEST_ID], "a reused node never ran"

    status, page = await api.get("runs")
    assert status == 200, page
    counts = {run["run_id"]: (run["only_changed"], run["reused"]) for run in page["runs"]}
    assert counts == {first["run_id"]: (True, 0), second["run_id"]: (True, 1)}

    everything = await _run(api, {"only_changed": False})
    assert everything["only_changed"] is False
    assert [node["status"] for node in everything["nodes"]] == ["success"], "only_changed: false runs it again"


@pytest.mark.slow
async def test_without_the_key_the_projects_default_applies(api: Any, jp_root_dir: Path) -> None:
    _default_only_changed(jp_root_dir)
    first = await _run(api, {})
    second = await _run(api, {})
    assert (first["only_changed"], second["only_changed"]) == (True, True)
    [node] = second["nodes"]
    assert (node["status"], node["reused_from"]) == ("reused", first["run_id"])
