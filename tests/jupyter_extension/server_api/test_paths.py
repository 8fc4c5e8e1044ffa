"""Every way out of the Jupyter root is refused with 400, on every route that takes a path, and touches nothing."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.slow  # a real Jupyter server (and a dbt-parsed project)

NOTEBOOK = {"cells": [], "metadata": {"kernelspec": {"name": "python3"}}, "nbformat": 4, "nbformat_minor": 5}


@pytest.fixture
def outside(jp_root_dir: Path) -> Path:
    """A notebook in a sibling folder whose name starts with the root's name (``shop-evil`` next to ``shop``)."""
    sibling = jp_root_dir.parent / (jp_root_dir.name + "-evil")
    sibling.mkdir()
    target = sibling / "evil.ipynb"
    target.write_text(json.dumps(NOTEBOOK), encoding="utf-8")
    os.utime(target, (1_000_000_000, 1_000_000_000))
    # Symbolic links inside the root that lead out of it, to the file and to its folder.
    (jp_root_dir / "notebooks" / "linked.ipynb").symlink_to(target)
    (jp_root_dir / "evil_dir").symlink_to(sibling, target_is_directory=True)
    return target


def escape_forms(root: Path, target: Path) -> dict[str, str]:
    return {
        "parent": "../" + target.parent.name + "/" + target.name,
        "nested parent": "notebooks/../../" + target.parent.name + "/" + target.name,
        "dot-dot only": "..",
        "absolute inside sibling": str(target),
        "absolute system file": "/etc/passwd",
        "home": "~/evil.ipynb",
        "drive letter": "C:evil.ipynb",
        "backslash parent": "..\\" + target.parent.name + "\\" + target.name,
        "nul byte": "notebooks/daily_report.ipynb\x00.txt",
        "empty": "",
        "symlinked file": "notebooks/linked.ipynb",
        "symlinked folder (sibling prefix)": "evil_dir/evil.ipynb",
    }


def _snapshot(root: Path, target: Path) -> dict[str, Any]:
    files = {path: path.read_bytes() for path in (root / "notebooks").glob("*.ipynb") if not path.is_symlink()}
    return {"target": (target.read_bytes(), target.stat().st_mtime), "notebooks": files}


async def test_every_escape_is_refused_on_every_path_route(api: Any, jp_root_dir: Path, outside: Path) -> None:
    before = _snapshot(jp_root_dir, outside)
    answers = {}
    for name, path in escape_forms(jp_root_dir, outside).items():
        answers[(name, "GET notebook")] = await api.get("notebook", path=path)
        answers[(name, "POST schedules")] = await api.post("schedules", {"notebook": path, "cron": "0 7 * * *"})
        answers[(name, "DELETE schedules")] = await api.delete("schedules", notebook=path)
    wrong = {key: answer for key, answer in answers.items() if answer[0] != 400}
    assert wrong == {}
    assert _snapshot(jp_root_dir, outside) == before
    assert not (jp_root_dir / ".orchestrate").exists()


async def test_messages_say_what_is_wrong(api: Any, jp_root_dir: Path, outside: Path) -> None:
    _, body = await api.get("notebook", path="../x.ipynb")
    assert body["message"] == "notebook '../x.ipynb' contains '..'; give a path inside the Jupyter root"
    _, body = await api.get("notebook", path="/etc/passwd")
    assert "is absolute" in body["message"]
    _, body = await api.get("notebook", path="evil_dir/evil.ipynb")
    assert "leads outside the Jupyter root" in body["message"]
    assert body["error"] == "UnsafePath"


async def test_paths_inside_the_root_still_work(api: Any, jp_root_dir: Path) -> None:
    inner = jp_root_dir / "notebooks" / "alias.ipynb"
    inner.symlink_to(jp_root_dir / "notebooks" / "daily_report.ipynb")
    status, body = await api.get("notebook", path="notebooks/./alias.ipynb")
    assert status == 200, body
    assert body["node_id"] == "notebook.notebooks/daily_report"
    status, body = await api.get("notebook", path="notebooks/missing.ipynb")
    assert (status, body["error"]) == (404, "NotFound")
    status, body = await api.get("notebook", path="orchestrate.yaml")
    assert status == 400 and "not a .ipynb file" in body["message"]
