"""The one table of legal status moves for runs, nodes and attempts.

Every status change of a run, a node state or an attempt is one of the moves
below; :func:`check_run`, :func:`check_node` and :func:`check_attempt` raise
:class:`~orchestrate_ext.errors.IllegalTransition` for any other. Writing a
status over itself is always legal (a write that only changes details, such as
what a ``waiting`` node waits for, or a write repeated after a crash).

Runs::

    queued ──▶ running ──▶ success | failed | cancelled
       └──────────────────────────────────▶ cancelled      (cancelled while queued)
    success | failed | cancelled ──▶ running               (``orchestrate retry``)

Nodes: ``pending`` waits for its parents; ``waiting`` for a resource;
``queued`` is handed to a runner; ``running`` started; ``up_for_retry`` waits
for its backoff. A run that executes again (retry, or a takeover after a
crash) resets what had not succeeded: a failed, skipped, upstream-failed or
cancelled node moves back to ``pending`` (or, on a takeover, to ``failed`` or
``up_for_retry`` by its retry policy). A node that succeeded (``success``,
``warned``, ``reused``) never changes again: its result stands.

Attempts: ``running`` ends once, in ``success``, ``failed``, ``timed_out``,
``cancelled`` or ``crashed``; an ended attempt never changes.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import TypeVar

from orchestrate_ext.errors import IllegalTransition
from orchestrate_ext.model import AttemptStatus, NodeStatus, RunStatus

_R = RunStatus
_N = NodeStatus
_A = AttemptStatus

RUN_MOVES: Mapping[RunStatus, frozenset[RunStatus]] = {
    _R.QUEUED: frozenset({_R.RUNNING, _R.CANCELLED}),
    _R.RUNNING: frozenset({_R.SUCCESS, _R.FAILED, _R.CANCELLED}),
    _R.SUCCESS: frozenset({_R.RUNNING}),
    _R.FAILED: frozenset({_R.RUNNING}),
    _R.CANCELLED: frozenset({_R.RUNNING}),
}

_RESET = frozenset({_N.PENDING, _N.FAILED, _N.UP_FOR_RETRY})
"""Where an execution that starts again (retry, takeover) puts a node that has not succeeded."""
_BEFORE_START = frozenset({_N.SKIPPED, _N.UPSTREAM_FAILED, _N.CANCELLED})
"""How a node that never started ends: gone from the project, a parent failed, the run was cancelled."""

NODE_MOVES: Mapping[NodeStatus, frozenset[NodeStatus]] = {
    _N.PENDING: _RESET | _BEFORE_START | {_N.WAITING, _N.QUEUED, _N.REUSED},
    _N.WAITING: _RESET | _BEFORE_START | {_N.QUEUED, _N.REUSED},
    _N.QUEUED: _RESET | _BEFORE_START | {_N.RUNNING, _N.WAITING},
    _N.RUNNING: _RESET | _BEFORE_START | {_N.SUCCESS, _N.WARNED},
    _N.UP_FOR_RETRY: _RESET | _BEFORE_START | {_N.WAITING, _N.QUEUED},
    _N.FAILED: _RESET | {_N.SKIPPED},
    _N.SKIPPED: _RESET,
    _N.UPSTREAM_FAILED: _RESET | {_N.SKIPPED},
    _N.CANCELLED: _RESET | {_N.SKIPPED},
    _N.SUCCESS: frozenset(),
    _N.WARNED: frozenset(),
    _N.REUSED: frozenset(),
}

ATTEMPT_MOVES: Mapping[AttemptStatus, frozenset[AttemptStatus]] = {
    _A.RUNNING: frozenset({_A.SUCCESS, _A.FAILED, _A.TIMED_OUT, _A.CANCELLED, _A.CRASHED}),
    _A.SUCCESS: frozenset(),
    _A.FAILED: frozenset(),
    _A.TIMED_OUT: frozenset(),
    _A.CANCELLED: frozenset(),
    _A.CRASHED: frozenset(),
}

S = TypeVar("S", bound=StrEnum)


def is_legal(table: Mapping[S, frozenset[S]], old: S, new: S) -> bool:
    """Whether ``old`` may become ``new`` under ``table`` (a status written over itself always may)."""
    return old == new or new in table[old]


def _check(kind: str, table: Mapping[S, frozenset[S]], subject: str, old: S, new: S) -> S:
    if not is_legal(table, old, new):
        raise IllegalTransition(kind, subject, old.value, new.value, sorted(status.value for status in table[old]))
    return new


def check_run(run_id: str, old: RunStatus, new: RunStatus) -> RunStatus:
    """``new`` when a run may move from ``old`` to it; else :class:`IllegalTransition`."""
    return _check("run", RUN_MOVES, run_id, old, new)


def check_node(subject: str, old: NodeStatus, new: NodeStatus) -> NodeStatus:
    """``new`` when a node state may move from ``old`` to it; else :class:`IllegalTransition`."""
    return _check("node", NODE_MOVES, subject, old, new)


def check_attempt(subject: str, old: AttemptStatus, new: AttemptStatus) -> AttemptStatus:
    """``new`` when an attempt may move from ``old`` to it; else :class:`IllegalTransition`."""
    return _check("attempt", ATTEMPT_MOVES, subject, old, new)
