"""`pip install -e .` without Node.js: the package installs, without the lab extension, and says why.

The wheel build runs the real build hook (hatchling + hatch-jupyter-builder,
as pip runs it) with a PATH that has no node or npm.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BUILD_HOOK = "jupyter_extension.ui.buildhook"


def _no_node_path(tmp_path: Path) -> str:
    """A PATH with this Python and the usual tools, and no node or npm."""
    tools = tmp_path / "bin"
    tools.mkdir()
    for name in ("sh", "git", "env", "uname"):
        found = shutil.which(name)
        if found:
            (tools / name).symlink_to(found)
    return f"{Path(sys.executable).parent}{os.pathsep}{tools}"


def test_the_build_hook_is_optional_for_editable_installs_only() -> None:
    config = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    hook = config["tool"]["hatch"]["build"]["hooks"]["jupyter-builder"]
    assert hook["build-function"] == f"{BUILD_HOOK}.build"
    assert hook["optional-editable-build"] == "true"  # hatch-jupyter-builder compares the text "true"


def test_without_node_the_build_fails_with_a_clear_message(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from jupyter_extension.ui import buildhook

    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(RuntimeError) as caught:
        buildhook.build("wheel", "editable", path="jupyter_extension/ui")
    assert "Node.js and npm were not found" in str(caught.value)
    assert "`orchestrate` command, the scheduler and the REST API work" in str(caught.value)


def test_the_server_warns_when_the_lab_extension_is_missing(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import jupyter_core.paths

    from jupyter_extension.server import app

    (tmp_path / "orchestrate-ext").mkdir()
    (tmp_path / "orchestrate-ext" / "install.json").write_text("{}")  # what the wheel still installs
    monkeypatch.setattr(jupyter_core.paths, "jupyter_path", lambda *parts: [str(tmp_path / parts[-1])])
    assert app.lab_extension_installed() is False
    (tmp_path / "orchestrate-ext" / "package.json").write_text("{}")
    assert app.lab_extension_installed() is True


@pytest.mark.slow
def test_an_editable_wheel_builds_without_node(tmp_path: Path) -> None:
    source = tmp_path / "source"
    listed = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True).stdout.split()
    for name in listed:
        target = source / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, target)
    script = (
        "import warnings, sys; warnings.simplefilter('always');"
        "from hatchling.build import build_editable; print(build_editable(sys.argv[1]))"
    )
    env = {**os.environ, "PATH": _no_node_path(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "dist")],
        cwd=source,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Node.js and npm were not found" in result.stderr
    wheel = tmp_path / "dist" / result.stdout.strip().splitlines()[-1]
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
    assert any(name.endswith("jupyter_server_config.d/jupyter_extension.json") for name in names)
    assert not any(name.endswith("labextensions/orchestrate-ext/package.json") for name in names)
