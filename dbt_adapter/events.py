"""dbt's structured log lines (``--log-format json``), read as typed events.

orchestrate-ext runs dbt at ``--log-level info``: debug level (where
``NodeStart``/``NodeFinished`` live) multiplies dbt's output by ~12 and costs
10-15 % of a ``dbt build``. At info level each node gives:

- ``LogStartLine`` when it starts (no-op nodes such as saved queries have none;
  a project hook gives ``LogHookStartLine``);
- one result event (``LogModelResult``, ``LogTestResult``, ``SkippingDetails``,
  ...) whose ``node_info.node_status`` is its final status;
- for errors and warnings, a ``RunResultError``/``RunResultWarningMessage``
  with dbt's message, in the summary at the end of the invocation.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

RESULT_EVENTS = frozenset(
    {
        "LogModelResult",
        "LogSeedResult",
        "LogSnapshotResult",
        "LogTestResult",
        "LogNodeResult",
        "LogFunctionResult",
        "LogFreshnessResult",
        "LogNodeNoOpResult",
        "SkippingDetails",
        "LogHookEndLine",
    }
)
"""dbt/events/types.py: the events that report one node's final status."""
START_EVENTS = frozenset({"LogStartLine", "LogHookStartLine"})
_OWN_STATUS_EVENTS = frozenset({"LogTestResult", "LogFreshnessResult"})
MESSAGE_EVENTS = frozenset({"RunResultError", "RunResultErrorNoMessage", "RunResultWarningMessage"})
"""The end-of-invocation summary lines that carry a node's error or warning text."""


@dataclass(frozen=True, slots=True)
class DbtEvent:
    name: str
    level: str
    message: str
    unique_id: str | None
    data: dict[str, Any]

    @property
    def node_status(self) -> str | None:
        """The node's status as of this event (final on result events).

        Test and freshness results carry it as ``status`` too, and there it is
        reliable: a unit test run by ``dbt test`` reports ``node_status`` "None".
        """
        if self.name in _OWN_STATUS_EVENTS and self.data.get("status"):
            return str(self.data["status"])
        info = self.data.get("node_info") or {}
        status = info.get("node_status")
        return str(status) if status and status != "None" else None

    @property
    def summary_text(self) -> str | None:
        """The error or warning text of a summary event."""
        if self.name == "RunResultErrorNoMessage":
            return f"dbt reported status '{self.data.get('status')}'"
        return self.data.get("msg") or None

    @property
    def num_failures(self) -> int:
        value = self.data.get("num_failures")
        return int(value) if isinstance(value, int | float) else 0


def parse_line(line: str) -> DbtEvent | None:
    """The event on one line of dbt's JSON log, or None for any other text."""
    if not line.startswith("{"):
        return None
    try:
        raw = json.loads(line)
        info = raw["info"]
        data = raw.get("data") or {}
        node_info = data.get("node_info") or {}
        return DbtEvent(
            name=info["name"],
            level=info.get("level", "info"),
            message=info.get("msg", ""),
            unique_id=node_info.get("unique_id") or data.get("unique_id"),
            data=data,
        )
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


def error_messages(lines: list[str]) -> list[str]:
    """The error-level messages among dbt's JSON log lines, else the plain text lines."""
    events = [parse_line(line) for line in lines]
    errors = [event.message for event in events if event and event.level == "error" and event.message]
    if errors:
        return errors
    return [line.rstrip() for line, event in zip(lines, events, strict=True) if event is None and line.strip()]
