"""The server extension's pieces that need no server: path safety, the error mapping, metadata updates."""

from __future__ import annotations

from pathlib import Path

import pytest

from jupyter_extension.server.errors import Conflict, NotFound, UnsafePath, status_for, to_http_error
from jupyter_extension.server.paths import contained_file, relative_to_root, resolve_inside
from jupyter_extension.server.schedules import ScheduleRequest, updated_settings
from orchestrate_ext.errors import (
    BadInput,
    ConfigError,
    NodeNotFound,
    OrchestrateError,
    PluginError,
    RunNotFound,
    StoreError,
)


def test_resolve_inside_compares_whole_components(tmp_path: Path) -> None:
    root = tmp_path / "shop"
    (root / "a").mkdir(parents=True)
    (tmp_path / "shop-evil").mkdir()
    (root / "a" / "x.ipynb").write_text("{}")
    assert resolve_inside(root, "a/x.ipynb") == (root / "a" / "x.ipynb").resolve()
    assert resolve_inside(root, "a/./x.ipynb") == (root / "a" / "x.ipynb").resolve()
    (root / "out").symlink_to(tmp_path / "shop-evil")
    for raw in ["out/x.ipynb", "../shop-evil/x.ipynb", str(tmp_path / "shop-evil"), "", " ", None, 5, "a\\x", "~root"]:
        with pytest.raises(UnsafePath):
            resolve_inside(root, raw)
    assert relative_to_root(root, root / "a" / "x.ipynb") == "a/x.ipynb"
    assert relative_to_root(root, tmp_path / "shop-evil") is None


def test_contained_file_reads_nothing_outside_the_state_folder(tmp_path: Path) -> None:
    state = tmp_path / ".orchestrate"
    state.mkdir()
    inside = state / "log.txt"
    inside.write_text("x")
    outside = tmp_path / "secret.txt"
    outside.write_text("x")
    assert contained_file(state, str(inside)) == inside.resolve()
    assert contained_file(state, str(outside)) is None
    assert contained_file(state, str(state / ".." / "secret.txt")) is None
    assert contained_file(state, str(state / "missing.txt")) is None
    assert contained_file(state, None) is None


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (ConfigError("x"), 400),
        (NodeNotFound("x"), 400),
        (UnsafePath("x"), 400),
        (RunNotFound("r1"), 404),
        (NotFound("x"), 404),
        (Conflict("x"), 409),
        (PermissionError(13, "denied", "/x"), 403),
        (StoreError("x"), 500),
        (PluginError("x"), 500),
        (OrchestrateError("x"), 500),
        (KeyError("x"), None),
        (ValueError("x"), None),
    ],
)
def test_one_mapping_from_errors_to_statuses(error: BaseException, status: int | None) -> None:
    assert status_for(error) == status
    mapped = to_http_error(error)
    if status is None:
        assert mapped is error
    else:
        assert mapped.status_code == status  # type: ignore[attr-defined]


def test_percent_signs_in_messages_survive() -> None:
    mapped = to_http_error(ConfigError("100% wrong"))
    assert mapped.message == "100% wrong"  # type: ignore[attr-defined]
    assert str(mapped) == "HTTP 400: Bad Request (100% wrong)"


def _request(**fields: object) -> ScheduleRequest:
    return ScheduleRequest.parse({"notebook": "n.ipynb", **fields})


def test_updates_keep_other_keys_and_remove_emptied_ones() -> None:
    current = {"owner": "a", "resources": ["warehouse"], "retries": 2}
    updated = updated_settings(_request(cron="0  7 * * *", timezone="UTC", owner=None, retries=0), current)
    assert updated == {"schedule": "0 7 * * *", "timezone": "UTC", "resources": ["warehouse"], "retries": 0}
    assert updated_settings(_request(cron=None), updated) == {"resources": ["warehouse"], "retries": 0}


def test_a_schedule_mapping_keeps_its_other_keys() -> None:
    current = {"schedule": {"cron": "0 6 * * *", "catchup": "all"}, "timezone": "UTC"}
    updated = updated_settings(_request(cron="0 7 * * 1-5", timezone="Europe/Berlin"), current)
    assert updated == {"schedule": {"cron": "0 7 * * 1-5", "catchup": "all", "timezone": "Europe/Berlin"}}


def test_a_time_zone_needs_a_schedule() -> None:
    with pytest.raises(BadInput, match="has no schedule"):
        updated_settings(_request(timezone="UTC"), {})
