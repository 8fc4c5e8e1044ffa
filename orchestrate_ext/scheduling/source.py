"""The project as the scheduler sees it, reloaded in the background when its files change.

Schedules written into a notebook's metadata by the JupyterLab panel, or into
orchestrate.yaml and dbt files by hand, reach a running scheduler without a
restart: every few seconds a background thread compares a cheap fingerprint of
the project's files (paths, sizes and modification times of notebooks, YAML,
SQL, CSV and Python files) with the last one and, when it changed, loads the
project again (which may run ``dbt parse``). The scheduler's loop only ever
swaps in a finished snapshot; it never waits for a reload, and a project that
fails to load keeps the previous snapshot (the error is logged).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from orchestrate_ext.config import Defaults
from orchestrate_ext.errors import OrchestrateError
from orchestrate_ext.graph import Graph
from orchestrate_ext.interfaces import NodeRunner
from orchestrate_ext.project import Project
from orchestrate_ext.scheduling.definitions import ScheduleDefinition, discover_schedules

log = logging.getLogger("orchestrate_ext.scheduler")

_WATCHED_SUFFIXES = {".ipynb", ".yaml", ".yml", ".sql", ".csv", ".py", ".json"}
_SKIPPED_DIRS = {"target", "logs", "dbt_packages", "dbt_modules", "node_modules", "__pycache__", ".ipynb_checkpoints"}


@dataclass(frozen=True)
class ProjectSnapshot:
    """Everything one scheduler step needs from the project, as loaded at one moment."""

    graph: Graph
    runners: Mapping[str, NodeRunner]
    definitions: Mapping[str, ScheduleDefinition]
    root: Path
    state_dir: Path
    concurrency: int = 4
    defaults: Defaults = field(default_factory=Defaults)
    redact: Callable[[str], str] = str
    """Removes secrets from what runners report (the project's :class:`~orchestrate_ext.redact.Redactor`)."""


class ScheduleSource(Protocol):
    """Hands the scheduler the newest snapshot of the project."""

    def current(self) -> ProjectSnapshot: ...

    def close(self) -> None: ...


class StaticSource:
    """A snapshot that never changes (tests, benchmarks)."""

    def __init__(self, snapshot: ProjectSnapshot) -> None:
        self.snapshot = snapshot

    def current(self) -> ProjectSnapshot:
        return self.snapshot

    def close(self) -> None:
        pass


def load_snapshot(project_dir: Path | None) -> ProjectSnapshot:
    """Load the project (orchestrate.yaml, plugins, graph) and its schedules; raises ``BadInput``."""
    project = Project.load(project_dir)
    graph = project.graph
    return ProjectSnapshot(
        graph=graph,
        runners=project.runners,
        definitions=discover_schedules(project.config.core.schedules, graph, project.config.workspace.config_path),
        root=project.root,
        state_dir=project.config.workspace.state_dir,
        concurrency=project.config.core.concurrency,
        defaults=project.config.core.defaults,
        redact=project.redactor(),
    )


def project_fingerprint(root: Path, state_dir: Path) -> int:
    """A hash of the paths, sizes and modification times of the files a project is defined in."""
    state = state_dir.resolve()
    entries: list[tuple[str, int, int]] = []
    for folder, dirs, files in os.walk(root):
        here = Path(folder)
        dirs[:] = [
            name
            for name in dirs
            if name not in _SKIPPED_DIRS and not name.startswith(".") and (here / name).resolve() != state
        ]
        for name in files:
            if os.path.splitext(name)[1] not in _WATCHED_SUFFIXES:
                continue
            try:
                stat = os.stat(os.path.join(folder, name))
            except OSError:
                continue
            entries.append((os.path.join(folder, name), stat.st_size, stat.st_mtime_ns))
    return hash(tuple(sorted(entries)))


class ProjectSource:
    """The project in ``project_dir``, reloaded in a background thread when its files change.

    Args:
        refresh_seconds: how often the fingerprint is taken.
    """

    def __init__(self, project_dir: Path | None, refresh_seconds: float = 3.0) -> None:
        self.project_dir = project_dir
        self.refresh_seconds = refresh_seconds
        self._snapshot = load_snapshot(project_dir)
        self._fingerprint = project_fingerprint(self._snapshot.root, self._snapshot.state_dir)
        self.last_error: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="orchestrate-reload", daemon=True)
        self._thread.start()

    def current(self) -> ProjectSnapshot:
        return self._snapshot

    def close(self) -> None:
        self._stop.set()

    def reload_if_changed(self) -> bool:
        """Reload when the files changed; True when a new snapshot was swapped in."""
        fingerprint = project_fingerprint(self._snapshot.root, self._snapshot.state_dir)
        if fingerprint == self._fingerprint:
            return False
        started = time.monotonic()
        try:
            snapshot = load_snapshot(self.project_dir)
        except Exception as exc:  # whatever a plugin or a file raises: one log line, tried again on the next change
            problem = str(exc) if isinstance(exc, OrchestrateError) else f"{type(exc).__name__}: {exc}"
            if problem != self.last_error:
                log.error("the project changed but cannot be loaded; keeping the previous schedules: %s", problem)
            self.last_error = problem
            self._fingerprint = fingerprint
            return False
        self._fingerprint = fingerprint
        self.last_error = None
        added = sorted(set(snapshot.definitions) - set(self._snapshot.definitions))
        removed = sorted(set(self._snapshot.definitions) - set(snapshot.definitions))
        self._snapshot = snapshot
        log.info(
            "reloaded the project in %.1f s: %d schedules%s%s",
            time.monotonic() - started,
            len(snapshot.definitions),
            f"; new: {', '.join(added)}" if added else "",
            f"; removed: {', '.join(removed)}" if removed else "",
        )
        return True

    def _watch(self) -> None:
        while not self._stop.wait(self.refresh_seconds):
            try:
                self.reload_if_changed()
            except Exception as exc:  # the watcher must survive anything (e.g. the project folder vanishing)
                problem = f"{type(exc).__name__}: {exc}"
                if problem != self.last_error:
                    log.error("looking for changed project files failed: %s", problem)
                self.last_error = problem
