"""What the executor announces, after it has written it to the state store."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from orchestrate_ext.model import NodeStatus, RunRecord


@dataclass(frozen=True, slots=True)
class NodeChanged:
    run_id: str
    node_id: str
    kind: str
    status: NodeStatus
    try_number: int
    error: str | None = None
    waiting_for: str | None = None
    reason: str | None = None
    """Why an ``--only-changed`` run ran or reused the node."""


class RunListener(Protocol):
    """Told of every change, in order, from the executor's own thread."""

    def run_started(self, run: RunRecord, node_ids: list[str]) -> None: ...

    def node_changed(self, change: NodeChanged) -> None: ...

    def run_finished(self, run: RunRecord) -> None: ...
