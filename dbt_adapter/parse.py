"""Keeping ``target/manifest.json`` current: ``dbt parse`` when it is missing or stale."""

from __future__ import annotations

import os
import re
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


_VAR_CALL = re.compile(r"""\bvar\(\s*["']([A-Za-z_][A-Za-z0-9_]*)["']""")


def referenced_vars(project_dir: Path) -> frozenset[str]:
    """The names the project reads with ``var('...')``.

    dbt re-parses the whole project when ``--vars`` change (5-70 s), so only
    the variables a project actually uses are passed to it.
    """
    names: set[str] = set()
    for path in _source_files(project_dir):
        names.update(_VAR_CALL.findall(path.read_text(encoding="utf-8", errors="replace")))
    return frozenset(names)


def _source_files(project_dir: Path) -> list[Path]:
    found = []
    for folder, dirs, files in os.walk(project_dir):
        dirs[:] = [name for name in dirs if name not in _SKIPPED_DIRS and not name.startswith(".")]
        found += [Path(folder, name) for name in files if Path(name).suffix in _SOURCE_SUFFIXES]
    return found


def is_stale(project_dir: Path, manifest_mtime: float) -> bool:
    """True when any source file of the dbt project is newer than the manifest."""
    return any(path.stat().st_mtime > manifest_mtime for path in _source_files(project_dir))
