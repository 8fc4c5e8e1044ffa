"""Keeping ``target/manifest.json`` current: ``dbt parse`` when it is missing or stale."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from dbt_adapter.events import error_messages
from dbt_adapter.project import DbtProject
from orchestrate_ext.errors import ManifestError

_SKIPPED_DIRS = {"target", "logs", "dbt_packages", "dbt_modules", "node_modules", "__pycache__"}
_SOURCE_SUFFIXES = {".sql", ".yml", ".yaml", ".csv", ".py", ".md", ".jinja"}


def ensure_manifest(project: DbtProject) -> Path:
    """The manifest path, after running ``dbt parse`` if it is missing or older than the project."""
    manifest = project.manifest_path
    if manifest.is_file() and not is_stale(project.project_dir, manifest.stat().st_mtime):
        return manifest
    argv = project.argv("parse", "--log-format", "json")
    completed = subprocess.run(
        argv,
        cwd=project.project_dir,
        env=project.env(),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=False,
    )
    if completed.returncode != 0 or not manifest.is_file():
        problems = error_messages((completed.stdout + completed.stderr).splitlines())
        detail = "\n".join(problems[-10:]) or f"exit code {completed.returncode}"
        raise ManifestError(
            f"`dbt parse` failed in {project.project_dir}:\n{detail}\nfix the dbt project and try again"
        )
    return manifest


def is_stale(project_dir: Path, manifest_mtime: float) -> bool:
    """True when any source file of the dbt project is newer than the manifest."""
    for folder, dirs, files in os.walk(project_dir):
        dirs[:] = [name for name in dirs if name not in _SKIPPED_DIRS and not name.startswith(".")]
        for name in files:
            if Path(name).suffix in _SOURCE_SUFFIXES and os.stat(os.path.join(folder, name)).st_mtime > manifest_mtime:
                return True
    return False
