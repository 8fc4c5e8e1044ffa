"""Finding runs whose executing process died, and making them safe to carry on.

A run is *orphaned* when its status is ``running`` and

* its owner is a process on this host that no longer exists (kill -9, OOM,
  reboot), or an owner elsewhere that stopped heartbeating; or
* its owner is this very process, which no longer executes it; or
* it has no owner and was created more than ``stale_after`` seconds ago.

For each orphan the recovering process kills the process groups the dead
owner's node processes left behind (found by their inherited
``ORCHESTRATE_OWNER``), then claims the run (so any late write of the dead
execution is refused) and marks its running attempts ``crashed``, in one
transaction. The caller resumes the run, which retries each crashed node as
its retry policy allows.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from orchestrate_ext.clock import isoformat
from orchestrate_ext.execution.liveness import Liveness, ProcessIdentity, kill_leftovers
from orchestrate_ext.model import AttemptRecord
from orchestrate_ext.store.run_control import RunOwnership, SQLiteRunControl

log = logging.getLogger("orchestrate_ext.scheduler")


@dataclass(frozen=True, slots=True)
class Recovered:
    """A run taken over from a dead owner; the caller resumes it."""

    run_id: str
    schedule: str | None
    previous_owner: str | None
    crashed: tuple[AttemptRecord, ...]
    killed_groups: tuple[int, ...]


def describe_owner(owner: str | None) -> str:
    identity = ProcessIdentity.parse(owner)
    if identity is None:
        return f"owner {owner!r}" if owner else "no process"
    return f"pid {identity.pid} on {identity.host}"


def find_orphans(
    control: SQLiteRunControl,
    liveness: Liveness,
    me: str,
    executing_here: set[str],
    now: datetime,
    stale_after: float = 60.0,
) -> list[RunOwnership]:
    """The unfinished runs nobody is executing any more."""
    orphans = []
    for run in control.unfinished_runs():
        if run.run_id in executing_here:
            continue
        if run.owner == me:
            dead = True
        elif run.owner is None:
            dead = (now - run.created_at).total_seconds() > stale_after
        else:
            dead = not liveness.is_alive(run.owner, run.heartbeat_at, now)
        if dead:
            orphans.append(run)
    return orphans


def recover_orphans(
    control: SQLiteRunControl,
    liveness: Liveness,
    me: str,
    executing_here: set[str],
    now: datetime,
    *,
    stale_after: float = 60.0,
    kill: Callable[[str], list[int]] = kill_leftovers,
) -> list[Recovered]:
    """Claim every orphaned run for ``me`` and mark its running attempts crashed (see the module docstring)."""
    recovered = []
    killed: dict[str, list[int]] = {}
    for run in find_orphans(control, liveness, me, executing_here, now, stale_after):
        if run.owner and run.owner != me and run.owner not in killed:
            killed[run.owner] = kill(run.owner)
        error = (
            f"crashed: the process executing this try ({describe_owner(run.owner)}) died or stopped "
            f"heartbeating; found by {describe_owner(me)} at {isoformat(now)}"
        )
        _, crashed = control.crash_attempts(run.run_id, me, now, error)
        groups = tuple(killed.get(run.owner or "", ()))
        log.warning(
            "run %s lost its process (%s): %d attempt(s) marked crashed%s; resuming it",
            run.run_id,
            describe_owner(run.owner),
            len(crashed),
            f", killed leftover process groups {list(groups)}" if groups else "",
        )
        recovered.append(Recovered(run.run_id, run.schedule, run.owner, tuple(crashed), groups))
    return recovered
