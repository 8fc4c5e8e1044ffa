"""The symbol and colour of every node and run status, wherever a terminal shows one.

One table for the live progress of ``orchestrate run`` and for the views of
``orchestrate runs``, ``show``, ``status`` and ``freshness``, so a status looks
the same everywhere. Colours are rich style names; the symbols carry the
meaning on their own (output without colour stays readable).
"""

from __future__ import annotations

from orchestrate_ext.model import NodeStatus, RunStatus

NODE_MARKS: dict[NodeStatus, tuple[str, str]] = {
    NodeStatus.SUCCESS: ("✓", "green"),
    NodeStatus.WARNED: ("!", "yellow"),
    NodeStatus.REUSED: ("=", "green"),
    NodeStatus.FAILED: ("✗", "red"),
    NodeStatus.UPSTREAM_FAILED: ("⤫", "yellow"),
    NodeStatus.SKIPPED: ("-", "dim"),
    NodeStatus.CANCELLED: ("■", "magenta"),
    NodeStatus.UP_FOR_RETRY: ("↻", "yellow"),
    NodeStatus.RUNNING: ("▶", "cyan"),
    NodeStatus.WAITING: ("⏸", "yellow"),
    NodeStatus.QUEUED: ("…", "cyan"),
    NodeStatus.PENDING: ("·", "dim"),
}

RUN_MARKS: dict[RunStatus, tuple[str, str]] = {
    RunStatus.SUCCESS: ("✓", "green"),
    RunStatus.FAILED: ("✗", "red"),
    RunStatus.CANCELLED: ("■", "magenta"),
    RunStatus.RUNNING: ("▶", "cyan"),
    RunStatus.QUEUED: ("…", "cyan"),
}

STALE_MARK = ("⧗", "yellow")
"""A node whose data is older than its schedule or freshness SLA allows."""


def node_mark(status: NodeStatus | str) -> tuple[str, str]:
    """``(symbol, colour)`` of a node status (an unknown one gets a neutral dot)."""
    try:
        return NODE_MARKS[NodeStatus(status)]
    except ValueError:
        return ("·", "white")


def run_mark(status: RunStatus | str) -> tuple[str, str]:
    try:
        return RUN_MARKS[RunStatus(status)]
    except (ValueError, KeyError):
        return ("·", "white")
