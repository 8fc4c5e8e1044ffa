"""The state store interface: every run, node state and attempt.

Implementations must make each method one transaction, be safe to use from
several threads and several processes at once, and store datetimes in UTC.
``tests/orchestrate_ext/test_store_contract.py`` runs against every one.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from orchestrate_ext.model import AttemptRecord, NodeRunRecord, RunRecord, RunStatus


class StateStore(Protocol):
    def create_run(self, run: RunRecord, nodes: Sequence[NodeRunRecord]) -> None:
        """Persist a new run and the initial state of each of its nodes."""
        ...

    def get_run(self, run_id: str) -> RunRecord:
        """The run with that id; raises ``RunNotFound``."""
        ...

    def list_runs(self, limit: int = 50) -> list[RunRecord]:
        """The newest runs first."""
        ...

    def set_run_status(
        self,
        run_id: str,
        status: RunStatus,
        *,
        started_at: datetime | None = None,
        finished_at: datetime | None = None,
    ) -> None:
        """Change a run's status; given times overwrite, ``None`` keeps them."""
        ...

    def get_node_states(self, run_id: str) -> list[NodeRunRecord]:
        """Each node of the run, with ``attempts`` counted from its attempt records."""
        ...

    def set_node_state(self, state: NodeRunRecord) -> None:
        """Insert or replace one node's state within its run."""
        ...

    def start_attempt(self, attempt: AttemptRecord, state: NodeRunRecord) -> None:
        """Record a new try and the node's new state together."""
        ...

    def finish_attempt(self, attempt: AttemptRecord, state: NodeRunRecord) -> bool:
        """Close a running try and update the node's state together.

        Fenced: when that try is no longer ``running`` (another process
        already closed it) nothing is written and False is returned.
        """
        ...

    def get_attempts(self, run_id: str, node_id: str | None = None) -> list[AttemptRecord]:
        """Attempts of a run (optionally of one node), oldest first."""
        ...

    def close(self) -> None: ...
