"""Hostile requests get a 400 that names the problem, never a 500, and change nothing.

Regression tests for issue 10: item 4 (time zones that are tzdata folders, or absurdly long), item 5
(notebook metadata that is a list, path names over 255 bytes, deeply nested JSON bodies) and the POST
schedules half of item 11 (`retries: 10**30`, unknown keys inside alert routes).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

REPORT = "notebooks/daily_report.ipynb"


def snapshot(root: Path) -> dict[Path, bytes]:
    """Every notebook's bytes and whether the store exists: what a refused request must leave alone."""
    files = {path: path.read_bytes() for path in sorted(root.rglob("*.ipynb")) if ".orchestrate" not in path.parts}
    files[root / ".orchestrate"] = b"exists" if (root / ".orchestrate").exists() else b""
    return files


# -- item 4: time zones


@pytest.mark.parametrize(
    ("timezone", "message"),
    [
        ("Europe", "'Europe' is a region, not a time zone; use one of its zones, e.g. 'Europe/"),
        ("A" * 300, "is not a time zone name"),
        ("America/", "is not a time zone name"),
        ("../../../../etc/passwd", "is not a time zone name"),
        ("Etc/..", "is not a time zone name"),
        ("tzdata.zi", "is not a time zone name"),
        ("Europe/Ber lin", "is not a time zone name"),
    ],
)
async def test_bad_time_zones_are_400(api: Any, jp_root_dir: Path, timezone: str, message: str) -> None:
    before = snapshot(jp_root_dir)
    status, body = await api.get("cron", cron="0 7 * * *", timezone=timezone)
    assert status == 400 and message in body["message"], body
    status, body = await api.post("schedules", {"notebook": REPORT, "cron": "0 7 * * *", "timezone": timezone})
    assert status == 400 and message in body["message"], body
    assert snapshot(jp_root_dir) == before


# -- item 5: notebooks that are not shaped like notebooks, long paths, nested bodies


@pytest.mark.parametrize("metadata", [["orchestrate", {"retries": 1}], "text", 7, {"orchestrate": ["schedule"]}])
async def test_a_notebook_whose_metadata_is_not_a_mapping_is_400(api: Any, jp_root_dir: Path, metadata: Any) -> None:
    path = jp_root_dir / "notebooks" / "odd.ipynb"
    document = json.loads((jp_root_dir / REPORT).read_text())
    document["metadata"] = metadata
    path.write_text(json.dumps(document))
    before = snapshot(jp_root_dir)
    for status, body in (
        await api.get("notebook", path="notebooks/odd.ipynb"),
        await api.post("schedules", {"notebook": "notebooks/odd.ipynb", "cron": "0 7 * * *"}),
        await api.delete("schedules", notebook="notebooks/odd.ipynb"),
    ):
        assert status == 400, body
        assert "notebooks/odd.ipynb" in body["message"] and "must be a mapping" in body["message"], body
    assert snapshot(jp_root_dir) == before
    status, body = await api.get("nodes")  # the rest of the project stays usable; the notebook says what is wrong
    assert status == 200, body
    [odd] = [node for node in body["nodes"] if node["id"] == "notebook.notebooks/odd"]
    assert "must be a mapping" in odd["problem"], odd


@pytest.mark.parametrize(
    "path",
    [
        "x" * 256 + ".ipynb",
        "notebooks/" + "é" * 130 + ".ipynb",  # 260 bytes in UTF-8
        "/".join(["folder"] * 700) + "/a.ipynb",
    ],
)
async def test_path_names_over_the_file_system_limits_are_400(api: Any, jp_root_dir: Path, path: str) -> None:
    before = snapshot(jp_root_dir)
    for status, body in (
        await api.get("notebook", path=path),
        await api.post("schedules", {"notebook": path, "cron": "0 7 * * *"}),
        await api.delete("schedules", notebook=path),
    ):
        assert status == 400, body
        assert "longer than" in body["message"] and "bytes" in body["message"], body
    assert snapshot(jp_root_dir) == before


HOSTILE_BODIES: list[tuple[str | bytes, str]] = [
    ('{"notebook": ' + "[" * 100_000 + "]" * 100_000 + "}", "nested too deeply"),
    ('{"parameters": {"a": ' + "[" * 40 + "]" * 40 + "}}", "nested deeper than 32 levels"),
    ('{"retries": ' + "9" * 5000 + "}", "an integer has 5000 digits"),
    (b'{"owner": "J\xfcrgen"}', "not UTF-8 text"),
    ("{" + ", ".join(f'"k{i}": 0' for i in range(30_000)) + "}", "holds more than 20,000 values"),
    ('{"select": "' + "x" * (1024 * 1024) + '"}', "larger than 1 MiB"),
]


async def test_hostile_bodies_are_400_on_every_route_that_takes_one(api: Any, jp_root_dir: Path) -> None:
    before = snapshot(jp_root_dir)
    for route in ("schedules", "runs", "schedules/pause", "schedules/resume"):
        for body, message in HOSTILE_BODIES:
            status, answer = await api.post(route, body)
            assert status == 400, (route, message, answer)
            assert answer["message"].startswith("the request body:") and message in answer["message"], answer
    assert snapshot(jp_root_dir) == before


# -- item 11: the POST schedules body is strict and bounded


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"retries": 10**30}, "request body: key 'retries': Input should be less than or equal to 100"),
        ({"retries": -1}, "request body: key 'retries': Input should be greater than or equal to 0"),
        ({"retries": True}, "request body: key 'retries'"),
        ({"timeout": 10**20}, "request body: key 'timeout': Value error, duration"),
        ({"timeout": "forever"}, "request body: key 'timeout'"),
        ({"alerts": [{"slack": "#data", "chanel": "#x"}]}, "request body: unknown key 'alerts.0.chanel'"),
        ({"alerts": [{"slack": "#data"}, {"email": ["a@example.com"], "to": "b"}]}, "unknown key 'alerts.1.to'"),
        ({"alerts": [{"slack": ["#a", "#b"]}]}, "request body: key 'alerts.0.slack'"),
        ({"alerts": {"slack": "#data"}}, "request body: key 'alerts'"),
    ],
)
async def test_schedule_bodies_are_bounded_and_strict(
    api: Any, jp_root_dir: Path, change: dict[str, Any], message: str
) -> None:
    before = snapshot(jp_root_dir)
    status, body = await api.post("schedules", {"notebook": REPORT, "cron": "0 7 * * *", **change})
    assert status == 400, body
    assert message in body["message"], body
    assert snapshot(jp_root_dir) == before


async def test_a_valid_alert_route_is_still_saved(api: Any, jp_root_dir: Path) -> None:
    route = {"slack": "#data", "email": "ana@example.com", "on": ["failure"]}
    status, saved = await api.post("schedules", {"notebook": REPORT, "alerts": [route], "retries": 100})
    assert status == 200, saved
    metadata = json.loads((jp_root_dir / REPORT).read_text())["metadata"]["orchestrate"]
    assert metadata["alerts"] == [route] and metadata["retries"] == 100


# -- issue 18: logical dates no view can show


@pytest.mark.parametrize("logical_date", ["0001-01-01", "9999-12-31", "1899-12-31T23:00:00Z", "0001-01-01T00:00+05:00"])
async def test_a_logical_date_outside_the_accepted_years_is_400(api: Any, jp_root_dir: Path, logical_date: str) -> None:
    before = snapshot(jp_root_dir)
    status, body = await api.post("runs", {"select": REPORT, "logical_date": logical_date})
    assert status == 400, body
    assert f"logical_date: '{logical_date}' is outside" in body["message"] and "years 1900 to 2999" in body["message"]
    assert snapshot(jp_root_dir) == before


# -- issue 18: numbers beyond the store, unknown keys in pause/resume, GETs that would create the store


@pytest.mark.parametrize(
    ("route", "query"),
    [
        ("runs", {"offset": "9" * 31}),
        ("runs", {"offset": str(2**63)}),
        ("runs", {"limit": "1" + "0" * 30}),
        ("ticks", {"limit": "-" + "9" * 31}),
    ],
)
async def test_numbers_beyond_the_store_are_400(api: Any, jp_root_dir: Path, route: str, query: dict[str, str]) -> None:
    before = snapshot(jp_root_dir)
    status, body = await api.get(route, **query)
    assert status == 400, body
    ((name, value),) = query.items()
    assert f"the query parameter '{name}' is {value}" in body["message"] or f"{name} {value}" in body["message"], body
    assert "use" in body["message"]
    assert snapshot(jp_root_dir) == before


async def test_the_largest_offset_the_store_holds_is_an_empty_page(api: Any) -> None:
    status, body = await api.get("runs", offset=str(2**63 - 1))
    assert status == 200, body
    assert body["runs"] == [] and body["offset"] == 2**63 - 1


@pytest.mark.parametrize("action", ["pause", "resume"])
async def test_unknown_keys_in_pause_and_resume_bodies_are_400(api: Any, jp_root_dir: Path, action: str) -> None:
    status, saved = await api.post("schedules", {"notebook": REPORT, "cron": "0 7 * * *", "timezone": "UTC"})
    assert status == 200, saved
    if action == "resume":
        assert (await api.post("schedules/pause", {"schedule": "notebooks/daily_report"}))[0] == 200
    before = await api.get("schedules")
    status, body = await api.post(f"schedules/{action}", {"schedule": "notebooks/daily_report", "until": "monday"})
    assert status == 400, body
    assert body["message"] == "request body: unknown key 'until'; this route takes only 'schedule'", body
    assert await api.get("schedules") == before


READ_ONLY_GETS = [
    ("runs", {}),
    ("runs/r1", {}),
    ("runs/r1/logs", {"node": "x"}),
    ("runs/r1/output", {"node": "x"}),
    ("nodes", {}),
    ("nodes/history", {"node": "model.shop.stg_orders"}),
    ("schedules", {}),
    ("scheduler", {}),
    ("ticks", {}),
]


async def test_read_only_gets_never_create_the_store(api: Any, jp_root_dir: Path) -> None:
    assert not (jp_root_dir / ".orchestrate").exists()
    for route, query in READ_ONLY_GETS:
        status, body = await api.get(route, **query)
        assert status in (200, 404), (route, body)
        assert not (jp_root_dir / ".orchestrate").exists(), f"GET {route} created the state folder"
    status, body = await api.get("runs")
    assert (status, body["runs"], body["total"]) == (200, [], 0)
    status, body = await api.get("runs/r1")
    assert status == 404 and "r1" in body["message"], body
