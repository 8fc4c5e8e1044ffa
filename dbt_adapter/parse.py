"""Keeping the manifest current: ``dbt parse`` when it is missing or stale, and only then.

The manifest is stale when dbt would parse again: when the inputs of its parse other than files
(vars, profile and target, the environment variables the project reads, the dbt version) differ
from today's (:mod:`dbt_adapter.parse_inputs`, dbt's own partial-parse state check), or when a
file dbt reads changed after it was written:

- a file under the project's resource paths (model-paths, seed-paths, ...) or
  one of dbt_project.yml, packages.yml, dependencies.yml, selectors.yml is
  newer than the manifest (new and edited files);
- a file the manifest was parsed from is gone (deleted, or renamed: a rename
  keeps the file's old modification time, so only its missing old path shows it);
- the installed packages changed (``dbt deps`` ran since);
- ``.dbtignore`` changed so that a parsed file is now ignored, or an ignored
  one is not any more.

Files dbt does not read (orchestrate.yaml, notebooks, the warehouse file)
never make it stale. Concurrent processes (two ``orchestrate retry`` after a fix) check, parse and read
the manifest one at a time, under an exclusive ``flock`` on a lock file named after the target folder
in the system's temporary folder (not in the project: ``validate`` writes nothing there): none reads a
manifest another one's ``dbt parse`` is still writing.
Before any of this, packages declared but not installed are a ``ConfigError`` telling the user to run
``dbt deps``, as dbt itself would fail on them (``dbt/config/runtime.py``, ``load_dependencies``).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
import re
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from dbt_adapter.events import error_messages
from dbt_adapter.manifest import Manifest, ManifestUnreadable, read_manifest
from dbt_adapter.parse_inputs import (
    VARS_DIFFER,
    changed_input,
    current_inputs,
    dbt_state,
    read_stamp,
    run_vars,
    write_stamp,
)
from dbt_adapter.project import DbtProject
from dbt_adapter.resolution import DbtSettings
from orchestrate_ext.activity import DBT_PARSE, doing
from orchestrate_ext.errors import ConfigError, ManifestError
from orchestrate_ext.launcher import for_this_machine

log = logging.getLogger(__name__)

_PROJECT_FILES = ("dbt_project.yml", "packages.yml", "dependencies.yml", "selectors.yml")
_SOURCE_SUFFIXES = {".sql", ".yml", ".yaml", ".csv", ".py", ".md", ".jinja"}
_PARSED_SUFFIXES = {".sql", ".py", ".csv"}
"""Files that always become a resource when dbt reads them."""
_SKIPPED_DIRS = {"__pycache__"}


def ensure_manifest(project: DbtProject) -> Manifest:
    """The manifest, after running ``dbt parse`` if it is missing or stale.

    Raises:
        ConfigError: packages are missing, or the profile cannot be loaded (a parse needs it).
        ManifestError: ``dbt parse`` failed, or the manifest cannot be read.
    """
    settings = project.settings
    check_packages(settings)
    with _parse_lock(settings.manifest_path.parent):
        return _current_manifest(project, settings)


def parse_lock_path(target: Path) -> Path:
    """The lock file that serialises checking, parsing and reading the manifest of ``target``."""
    key = hashlib.sha256(str(target.resolve()).encode()).hexdigest()[:20]
    return Path(tempfile.gettempdir()) / f"orchestrate-parse-{key}.lock"


@contextlib.contextmanager
def _parse_lock(target: Path) -> Iterator[None]:
    """Hold ``target``'s parse lock (not at all where the lock file cannot be opened)."""
    try:
        handle = parse_lock_path(target).open("a")
    except OSError as exc:
        log.debug("dbt parse: no lock for %s (%s)", target, exc)
        yield
        return
    with handle:
        fcntl.flock(handle, fcntl.LOCK_EX)  # released when the file is closed, or this process dies
        yield


def _current_manifest(project: DbtProject, settings: DbtSettings) -> Manifest:
    path = settings.manifest_path
    if path.is_file():
        written = path.stat().st_mtime
        try:
            manifest = read_manifest(path)
        except ManifestUnreadable as exc:  # e.g. cut short by a dbt process killed while writing it
            log.info("dbt parse: %s cannot be read (%s); parsing again", path, exc)
        else:
            reason = stale_reason(settings, manifest, written) or _inputs_changed(project, path, manifest.invocation_id)
            if reason is None:
                return manifest
            log.info("dbt parse: %s is stale (%s)", path, reason)
    settings.require_profile()
    run_parse(project)
    _record_parse(project, path)
    return read_manifest(path)


def _inputs_changed(project: DbtProject, path: Path, invocation_id: str | None = None) -> str | None:
    """Why dbt would parse again though no file changed, or None (see :mod:`dbt_adapter.parse_inputs`).

    Without a loadable profile dbt could not parse at all: the manifest there is shown as it is.
    """
    if project.settings.profile_problem:
        return None
    environ = project.env()
    recorded = read_stamp(path)
    if recorded is not None:
        return changed_input(recorded, project, environ)
    found = dbt_state(path.parent)
    if found is None:
        return "another dbt command wrote it and left no partial_parse.msgpack to tell its vars and profile"
    state, env_names = found
    reason = changed_input(state, project, environ)
    if reason == VARS_DIFFER and (written := run_vars(path, invocation_id, project)) is not None:
        reason = changed_input(state, project, environ, written)  # a run's own build: its logical_date
    if reason is None:  # adopt it: the next check reads our record
        write_stamp(path, current_inputs(project, environ, env_names))
    return reason


def _record_parse(project: DbtProject, path: Path) -> None:
    """Write what our ``dbt parse`` parsed with, next to the manifest it wrote."""
    found = dbt_state(path.parent)
    env_names = found[1] if found is not None else []
    write_stamp(path, current_inputs(project, project.env(), env_names))


def run_parse(project: DbtProject) -> None:
    """``dbt parse``; the manifest it writes is dated to when the parse started, so that a file saved while
    dbt parsed (a JupyterLab checkpoint written next to a saved model) is newer and parsed next time."""
    path = project.manifest_path
    argv = for_this_machine(project.argv("parse", "--log-format", "json"))
    started = time.time()
    with doing(DBT_PARSE):  # the Lab says "dbt is parsing the project" while this runs
        completed = subprocess.run(
            argv,
            cwd=project.project_dir,
            env=project.env(),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            check=False,
        )
    if completed.returncode != 0 or not path.is_file():
        problems = error_messages((completed.stdout + completed.stderr).splitlines())
        if completed.returncode == 0:
            problems.append(f"dbt wrote no {path}")
        detail = "\n".join(problems[-10:]) or f"exit code {completed.returncode}"
        raise ManifestError(
            f"`dbt parse` failed in {project.project_dir}:\n{detail}\nfix the dbt project and try again"
        )
    os.utime(path, (started, started))


def check_packages(settings: DbtSettings) -> None:
    """Packages declared but not installed: ``ConfigError`` (dbt's ``UninstalledPackagesFoundError`` rule)."""
    if not settings.packages_declared or settings.packages_file is None:
        return
    root = settings.packages_install_path
    installed = (
        [path for path in root.iterdir() if path.is_dir() and not path.name.startswith("__")] if root.is_dir() else []
    )
    if settings.packages_declared > len(installed):
        raise ConfigError(
            f"{settings.packages_file} declares {settings.packages_declared} package(s) but only "
            f"{len(installed)} are installed in {root}; run `dbt deps` in {settings.project_dir}"
        )


def stale_reason(settings: DbtSettings, manifest: Manifest, written: float) -> str | None:
    """Why the manifest written at ``written`` (an mtime) no longer matches the project, or None."""
    root = settings.project_dir
    for name in _PROJECT_FILES:
        path = root / name
        if path.is_file() and path.stat().st_mtime > written:
            return f"{name} changed"
    ignore = _IgnoreFile(root)
    on_disk: set[str] = set()
    for relative, mtime in _source_files(settings, ignore):
        if mtime > written:
            return f"{relative} changed"
        on_disk.add(relative)
    for relative in manifest.files:
        if relative not in on_disk and not (root / relative).exists():
            return f"{relative} is gone"
    if _packages_changed(settings.packages_install_path, written):
        return "the installed packages changed"
    if ignore.mtime > written:
        now_ignored = [relative for relative in manifest.files if ignore.matches(relative)]
        now_read = [
            relative
            for relative in on_disk
            if relative not in manifest.files and Path(relative).suffix in _PARSED_SUFFIXES
        ]
        if now_ignored or now_read:
            return ".dbtignore changed which files dbt reads"
    return None


def is_stale(settings: DbtSettings, manifest: Manifest, written: float) -> bool:
    return stale_reason(settings, manifest, written) is not None


class _IgnoreFile:
    """``.dbtignore``: gitignore patterns matched against paths relative to the project (dbt/parser/read_files.py)."""

    def __init__(self, root: Path) -> None:
        path = root / ".dbtignore"
        self.mtime = path.stat().st_mtime if path.is_file() else 0.0
        self._spec: Any = None
        if self.mtime:
            import pathspec

            with path.open(encoding="utf-8", errors="replace") as handle:
                self._spec = pathspec.PathSpec.from_lines(pathspec.patterns.GitWildMatchPattern, handle)

    def matches(self, relative: str) -> bool:
        return self._spec is not None and bool(self._spec.match_file(relative))


def _source_files(settings: DbtSettings, ignore: _IgnoreFile) -> Iterator[tuple[str, float]]:
    """Each file dbt reads from the resource paths, relative to the project, with its mtime."""
    root = settings.project_dir
    skip = len(str(root)) + 1
    seen: set[str] = set()
    for source in settings.source_paths:
        folder = root / source
        if not folder.is_dir():
            continue
        for current, dirs, files in os.walk(folder):
            dirs[:] = [name for name in dirs if name not in _SKIPPED_DIRS]
            here = current[skip:].replace(os.sep, "/")  # os.walk yields folders under root: slicing beats relpath
            for name in files:
                if os.path.splitext(name)[1] not in _SOURCE_SUFFIXES:
                    continue
                absolute = os.path.join(current, name)
                relative = f"{here}/{name}"
                if relative in seen or ignore.matches(relative):
                    continue
                seen.add(relative)
                try:
                    yield relative, os.stat(absolute).st_mtime
                except OSError:  # removed while walking: the manifest is then compared with what is left
                    continue


def _packages_changed(root: Path, written: float) -> bool:
    if not root.is_dir():
        return False
    if root.stat().st_mtime > written:
        return True
    return any(entry.is_dir() and entry.stat().st_mtime > written for entry in root.iterdir())


_VAR_CALL = re.compile(r"""\bvar\(\s*["']([A-Za-z_][A-Za-z0-9_]*)["']""")


def referenced_vars(settings: DbtSettings) -> frozenset[str]:
    """The names the project reads with ``var('...')``.

    dbt re-parses the whole project when ``--vars`` change (5-70 s), so only
    the variables a project actually uses are passed to it.
    """
    names: set[str] = set()
    root = settings.project_dir
    paths = [root / name for name in _PROJECT_FILES if (root / name).is_file()]
    paths += [root / relative for relative, _ in _source_files(settings, _IgnoreFile(root))]
    for path in paths:
        names.update(_VAR_CALL.findall(path.read_text(encoding="utf-8", errors="replace")))
    return frozenset(names)
