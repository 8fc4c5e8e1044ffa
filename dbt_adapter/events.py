"""dbt's structured log lines (``--log-format json``), read as typed events."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class DbtEvent:
    name: str
    level: str
    message: str
    unique_id: str | None
    data: dict[str, Any]

    @property
    def run_status(self) -> str | None:
        """The final status in ``NodeFinished`` (success/error/pass/fail/warn/skipped)."""
        result = self.data.get("run_result") or {}
        return result.get("status")

    @property
    def run_message(self) -> str | None:
        result = self.data.get("run_result") or {}
        return result.get("message") or None


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
