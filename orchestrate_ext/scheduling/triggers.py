"""Triggers beyond cron: ``on_file`` (files appear or change) and ``after`` (another schedule succeeded).

Both are recorded as ticks like cron fire times, with keys that make each
event count once however often it is seen:

* ``file@<digest of the changed paths and their signatures>``. The files seen
  are stored per schedule (path, mtime, size), so changes made while no
  scheduler ran fire once when it is back. The first scan of a schedule only
  records what is there (a baseline row with the empty path marks it).
  Deleting a file does not fire.
* ``after@<run id of the upstream run>``; the run inherits the upstream run's
  logical date. A per-schedule cursor (the newest upstream finish seen)
  keeps the query small; upstream runs that finished before the schedule
  first existed do not fire it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path

from orchestrate_ext.clock import isoformat
from orchestrate_ext.scheduling.definitions import ScheduleDefinition
from orchestrate_ext.store.records import NewTick, StateUpdate, Trigger, UpstreamSuccess

BASELINE = ""
"""The file-state path that marks a schedule's first scan as done."""

Signature = tuple[int, int]


def scan_files(root: Path, patterns: Sequence[str], ignore: Path | None = None) -> dict[str, Signature]:
    """``path -> (mtime_ns, size)`` of the files matching ``patterns`` under ``root`` (paths relative, POSIX)."""
    found: dict[str, Signature] = {}
    ignored = ignore.resolve() if ignore is not None else None
    for pattern in patterns:
        for path in root.glob(pattern):
            try:
                if not path.is_file() or (ignored is not None and ignored in path.resolve().parents):
                    continue
                stat = path.stat()
            except OSError:
                continue
            found[path.relative_to(root).as_posix()] = (stat.st_mtime_ns, stat.st_size)
    return found


def plan_file_tick(
    definition: ScheduleDefinition, seen: Mapping[str, Signature], current: Mapping[str, Signature], now: datetime
) -> tuple[NewTick | None, StateUpdate | None]:
    """The tick for files new or changed since ``seen`` (None when nothing changed), and the state update."""
    changed = sorted(path for path, signature in current.items() if seen.get(path) != signature)
    removed = [path for path in seen if path != BASELINE and path not in current]
    files: dict[str, Signature | None] = {path: current[path] for path in changed}
    files.update(dict.fromkeys(removed))
    if BASELINE not in seen:
        files[BASELINE] = (0, 0)
        return None, StateUpdate(files=files)
    if not changed:
        return None, StateUpdate(files=files) if removed else None
    digest = hashlib.sha256(repr([(path, current[path]) for path in changed]).encode()).hexdigest()[:16]
    shown = ", ".join(changed[:5]) + (f" and {len(changed) - 5} more" if len(changed) > 5 else "")
    tick = NewTick(
        definition.name, now.replace(microsecond=0), Trigger.FILE, f"file@{digest}", reason=f"new or changed: {shown}"
    )
    return tick, StateUpdate(files=files)


def plan_after_ticks(
    definition: ScheduleDefinition, successes: Sequence[UpstreamSuccess]
) -> tuple[list[NewTick], StateUpdate | None]:
    """A tick per upstream success, and the cursor moved past the newest one."""
    if not successes:
        return [], None
    ticks = [
        NewTick(
            definition.name,
            success.logical_date,
            Trigger.AFTER,
            f"after@{success.run_id}",
            reason=f"{success.schedule} run {success.run_id} succeeded at {isoformat(success.finished_at)}",
        )
        for success in successes
    ]
    return ticks, StateUpdate(cursor=successes[-1].finished_at)
