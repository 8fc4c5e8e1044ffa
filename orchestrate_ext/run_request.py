"""What defines one run, as one value: every way of starting a run builds a :class:`RunRequest`.

The CLI (``orchestrate run``), the scheduler (cron, catch-up, ``after:`` and
``on_file:`` ticks), backfill and the REST API describe the run they want with
a request; the executor plans the run from it and the run coordinator
(:mod:`orchestrate_ext.execution.coordinator`) queues it and starts it under
the limits (``max_runs``, a schedule's ``max_active_runs``), highest
:attr:`RunRequest.priority` first.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import IntEnum
from typing import Any


class Priority(IntEnum):
    """Which queued run the coordinator starts first: higher first, then the oldest."""

    BACKFILL = 0
    CATCH_UP = 10
    SCHEDULED = 50
    MANUAL = 100
    """A run somebody is waiting for (the CLI, the Lab) goes before catch-up and backfill."""


@dataclass(frozen=True, slots=True)
class RunRequest:
    """Everything that defines a run, before it exists.

    Attributes:
        node_ids: the nodes the selection chose (only the runnable ones become nodes of the run).
        logical_date: the date the run is for.
        trigger: what started it (``manual``, ``cron``, ``catch_up``, ``after``, ``on_file``, ``backfill``).
        selection: the selector text, as shown in the history.
        schedule: the schedule it belongs to, if any.
        parameters: passed to every notebook of the run.
        only_changed: run only what changed; None takes ``defaults.only_changed``.
        left_out: nodes the selection chose that the run cannot include, with why.
        priority: see :class:`Priority`.
        limit_key: the schedule whose ``max_active_runs`` this run counts against (a schedule's own
            runs, and a manual run of the same selection); None for none.
        max_active: that schedule's ``max_active_runs``.
    """

    node_ids: frozenset[str]
    logical_date: datetime
    trigger: str = "manual"
    selection: str | None = None
    schedule: str | None = None
    parameters: Mapping[str, Any] = field(default_factory=dict)
    only_changed: bool | None = None
    left_out: Mapping[str, str] = field(default_factory=dict)
    priority: int = Priority.MANUAL
    limit_key: str | None = None
    max_active: int | None = None

    @classmethod
    def of(cls, node_ids: Collection[str], logical_date: datetime, **options: Any) -> RunRequest:
        """A request for ``node_ids``; ``options`` are the other attributes (mappings are copied)."""
        for name in ("parameters", "left_out"):
            if name in options:
                options[name] = dict(options[name] or {})
        if options.get("limit_key") is None and options.get("schedule") is not None:
            options["limit_key"] = options["schedule"]
        return cls(frozenset(node_ids), logical_date, **options)
