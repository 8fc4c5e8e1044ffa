"""The project as the scheduler sees it, reloaded in the background when its files change.

Schedules written into a notebook's metadata by the JupyterLab panel, or into
orchestrate.yaml and dbt files by hand, reach a running scheduler without a
restart: every few seconds a background thread compares a cheap fingerprint of
the project's files (paths, sizes and modification times of notebooks, YAML,
SQL, CSV and Python files) with the last one and, when it changed, loads the
project again (which may run ``dbt parse``). The scheduler's loop only ever
swaps in a finished snapshot; it never waits for a reload.

A broken node or schedule does not stop the project from loading: the snapshot
is built on the partial graph (:mod:`orchestrate_ext.partial_graph`), so the
runs it starts use the runnable graph, the broken parts are left out with their
dependants, and every other change (a schedule removed, a cron edited) takes
effect at once. Each snapshot lists its config problems (one per
broken node and broken schedule), which the scheduler hands to the alerts.
Only a project that cannot be loaded at all (orchestrate.yaml unreadable or
invalid, a plugin that fails) keeps the previous snapshot, with a ``project``
problem added, and logs the error once.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Protocol

from orchestrate_ext.config import Defaults
from orchestrate_ext.errors import OrchestrateError
from orchestrate_ext.graph import Graph
from orchestrate_ext.interfaces import ConfigProblem, NodeRunner
from orchestrate_ext.partial_graph import PartialGraph
from orchestrate_ext.scheduling.definitions import ScheduleDefinition, ScheduleSet

log = logging.getLogger(__name__)

_WATCHED_SUFFIXES = {".ipynb", ".yaml", ".yml", ".sql", ".csv", ".py", ".json"}
_SKIPPED_DIRS = {"target", "logs", "dbt_packages", "dbt_modules", "node_modules", "__pycache__", ".ipynb_checkpoints"}


@dataclass(frozen=True)
class ProjectSnapshot:
    """Everything one scheduler step needs from the project, as loaded at one moment.

    Attributes:
        graph: the runnable graph (broken nodes and their dependants left out): what runs use.
        partial: every node, the broken ones marked (None: nothing is broken, ``graph`` is all).
        broken_schedules: schedules that cannot fire at all, by name, with why.
        problems: what is wrong with the project now, for the alerts (scope ``project``).
    """

    graph: Graph
    runners: Mapping[str, NodeRunner]
    definitions: Mapping[str, ScheduleDefinition]
    root: Path
    state_dir: Path
    concurrency: int = 4
    defaults: Defaults = field(default_factory=Defaults)
    redact: Callable[[str], str] = str
    """Removes secrets from what runners report (the project's :class:`~orchestrate_ext.redact.Redactor`)."""
    partial: PartialGraph | None = None
    broken_schedules: Mapping[str, str] = field(default_factory=dict)
    problems: tuple[ConfigProblem, ...] = ()
    max_runs: int | None = None
    """Runs that may execute at once in the store, however they start (``max_runs`` in orchestrate.yaml)."""

    @property
    def whole(self) -> PartialGraph:
        """Every node of the project, broken ones marked."""
        return self.partial if self.partial is not None else PartialGraph(self.graph, {})


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


def config_problems(
    partial: PartialGraph, schedules: ScheduleSet, redact: Callable[[str], str] = str
) -> tuple[ConfigProblem, ...]:
    """One problem per plugin that gave no nodes (``dbt parse`` failed), per broken node (naming the nodes
    that wait for it) and per broken schedule."""
    waiting: dict[str, list[str]] = {}
    for node_id, cause in partial.blocked().items():
        waiting.setdefault(cause, []).append(node_id)
    found = [
        ConfigProblem(f"plugin:{key}", redact(f"every node of `{key}:` is left out: {why}"))
        for key, why in sorted(partial.unloaded.items())
    ]
    for node_id, reason in sorted(partial.broken.items()):
        node = partial.graph.nodes[node_id]
        dependants = sorted(waiting.get(node_id, []))
        also = ""
        if dependants:
            shown = ", ".join(dependants[:5]) + (f" and {len(dependants) - 5} more" if len(dependants) > 5 else "")
            also = f" (left out with it, as they wait for it: {shown})"
        message = f"node {node_id} is left out: {reason}{also}"
        found.append(ConfigProblem(f"node:{node_id}", redact(message), node_id, node.owner))
    for name, reason in sorted(schedules.broken.items()):
        target = schedules.targets.get(name)
        owner = partial.graph.nodes[target].owner if target is not None and target in partial.graph.nodes else None
        found.append(ConfigProblem(f"schedule:{name}", redact(f"schedule {name} is left out: {reason}"), target, owner))
    return tuple(found)


def unloadable(snapshot: ProjectSnapshot, problem: str) -> ProjectSnapshot:
    """The last good snapshot, with the problem that the project cannot be loaded now added."""
    kept = tuple(found for found in snapshot.problems if found.key != PROJECT_KEY)
    message = f"the project cannot be loaded: {problem}; the scheduler keeps the schedules it last loaded"
    return replace(snapshot, problems=(*kept, ConfigProblem(PROJECT_KEY, snapshot.redact(message))))


PROJECT_KEY = "project"
"""The key of the problem "the project cannot be loaded" (one incident while it lasts)."""


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
    """The project that ``load`` loads, reloaded in a background thread when its files change.

    Args:
        load: loads the project and its schedules (the app's ``load_snapshot``); called again
            after every change.
        refresh_seconds: how often the fingerprint is taken.
    """

    def __init__(self, load: Callable[[], ProjectSnapshot], refresh_seconds: float = 3.0) -> None:
        self.load = load
        self.refresh_seconds = refresh_seconds
        self._snapshot = load()
        _log_left_out(self._snapshot, None)
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
        """Reload when the files changed; True when a new snapshot was swapped in.

        A project that cannot be loaded keeps the previous snapshot's schedules, with
        the ``project`` problem added (a new snapshot too, so the scheduler reports it).
        """
        fingerprint = project_fingerprint(self._snapshot.root, self._snapshot.state_dir)
        if fingerprint == self._fingerprint:
            return False
        started = time.monotonic()
        try:
            snapshot = self.load()
        except Exception as exc:  # whatever a plugin or a file raises: one log line, tried again on the next change
            problem = str(exc) if isinstance(exc, OrchestrateError) else f"{type(exc).__name__}: {exc}"
            new = problem != self.last_error
            if new:
                log.error("the project changed but cannot be loaded; keeping the previous schedules: %s", problem)
                self._snapshot = unloadable(self._snapshot, problem)
            self.last_error = problem
            self._fingerprint = fingerprint
            return new
        self._fingerprint = fingerprint
        self.last_error = None
        previous = self._snapshot
        added = sorted(set(snapshot.definitions) - set(previous.definitions))
        removed = sorted(set(previous.definitions) - set(snapshot.definitions))
        self._snapshot = snapshot
        log.info(
            "reloaded the project in %.1f s: %d schedules%s%s",
            time.monotonic() - started,
            len(snapshot.definitions),
            f"; new: {', '.join(added)}" if added else "",
            f"; removed: {', '.join(removed)}" if removed else "",
        )
        _log_left_out(snapshot, previous)
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


def _log_left_out(snapshot: ProjectSnapshot, previous: ProjectSnapshot | None) -> None:
    """One log line per problem that is new, and one per problem fixed."""
    before = {problem.key: problem for problem in previous.problems} if previous is not None else {}
    now = {problem.key: problem for problem in snapshot.problems}
    for key, problem in now.items():
        if key not in before or before[key].message != problem.message:
            log.error("%s", problem.message)
    for key in before.keys() - now.keys():
        log.info("fixed: %s is no longer left out", key.split(":", 1)[-1])
