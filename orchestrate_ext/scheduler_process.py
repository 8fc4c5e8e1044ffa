"""The scheduler process: starting it, its main loop (a step at every whole second), and its exit.

Starting, in order: load the project (orchestrate.yaml), open the store, build the
observers (on the partial graph, so a broken node does not keep the alerts from
starting; on an empty graph when the nodes cannot be read at all), load the
first snapshot. When a step of this fails, the scheduler cannot start: it says
so once as a ``config_error`` (scope ``scheduler``) when the observers exist,
and always records the reason as its exit (:mod:`orchestrate_ext.scheduling.exits`)
for ``orchestrate status`` and the Lab. A scheduler that starts settles that
alert (the scheduler reports an empty ``scheduler`` scope on its first step).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path

from orchestrate_ext.clock import Clock
from orchestrate_ext.errors import OrchestrateError
from orchestrate_ext.graph import Graph
from orchestrate_ext.interfaces import ConfigProblem, ConfigProblemListener, Observer
from orchestrate_ext.project import Project
from orchestrate_ext.redact import Redactor
from orchestrate_ext.scheduling.definitions import discover_schedule_set
from orchestrate_ext.scheduling.exits import fallback_state_dir, record_exit
from orchestrate_ext.scheduling.scheduler import SCHEDULER_SCOPE, Scheduler
from orchestrate_ext.scheduling.source import ProjectSnapshot, ProjectSource, config_problems
from orchestrate_ext.store import StateStore

log = logging.getLogger(__name__)

BACKOFF_LIMIT_SECONDS = 60.0
"""The longest wait between two tries of a step that keeps failing."""
REPEAT_LOG_SECONDS = 60.0
"""A step that keeps failing with the same problem is logged again after this long, not at every try."""


class StepFailures:
    """Consecutive failed steps: how long to wait before the next one, and which failures to log.

    The wait doubles from the tick after each failure, up to :data:`BACKOFF_LIMIT_SECONDS`; a problem is
    logged when it first appears, when it changes, and then once a minute with how often it recurred.
    """

    def __init__(self, clock: Clock, tick_seconds: float) -> None:
        self.clock = clock
        self.tick_seconds = tick_seconds
        self.count = 0
        self._problem: str | None = None
        self._logged_at: datetime | None = None
        self._since_logged = 0

    def failed(self, problem: str, trace: BaseException | None = None) -> None:
        self.count += 1
        self._since_logged += 1
        now = self.clock.now()
        due = self._logged_at is None or now - self._logged_at >= timedelta(seconds=REPEAT_LOG_SECONDS)
        if problem != self._problem or due:
            again = f" ({self._since_logged} failed steps since the last line)" if problem == self._problem else ""
            log.error(
                "scheduler step failed%s, trying again in %.0f s: %s",
                again,
                self.wait_seconds(),
                problem,
                exc_info=trace if problem != self._problem else None,
            )
            self._problem, self._logged_at, self._since_logged = problem, now, 0

    def succeeded(self) -> None:
        if self.count:
            log.warning("scheduler steps work again after %d failed", self.count)
        self.count, self._problem, self._logged_at, self._since_logged = 0, None, None, 0

    def wait_seconds(self) -> float:
        """Seconds to the next step: the tick, or the backoff after failures."""
        if not self.count:
            return self.tick_seconds
        return min(self.tick_seconds * 2**self.count, BACKOFF_LIMIT_SECONDS)


def serve(
    scheduler: Scheduler,
    stop: threading.Event,
    *,
    observers: Sequence[Observer] = (),
    tick_seconds: float = 1.0,
) -> None:
    """Call ``scheduler.step()`` just after every whole ``tick_seconds`` until ``stop`` is set.

    A step that fails (e.g. the store is unreachable or its disk is full) is tried again with a
    backoff (:class:`StepFailures`), logged once and then once a minute; observers get their
    periodic ``tick`` after each step.
    """
    failures = StepFailures(scheduler.clock, tick_seconds)
    while not stop.is_set():
        try:
            scheduler.step()
        except OrchestrateError as exc:
            failures.failed(str(exc))
        except Exception as exc:  # a long-running process outlives a bug in one step; the next step tries again
            failures.failed(problem_text(exc), trace=exc)
        else:
            failures.succeeded()
        now = scheduler.clock.now()
        for observer in observers:
            try:
                observer.tick(now)
            except Exception:  # an observer must not stop the scheduler
                log.exception("observer %r failed in tick", observer)
        wait = failures.wait_seconds()
        wall = scheduler.clock.now().timestamp()
        stop.wait(wait - (wall % tick_seconds) + 0.005)


def problem_text(exc: BaseException) -> str:
    """An error as one line for logs and alerts: our messages as they are, others with their type."""
    return str(exc) if isinstance(exc, OrchestrateError) else f"{type(exc).__name__}: {exc}"


def scheduler_observers(project: Project, store: StateStore) -> list[Observer]:
    """The project's observers on its partial graph (broken nodes included, for their owners), or on
    an empty graph when no node can be read (so that the alerts still say why)."""
    try:
        graph = project.partial_graph.graph
    except Exception as exc:  # the nodes cannot be read at all: the snapshot says why; the alerts must still start
        log.error("the project's nodes cannot be read: %s", problem_text(exc))
        graph = Graph(nodes={}, parents={}, declared={}, order=())
    return project.observers(store, graph)


def tell_cannot_start(observers: Sequence[Observer], reason: str, clock: Clock) -> None:
    """Say "the scheduler cannot start: ..." once to the observers that hear config problems."""
    problem = ConfigProblem(SCHEDULER_SCOPE, reason)
    for observer in observers:
        if isinstance(observer, ConfigProblemListener):
            try:
                observer.config_problems(SCHEDULER_SCOPE, [problem], clock.now())
            except Exception:  # the exit is recorded anyway
                log.exception("observer %r failed on config problems", observer)


def cannot_start_reason(exc: BaseException) -> str:
    """``the scheduler cannot start: ...``, secrets removed."""
    return Redactor()(f"the scheduler cannot start: {problem_text(exc)}")


def open_scheduler(
    project_dir: Path | None, clock: Clock, reload_seconds: float
) -> tuple[Project, StateStore, list[Observer], ProjectSource]:
    """Load the project, open its store, start its observers and load the first snapshot.

    Whatever fails is recorded as the scheduler's exit and, once the observers exist, told as a
    ``config_error`` (see :mod:`orchestrate_ext.scheduler_process`); then it is raised.
    """
    try:
        project = Project.load(project_dir, clock=clock)
    except Exception as exc:
        reason = cannot_start_reason(exc)
        log.error("%s", reason)
        state_dir = fallback_state_dir(project_dir)
        if state_dir is not None:
            record_exit(state_dir, clock.now(), reason, error=True)
        raise
    state_dir = project.config.workspace.state_dir
    observers: list[Observer] = []
    store: StateStore | None = None
    try:
        store = project.open_store()
        observers = scheduler_observers(project, store)
        _ = project.launcher  # connects to (or starts) a Dask cluster: part of starting
        return (
            project,
            store,
            observers,
            ProjectSource(lambda: load_snapshot(project_dir), refresh_seconds=reload_seconds),
        )
    except Exception as exc:
        reason = cannot_start_reason(exc)
        log.error("%s", reason)
        tell_cannot_start(observers, reason, clock)
        for observer in observers:
            observer.close(5.0)
        if store is not None:
            store.close()
        project.close()
        record_exit(state_dir, clock.now(), reason, error=True)
        raise


def load_snapshot(project_dir: Path | None) -> ProjectSnapshot:
    """Load the project (orchestrate.yaml, plugins, partial graph) and its schedules.

    Broken nodes and schedules are left out (see the module docstring).

    Raises:
        BadInput: the project cannot be loaded at all (orchestrate.yaml, a plugin, two nodes with one id).
    """
    project = Project.load(project_dir)
    partial = project.partial_graph
    config = project.config
    schedules = discover_schedule_set(
        config.core.schedules, partial, config.workspace.config_path, config.broken_schedules
    )
    redact = project.redactor()
    return ProjectSnapshot(
        graph=partial.runnable(),
        runners=project.runners,
        definitions=schedules.definitions,
        root=project.root,
        state_dir=project.config.workspace.state_dir,
        concurrency=project.config.core.concurrency,
        defaults=project.config.core.defaults,
        redact=redact,
        partial=partial,
        broken_schedules=schedules.broken,
        problems=config_problems(partial, schedules, redact),
        max_runs=project.config.core.max_runs,
    )
