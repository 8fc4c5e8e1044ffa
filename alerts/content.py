"""What an alert says, independent of the channel that carries it.

:class:`AlertContent` is stored (as JSON) in the outbox and rendered by each
channel when it is sent, so a message looks the same after a restart.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from typing import Any

KIND_FAILURE = "failure"
KIND_DIGEST = "digest"
KIND_REPEAT = "repeat"
KIND_REMINDER = "reminder"
KIND_RECOVERY = "recovery"
KIND_RETRY = "retry"
KIND_SLA = "sla_miss"
KIND_RUN = "run_finished"
KIND_TEST = "test"
KIND_WARNING = "test_warning"
KIND_CONFIG_ERROR = "config_error"
KIND_CONFIG_FIXED = "config_fixed"


@dataclass(frozen=True)
class Blocker:
    """A node holding another back, and how: ``running for 42 min``, ``failed``, ``waiting``."""

    node_id: str
    name: str
    state: str
    detail: str


@dataclass(frozen=True)
class NodeItem:
    """One node an alert is about."""

    node_id: str
    name: str
    kind: str
    resource_type: str
    owner: str | None = None
    path: str = ""
    status: str = ""
    error: str | None = None
    try_number: int = 0
    log_tail: str = ""
    log_path: str | None = None
    output_path: str | None = None
    output_link: str | None = None
    skipped: list[str] = field(default_factory=list)
    sla: str | None = None
    """The SLA as written, e.g. ``finish_by 07:30 (Europe/Berlin)``."""
    deadline: str | None = None
    sla_state: str | None = None
    """``missed`` (the deadline passed) or ``will miss`` (it cannot be met any more)."""
    blockers: list[Blocker] = field(default_factory=list)
    exposures: list[str] = field(default_factory=list)
    """Exposures (dashboards, ...) downstream of a failed node: ``name (owner)``."""
    exposure_owners: list[str] = field(default_factory=list)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> NodeItem:
        known = {f.name for f in fields(cls)}
        values = {key: value for key, value in data.items() if key in known}
        values["blockers"] = [Blocker(**blocker) for blocker in data.get("blockers") or []]
        return cls(**values)


@dataclass(frozen=True)
class RunInfo:
    run_id: str
    scope: str
    """``schedule 'nightly'`` or ``pipeline`` (a run started by hand)."""
    logical_date: str
    status: str = ""
    trigger: str = ""


@dataclass(frozen=True)
class AlertContent:
    """One message: its kind, the run, the nodes, and where to look.

    Attributes:
        updates: lines added to a posted message when it is updated in place
            (``stg_orders failed again at 06:05``).
        note: a line shown above everything else (e.g. why a fallback was used).
    """

    kind: str
    title: str
    run: RunInfo | None = None
    items: list[NodeItem] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)
    updates: list[str] = field(default_factory=list)
    note: str | None = None
    counts: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> AlertContent:
        data = json.loads(text)
        return cls(
            kind=data["kind"],
            title=data["title"],
            run=RunInfo(**data["run"]) if data.get("run") else None,
            items=[NodeItem.from_dict(item) for item in data.get("items") or []],
            commands=list(data.get("commands") or []),
            updates=list(data.get("updates") or []),
            note=data.get("note"),
            counts=dict(data.get("counts") or {}),
        )

    def with_updates(self, *lines: str) -> AlertContent:
        return AlertContent(**{**self.__dict__, "updates": [*self.updates, *lines][-10:]})

    def with_note(self, note: str) -> AlertContent:
        return AlertContent(**{**self.__dict__, "note": note})

    @property
    def owners(self) -> list[str]:
        found = {item.owner for item in self.items if item.owner}
        found |= {owner for item in self.items for owner in item.exposure_owners}
        return sorted(found)
