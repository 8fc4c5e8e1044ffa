"""Why the scheduler last stopped, kept in the state folder for ``orchestrate status`` and the Lab.

Protocol: the scheduler process writes ``scheduler-exit.json`` in the project's
state folder whenever it exits: on a clean stop (a signal; ``error`` false) and
when it cannot start or stops on an error (``error`` true, ``reason`` says what
and how to fix it, secrets removed). A scheduler that starts writes nothing, so
the file always describes the last exit; readers show it when no scheduler
holds the lease. The write replaces the file atomically; a missing or
unreadable file reads as "no exit known".
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from orchestrate_ext.clock import isoformat, parse_datetime
from orchestrate_ext.config import DEFAULT_STATE_PATH, find_config

EXIT_FILE = "scheduler-exit.json"


@dataclass(frozen=True)
class SchedulerExit:
    """One exit of a scheduler process.

    Attributes:
        error: True when it stopped because something is wrong (it could not start, or failed).
        reason: what happened, e.g. ``the scheduler cannot start: ...`` or ``stopped by SIGTERM``.
    """

    at: datetime
    reason: str
    error: bool
    pid: int

    def document(self) -> dict[str, Any]:
        return {"at": isoformat(self.at), "reason": self.reason, "error": self.error, "pid": self.pid}


def record_exit(state_dir: Path, at: datetime, reason: str, *, error: bool) -> SchedulerExit:
    """Write the exit record (never raises: a scheduler that cannot write it still exits)."""
    record = SchedulerExit(at, reason, error, os.getpid())
    try:
        state_dir.mkdir(parents=True, exist_ok=True)
        scratch = state_dir / f".{EXIT_FILE}.{os.getpid()}"
        scratch.write_text(json.dumps(record.document(), indent=2) + "\n", encoding="utf-8")
        os.replace(scratch, state_dir / EXIT_FILE)
    except OSError:
        pass
    return record


def last_exit(state_dir: Path) -> SchedulerExit | None:
    """The last exit recorded in ``state_dir``, or None."""
    try:
        data = json.loads((state_dir / EXIT_FILE).read_text(encoding="utf-8"))
        return SchedulerExit(parse_datetime(data["at"]), str(data["reason"]), bool(data["error"]), int(data["pid"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def fallback_state_dir(project_dir: Path | None) -> Path | None:
    """The default state folder of a project whose orchestrate.yaml cannot be read (None: no project there)."""
    try:
        return find_config(project_dir).parent / Path(DEFAULT_STATE_PATH).parent
    except Exception:  # no orchestrate.yaml at all: nowhere to write
        return None
