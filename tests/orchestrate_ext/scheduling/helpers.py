"""A small project and scheduler for scheduler tests on a fake clock (no real processes)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from orchestrate_ext.execution.claims import Supervisor
from orchestrate_ext.execution.liveness import ProcessIdentity
from orchestrate_ext.graph import Graph, build_graph
from orchestrate_ext.model import Node
from orchestrate_ext.scheduling.definitions import ScheduleDefinition
from orchestrate_ext.scheduling.scheduler import Scheduler, SchedulerOptions
from orchestrate_ext.scheduling.source import ProjectSnapshot, StaticSource
from orchestrate_ext.store import StateStore
from orchestrate_ext.testing import FakeClock, ScriptedRunner


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
    runner: ScriptedRunner,
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
    store: StateStore,
    clock: FakeClock,
    source: ProjectSnapshot | StaticSource,
    *,
    name: str = "a",
    liveness: FakeLiveness | None = None,
    listeners: Sequence[Any] = (),
    **options: Any,
) -> Scheduler:
    static = source if isinstance(source, StaticSource) else StaticSource(source)
    liveness = liveness or FakeLiveness()
    supervisor = Supervisor(store, clock, identity=identity(name), liveness=liveness)
    return Scheduler(
        static,
        store,
        clock,
        supervisor=supervisor,
        liveness=liveness,
        options=SchedulerOptions(**options),
        listeners=listeners,
    )


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]
