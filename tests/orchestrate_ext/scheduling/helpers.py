"""A fake clock, a scriptable runner and a small project for scheduler tests (no real processes)."""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from orchestrate_ext.execution.claims import ProcessSupervisor
from orchestrate_ext.execution.liveness import ProcessIdentity
from orchestrate_ext.graph import Graph, build_graph
from orchestrate_ext.interfaces import BatchReporter, NodeOutcome, NodeTask, RunContext
from orchestrate_ext.model import AttemptStatus, Node
from orchestrate_ext.scheduling.definitions import ScheduleDefinition
from orchestrate_ext.scheduling.scheduler import Scheduler, SchedulerOptions
from orchestrate_ext.scheduling.source import ProjectSnapshot, StaticSource
from orchestrate_ext.store import SQLiteStore, open_store


class FakeClock:
    """Time that moves only when a test says so."""

    def __init__(self, start: datetime) -> None:
        self.current = start
        self.ticks = 0.0

    def now(self) -> datetime:
        return self.current

    def monotonic(self) -> float:
        return self.ticks

    def set(self, moment: datetime) -> datetime:
        self.ticks += max(0.0, (moment - self.current).total_seconds())
        self.current = moment
        return moment

    def advance(self, **delta: float) -> datetime:
        return self.set(self.current + timedelta(**delta))


class FakeRunner:
    """Succeeds, or plays ``script[node_id]`` ('ok' / 'fail', one per call); ``gate`` holds every node until set."""

    batchable = False

    def __init__(self, script: Mapping[str, Sequence[str]] | None = None) -> None:
        self.script = {key: list(value) for key, value in (script or {}).items()}
        self.gate = threading.Event()
        self.gate.set()
        self.calls: list[tuple[str, str, datetime, dict[str, Any]]] = []
        self.lock = threading.RLock()

    def run(
        self, context: RunContext, tasks: Sequence[NodeTask], reporter: BatchReporter, cancel: threading.Event
    ) -> None:
        for task in tasks:
            with self.lock:
                plan = self.script.get(task.node.id, ["ok"])
                step = plan[min(self.nodes_run().count(task.node.id), len(plan) - 1)]
                self.calls.append((context.run_id, task.node.id, context.logical_date, dict(context.parameters)))
            reporter.started(task.node.id)
            while not self.gate.wait(0.02):
                if cancel.is_set():
                    reporter.finished(task.node.id, NodeOutcome(AttemptStatus.CANCELLED, "cancelled"))
                    return
            status = AttemptStatus.SUCCESS if step == "ok" else AttemptStatus.FAILED
            reporter.finished(task.node.id, NodeOutcome(status, None if step == "ok" else "scripted failure"))

    def nodes_run(self) -> list[str]:
        with self.lock:
            return [call[1] for call in self.calls]


def fake_node(node_id: str, *, depends_on: Sequence[str] = (), **fields: Any) -> Node:
    return Node(
        id=node_id,
        kind="fake",
        resource_type=str(fields.pop("resource_type", "model")),
        name=str(fields.pop("name", node_id.split(".")[-1])),
        depends_on=tuple(depends_on),
        **fields,
    )


def small_graph() -> Graph:
    """load -> transform -> report, and an unrelated node ``other``."""
    return build_graph(
        [
            fake_node("fake.load"),
            fake_node("fake.transform", depends_on=["fake.load"]),
            fake_node("fake.report", depends_on=["fake.transform"]),
            fake_node("fake.other"),
        ]
    )


def snapshot(
    tmp_path: Path,
    definitions: Sequence[ScheduleDefinition],
    runner: FakeRunner,
    graph: Graph | None = None,
    **fields: Any,
) -> ProjectSnapshot:
    return ProjectSnapshot(
        graph=graph or small_graph(),
        runners={"fake": runner},
        definitions={definition.name: definition for definition in definitions},
        root=tmp_path,
        state_dir=tmp_path / ".orchestrate",
        **fields,
    )


def identity(name: str) -> ProcessIdentity:
    """A process identity that is no real process (its liveness is decided by :class:`FakeLiveness`)."""
    return ProcessIdentity(f"host-{name}", 10_000 + sum(map(ord, name)), 1.0)


class FakeLiveness:
    """Everybody lives except the owners in ``dead``."""

    def __init__(self) -> None:
        self.dead: set[str] = set()

    def is_alive(self, owner: str | None, heartbeat_at: datetime | None, now: datetime) -> bool:
        return owner not in self.dead


def make_scheduler(
    store: SQLiteStore,
    clock: FakeClock,
    source: ProjectSnapshot | StaticSource,
    *,
    name: str = "a",
    liveness: FakeLiveness | None = None,
    **options: Any,
) -> Scheduler:
    static = source if isinstance(source, StaticSource) else StaticSource(source)
    supervisor = ProcessSupervisor(store, clock, identity=identity(name))
    return Scheduler(
        static,
        store,
        clock,
        supervisor=supervisor,
        liveness=liveness or FakeLiveness(),
        options=SchedulerOptions(**options),
    )


def open_state(tmp_path: Path) -> SQLiteStore:
    return open_store(tmp_path / ".orchestrate" / "state.db")


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]
