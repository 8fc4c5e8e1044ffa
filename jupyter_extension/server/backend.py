"""What the handlers call: the project, its store and every operation of the API, without HTTP.

Every method blocks (files, SQLite, maybe ``dbt parse``); the handlers run
them on worker threads so the server's event loop never waits on them.
"""

from __future__ import annotations

import contextlib
import threading
import time
from datetime import datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any
from zoneinfo import available_timezones

from jupyter_extension.server import graph_markers, history, schedules, scheduling
from jupyter_extension.server.detached import DetachedCommands
from jupyter_extension.server.notebook_file import INJECTED_PARAMETERS
from jupyter_extension.server.paths import relative_to_root
from orchestrate_ext.activity import DBT_PARSE, under_way
from orchestrate_ext.errors import BadInput, NodeNotFound, did_you_mean
from orchestrate_ext.planning import plan_project
from orchestrate_ext.project import Project
from orchestrate_ext.redact import Redactor
from orchestrate_ext.reports import run_summary
from orchestrate_ext.store import StateStore


class Backend:
    """The API's operations on one project.

    Args:
        root: the Jupyter server's root directory; every client path is inside it.
        project_dir: the folder holding orchestrate.yaml.
        cache_seconds: how long a loaded project (configuration and graph) is reused.
    """

    def __init__(
        self, root: Path, project_dir: Path, cache_seconds: float = 5.0, detached: DetachedCommands | None = None
    ):
        self.root = root.resolve()
        self.project_dir = project_dir.resolve()
        self.cache_seconds = cache_seconds
        self.detached = detached or DetachedCommands()
        self._lock = threading.Lock()
        self._graph_lock = threading.Lock()
        self._project: tuple[float, Project] | None = None
        self._stores: dict[object, StateStore] = {}
        self._empty: dict[object, StateStore] = {}
        """Read-only stand-ins (empty, in memory) for stores not created yet, by location."""
        self.last_redactor = Redactor()
        """The redactor of the project as last loaded (credential-like text only before that)."""
        self._building: float | None = None
        """While the graph is built: since when (monotonic)."""

    # -- the project and its store

    def project(self) -> Project:
        """The project, loaded at most ``cache_seconds`` ago (its graph built on first use)."""
        with self._lock:
            now = time.monotonic()
            if self._project is None or now - self._project[0] > self.cache_seconds:
                self._project = (now, Project.load(self.project_dir))
                self.last_redactor = self._project[1].redactor()
            return self._project[1]

    def redactor(self) -> Redactor:
        """What every response passes through: the project's secrets (as set here) and credential-like text."""
        with contextlib.suppress(BadInput):  # the project does not load: the last known secrets still apply
            self.project()
        return self.last_redactor

    def graph_project(self) -> Project:
        """The project with its partial graph built (under the lock, so it is built once).

        The API works on the partial graph (:mod:`orchestrate_ext.partial_graph`): a
        broken notebook is shown as broken while the rest of the project stays usable.
        """
        project = self.project()
        with self._graph_lock:
            if "partial_graph" not in vars(project):  # not built yet: this may run `dbt parse`
                self._building = time.monotonic()
                try:
                    _ = project.partial_graph
                finally:
                    self._building = None
        return project

    def loading(self) -> dict[str, Any]:
        """Whether the graph is being built now and for how many seconds, and whether ``dbt parse`` runs
        (for any build of the graph: the first, after Reload, after a file change made the manifest stale);
        read without waiting for any lock."""
        parsing = under_way(DBT_PARSE)
        if parsing is not None:
            return {"loading": True, "seconds": int(time.monotonic() - parsing.since), "dbt": True}
        building = self._building
        if building is None:
            return {"loading": False, "seconds": 0, "dbt": False}
        return {"loading": True, "seconds": int(time.monotonic() - building), "dbt": False}

    def forget_project(self) -> None:
        with self._lock:
            self._project = None

    def store(self) -> StateStore:
        """The project's state store, opened once per location (creating it on first use): for writes."""
        project = self.project()
        location = project.config.state_location()
        with self._lock:
            if location not in self._stores:
                self._stores[location] = project.open_store()
            return self._stores[location]

    def reader(self) -> StateStore:
        """The store for a read-only request: a SQLite store not created yet reads as empty and is not created
        (a GET writes nothing, not even the state folder); once it exists, the store :meth:`store` opens."""
        project = self.project()
        location = project.config.state_location()
        with self._lock:
            if location not in self._stores and location.path is not None and not location.path.exists():
                if location not in self._empty:
                    self._empty[location] = project.open_store(read_only=True)
                return self._empty[location]
        return self.store()

    def close(self) -> None:
        with self._lock:
            for store in [*self._stores.values(), *self._empty.values()]:
                store.close()
            self._stores.clear()
            self._empty.clear()

    @property
    def state_dir(self) -> Path:
        return self.project().config.workspace.state_dir

    # -- what the UI needs to know first

    def info(self) -> dict[str, Any]:
        problem = None
        routes: list[dict[str, Any]] = []
        only_changed = False
        try:
            project = self.project()
            routes = alert_routes(project)
            only_changed = project.config.core.defaults.only_changed
        except BadInput as exc:
            problem = str(exc)
        try:
            package_version = version("orchestrate-ext")
        except PackageNotFoundError:
            package_version = "unknown"
        return {
            "version": package_version,
            "project": relative_to_root(self.root, self.project_dir),
            "problem": problem,
            "settings_keys": schedules.supported_keys(),
            "injected_parameters": list(INJECTED_PARAMETERS),
            "alert_routes": routes,
            "only_changed_default": only_changed,
            "timezones": sorted(available_timezones()),
        }

    # -- graph and nodes

    def graph(self, selection: str | None) -> dict[str, Any]:
        from orchestrate_ext.selection import select

        graph = self.graph_project().partial_graph.graph
        return graph.to_json(select(graph, selection))

    def nodes(self) -> dict[str, Any]:
        """Each node of the graph with its latest status, last success, Lab path, and what is wrong with it."""
        project = self.graph_project()
        partial = project.partial_graph
        blocked = partial.blocked()
        latest = history.latest_by_node(self.reader())
        alerts_zone = getattr(project.config.sections.get("alerts"), "timezone", None) or "UTC"
        marks = graph_markers.markers(partial.graph, latest, project.clock.now(), alerts_zone)
        documents = []
        for node_id, node in partial.graph.nodes.items():
            entry = latest.get(node_id, {})
            documents.append(
                {
                    "id": node_id,
                    "kind": node.kind,
                    "resource_type": node.resource_type,
                    "name": node.name,
                    "lab_path": relative_to_root(self.root, project.root / node.path) if node.path else None,
                    "runnable": node.runnable,
                    "last_status": entry.get("last_status"),
                    "last_run_id": entry.get("last_run_id"),
                    "last_finished_at": entry.get("last_finished_at"),
                    "last_success_at": entry.get("last_success_at"),
                    "last_success_run_id": entry.get("last_success_run_id"),
                    "problem": partial.broken.get(node_id),
                    "blocked_by": blocked.get(node_id),
                    "sla": node.settings.get("sla"),
                    "markers": marks.get(node_id, []),
                }
            )
        return {"nodes": documents}

    # -- schedules

    def notebook_form(self, notebook: str) -> dict[str, Any]:
        return schedules.notebook_form(self.graph_project(), self.root, notebook)

    def save_schedule(self, body: object) -> dict[str, Any]:
        request = schedules.ScheduleRequest.parse(body)
        saved = schedules.save_schedule(self.graph_project(), self.root, request)
        self.forget_project()
        return saved

    def remove_schedule(self, notebook: str) -> dict[str, Any]:
        removed = schedules.remove_schedule(self.project(), self.root, notebook)
        self.forget_project()
        return removed

    def cron_preview(self, expression: str, timezone: str, count: int) -> dict[str, Any]:
        return schedules.preview(expression, timezone, count, self.project().clock.now())

    # -- runs

    def runs(self, run_filter: history.RunFilter, limit: int, offset: int) -> dict[str, Any]:
        return history.list_runs(self.reader(), run_filter, limit, offset)

    def run(self, run_id: str) -> dict[str, Any]:
        return history.run_detail(self.reader(), self.state_dir, run_id)

    def trigger(
        self,
        selection: str | None,
        logical_date: datetime | None,
        parameters: dict[str, Any] | None = None,
        only_changed: bool | None = None,
    ) -> dict[str, Any]:
        """Start a run of ``selection`` (with ``parameters`` for its notebooks); broken nodes are left out.

        ``only_changed`` None takes the project's ``defaults.only_changed``.
        """
        project = self.graph_project()
        when = logical_date or project.clock.now()
        return run_summary(self.detached.trigger(project, self.store(), selection, when, parameters, only_changed))

    def plan(self, selection: str | None, logical_date: datetime | None, only_changed: bool | None) -> dict[str, Any]:
        """What a run of ``selection`` would do (:mod:`orchestrate_ext.planning`); the store is read, never made."""
        project = self.graph_project()
        store = project.open_store(read_only=True)
        try:
            when = logical_date or project.clock.now()
            return plan_project(project, store, selection, when, only_changed=only_changed).to_json()
        finally:
            store.close()

    def retry(self, run_id: str) -> dict[str, Any]:
        return run_summary(self.detached.retry(self.graph_project(), self.store(), run_id))

    def logs(self, run_id: str, node_id: str, try_number: int | None) -> dict[str, Any]:
        return history.read_logs(self.reader(), self.state_dir, run_id, node_id, try_number)

    def output(self, run_id: str, node_id: str, try_number: int | None) -> dict[str, Any]:
        return history.read_output(self.reader(), self.state_dir, run_id, node_id, try_number)

    def delete_runs(self, body: dict[str, Any]) -> dict[str, Any]:
        run_ids = body.get("run_ids")
        unknown = sorted(set(body) - {"run_ids"})
        if unknown:
            raise BadInput(f"request body: unknown key '{unknown[0]}'; use 'run_ids'")
        if not isinstance(run_ids, list) or not run_ids or not all(isinstance(item, str) for item in run_ids):
            raise BadInput("request body: 'run_ids' must be a non-empty list of run ids")
        if len(run_ids) > 500:
            raise BadInput(f"request body: {len(run_ids)} run ids; delete at most 500 at once")
        return history.delete_runs(self.store(), self.state_dir, list(dict.fromkeys(run_ids)))

    def output_html(self, run_id: str, node_id: str, try_number: int | None) -> tuple[str, str]:
        return history.output_html(self.reader(), self.state_dir, run_id, node_id, try_number)

    def node_recent(self, node_id: str) -> dict[str, Any]:
        project = self.graph_project()
        if node_id not in project.partial_graph.graph.nodes:
            raise NodeNotFound(f"no node '{node_id}'{did_you_mean(node_id, set(project.partial_graph.graph.nodes))}")
        return history.node_recent(self.reader(), node_id)

    def ticks(self, schedule: str | None, limit: int) -> dict[str, Any]:
        return scheduling.ticks(self.graph_project(), schedule, limit)

    def start_backfill(self, body: object) -> dict[str, Any]:
        return scheduling.start_backfill(self.graph_project(), self.detached, body)

    def cancel(self, run_id: str) -> dict[str, Any]:
        return scheduling.cancel(self.project(), run_id)

    # -- the scheduler

    def schedules(self) -> dict[str, Any]:
        return {"schedules": scheduling.schedule_documents(self.graph_project(), self.root)}

    def set_paused(self, name: str, paused: bool) -> dict[str, Any]:
        return scheduling.set_paused(self.graph_project(), self.root, name, paused)

    def scheduler_status(self) -> dict[str, Any]:
        return scheduling.scheduler_status(self.project(), self.detached)

    def start_scheduler(self) -> dict[str, Any]:
        return scheduling.start_scheduler(self.project(), self.detached)

    def stop_scheduler(self) -> dict[str, Any]:
        return scheduling.stop_scheduler(self.project(), self.detached)


def alert_routes(project: Project) -> list[dict[str, Any]]:
    """The routes of the ``alerts:`` section, if the alerts plugin is configured (read, never imported)."""
    section = project.config.sections.get("alerts")
    routes = getattr(section, "routes", None) or []
    found = []
    for index, route in enumerate(routes):
        data = route.model_dump(mode="json", exclude_none=True) if hasattr(route, "model_dump") else {}
        found.append(
            {
                "name": data.get("name") or f"route {index + 1}",
                "on": data.get("on", []),
                "slack": data.get("slack"),
                "email": data.get("email", []),
                "match": {key: value for key, value in (data.get("match") or {}).items() if value},
            }
        )
    return found
