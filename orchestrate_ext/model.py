"""The data types shared by the engine, the plugins and the state store."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any


class NodeStatus(StrEnum):
    """Where one node stands within one run."""

    PENDING = "pending"
    WAITING = "waiting"
    """Ready, but an exclusive resource it needs is held by another node (``waiting_for`` says which)."""
    QUEUED = "queued"
    RUNNING = "running"
    UP_FOR_RETRY = "up_for_retry"
    SUCCESS = "success"
    WARNED = "warned"
    """Succeeded with a warning (a dbt test of ``severity: warn`` that found rows); dependants run."""
    REUSED = "reused"
    """Not run: its result from an earlier run is still current (``--only-changed``); dependants run."""
    FAILED = "failed"
    SKIPPED = "skipped"
    UPSTREAM_FAILED = "upstream_failed"
    CANCELLED = "cancelled"

    @property
    def is_final(self) -> bool:
        return self in _FINAL_NODE_STATUSES

    @property
    def is_done(self) -> bool:
        """Final and good for its dependants: success, warned or reused."""
        return self in _DONE_NODE_STATUSES


_DONE_NODE_STATUSES = frozenset({NodeStatus.SUCCESS, NodeStatus.WARNED, NodeStatus.REUSED})
_FINAL_NODE_STATUSES = _DONE_NODE_STATUSES | {
    NodeStatus.FAILED,
    NodeStatus.SKIPPED,
    NodeStatus.UPSTREAM_FAILED,
    NodeStatus.CANCELLED,
}


class AttemptStatus(StrEnum):
    """How one try of one node ended (or that it is still running)."""

    RUNNING = "running"
    SUCCESS = "success"
    FAILED = "failed"
    TIMED_OUT = "timed_out"
    CANCELLED = "cancelled"
    CRASHED = "crashed"


@dataclass(frozen=True, slots=True)
class ReusePolicy:
    """Whether an ``--only-changed`` run may reuse a node's earlier result.

    Attributes:
        allowed: False for ``reuse: never`` (e.g. a notebook that reads from an API).
        max_age: seconds after which an earlier success is too old to reuse; None for no limit.
    """

    allowed: bool = True
    max_age: float | None = None


class RunStatus(StrEnum):
    """Where one run stands; the legal moves between them are in :mod:`orchestrate_ext.transitions`."""

    QUEUED = "queued"
    """Created, waiting for the run coordinator to admit it (``max_runs``, a schedule's ``max_active_runs``)."""
    RUNNING = "running"
    SUCCESS = "success"
    FAILED = "failed"
    CANCELLED = "cancelled"


@dataclass(frozen=True, slots=True)
class Node:
    """One vertex of the pipeline graph, as a plugin discovered it.

    Attributes:
        id: unique id (dbt's ``unique_id``, or ``notebook.<path>``).
        kind: the plugin's kind of node: ``dbt``, ``notebook`` or ``source``.
        resource_type: finer type: model, seed, snapshot, test, source, notebook.
        name: short name a user types in a selector.
        path: file path relative to the workspace root, POSIX style.
        depends_on: references to other nodes, resolved when the graph is built.
        produces: references to non-runnable nodes this node fills (e.g. a
            dbt source written by a notebook); they then depend on this node.
        gated_by: nodes that must also succeed before any dependant of this
            node may start (a dbt model's tests).
        waits_for: references to further nodes that must succeed before this
            one starts, without being drawn as its dependencies (dbt's tests on
            several nodes, which gate the nodes downstream of all of them).
        gated: False for a node that does not wait for the gates of its
            parents (as ``dbt build`` runs exposures and saved queries).
        failure_blocks: False for a node whose failure does not stop its dependants (dbt's
            ``on-run-start`` hooks: ``dbt build`` runs the nodes after a failed one).
        runs_after_failures: True for a node that starts once its parents have ended, whatever
            their status (dbt's ``on-run-end`` hooks); when a retry or resumption runs one of
            its parents again, it runs again after it.
        accompanies: True for a node that belongs to every run that includes one of its parents
            or children (dbt's project hooks, which ``dbt build`` runs whatever it selects).
        aliases: other names under which references may point at this node.
        runnable: False for nodes that only stand for data (sources).
        resources: names of exclusive resources held while the node runs.
        env_passthrough: secret environment variables (named in orchestrate.yaml) this node's
            process still gets; every other one is withheld (see :mod:`orchestrate_ext.secrets`).
        retries / retry_backoff / timeout: per-node overrides of the defaults.
        reuse: when an ``--only-changed`` run may reuse this node's earlier result.
        settings: the plugin-specific payload its runner needs.
    """

    id: str
    kind: str
    resource_type: str
    name: str
    path: str = ""
    depends_on: tuple[str, ...] = ()
    produces: tuple[str, ...] = ()
    gated_by: tuple[str, ...] = ()
    waits_for: tuple[str, ...] = ()
    gated: bool = True
    failure_blocks: bool = True
    runs_after_failures: bool = False
    accompanies: bool = False
    aliases: tuple[str, ...] = ()
    runnable: bool = True
    owner: str | None = None
    tags: frozenset[str] = frozenset()
    resources: tuple[str, ...] = ()
    env_passthrough: tuple[str, ...] = ()
    retries: int | None = None
    retry_backoff: float | None = None
    timeout: float | None = None
    reuse: ReusePolicy = ReusePolicy()
    parameters: Mapping[str, Any] = field(default_factory=dict)
    settings: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class RunRecord:
    """One run of (a selection of) the pipeline.

    Attributes:
        parameters: passed to every notebook of the run (a schedule's ``parameters``,
            or what the user gave to ``orchestrate run --param``).
        started_at: when the run first started; a resumption (``orchestrate retry``, a
            takeover after a crash) never changes it.
        resumed_at / resumptions: the latest resumption and how many there were.
        only_changed: run only nodes whose fingerprint changed since their last success; the
            others are ``reused`` (see :mod:`orchestrate_ext.execution.reuse`).
        left_out: the nodes the run's selection chose but could not run, by id, with why (a broken
            node, or one that waits for a broken node: :meth:`~orchestrate_ext.partial_graph.PartialGraph.left_out`).
            They are no nodes of the run. A retry adds the nodes of the run it cannot run any more
            (a newer reason replaces an older one) and removes none: it runs only the run's own nodes.
    """

    run_id: str
    status: RunStatus
    created_at: datetime
    logical_date: datetime
    trigger: str = "manual"
    selection: str | None = None
    schedule: str | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    parameters: Mapping[str, Any] = field(default_factory=dict)
    resumed_at: datetime | None = None
    resumptions: int = 0
    only_changed: bool = False
    left_out: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class NodeRunRecord:
    """The state of one node within one run.

    ``error`` is why it failed (or the warning of a ``warned`` node);
    ``waiting_for`` says what a ``waiting`` node waits for.

    Attributes:
        fingerprint: what determined the node's result (its code, its inputs), set when it
            succeeded or was reused; an ``--only-changed`` run compares it.
        result: which try produced the data the node stands for: ``<run id>:<try>``; a
            ``reused`` node keeps the result it reuses.
        reason: why an ``--only-changed`` run ran or reused the node.
    """

    run_id: str
    node_id: str
    kind: str
    status: NodeStatus
    attempts: int = 0
    started_at: datetime | None = None
    finished_at: datetime | None = None
    error: str | None = None
    waiting_for: str | None = None
    fingerprint: str | None = None
    result: str | None = None
    reason: str | None = None

    @property
    def reused_from(self) -> str | None:
        """The run whose result a ``reused`` node stands for."""
        if self.status != NodeStatus.REUSED or not self.result:
            return None
        return result_run(self.result)


def result_id(run_id: str, try_number: int) -> str:
    """The identity of the data one try of a node produced."""
    return f"{run_id}:{try_number}"


def result_run(result: str) -> str:
    """The run of a :func:`result_id`."""
    return result.rpartition(":")[0]


@dataclass(frozen=True, slots=True)
class AttemptRecord:
    """One try of one node; ``worker`` says where it ran (``local``, or a Dask worker's address)."""

    run_id: str
    node_id: str
    try_number: int
    status: AttemptStatus
    started_at: datetime
    finished_at: datetime | None = None
    error: str | None = None
    log_path: str | None = None
    output_path: str | None = None
    worker: str | None = None


#: How long a run waits for an unreachable PostgreSQL state store by default (``state.outage_wait``).
DEFAULT_OUTAGE_WAIT = 120.0


@dataclass(frozen=True)
class StateLocation:
    """A state store's place: ``path`` of a SQLite file, or ``url`` of a PostgreSQL database.

    ``outage_wait``: seconds a run waits for an unreachable PostgreSQL server (``state.outage_wait``).
    """

    path: Path | None = None
    url: str | None = None
    outage_wait: float = DEFAULT_OUTAGE_WAIT
