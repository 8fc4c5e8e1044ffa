"""Finding runs whose executing process died, and making them safe to carry on.

This is the one recovery path: the scheduler's takeover (:func:`recover_orphans`)
and ``orchestrate retry`` of a run whose owner died (:func:`recover_run`) both
go through :func:`recover_run`.

A run is *orphaned* when its status is ``running`` and

* its owner is a process on this host that no longer exists (kill -9, OOM,
  reboot), or an owner elsewhere that stopped heartbeating; or
* its owner is this very process, which no longer executes it; or
* it has no owner and was created more than ``stale_after`` seconds ago.

For each orphan the recovering process kills the process groups the dead
owner's node processes left behind (found by their inherited
``ORCHESTRATE_OWNER``) and waits until they are gone, then takes the run over
in one unit of work (which also drops the dead owner's resource holds): a
compare-and-set claim on the epoch it saw (so of two recovering processes
exactly one wins, and any late write of the dead execution is refused), and
every try still marked running is closed. A try whose runner finds its
finished result on disk (a notebook that completed just before the crash) is
closed with that result; the others are ``crashed``. The caller resumes the
run, which retries each crashed node as its retry policy allows.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

from orchestrate_ext.clock import isoformat
from orchestrate_ext.execution.liveness import Liveness, ProcessIdentity, kill_leftovers
from orchestrate_ext.interfaces import NodeRunner, RecoverableRunner
from orchestrate_ext.model import AttemptRecord, AttemptStatus
from orchestrate_ext.store import StateStore
from orchestrate_ext.store.claims_sql import AttemptEnding
from orchestrate_ext.store.records import RunOwnership

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Recovered:
    """A run taken over from a dead owner; the caller resumes it."""

    run_id: str
    schedule: str | None
    previous_owner: str | None
    endings: tuple[AttemptEnding, ...]
    killed_groups: tuple[int, ...]

    @property
    def crashed(self) -> tuple[AttemptEnding, ...]:
        return tuple(ending for ending in self.endings if ending.status == AttemptStatus.CRASHED)

    @property
    def adopted(self) -> tuple[AttemptEnding, ...]:
        """Tries that finished before the crash, closed with the result they left."""
        return tuple(ending for ending in self.endings if ending.status != AttemptStatus.CRASHED)


def describe_owner(owner: str | None) -> str:
    identity = ProcessIdentity.parse(owner)
    if identity is None:
        return f"owner {owner!r}" if owner else "no process"
    return f"pid {identity.pid} on {identity.host}"


def find_orphans(
    store: StateStore,
    liveness: Liveness,
    me: str,
    executing_here: set[str],
    now: datetime,
    stale_after: float = 60.0,
) -> list[RunOwnership]:
    """The unfinished runs nobody is executing any more."""
    with store.read() as tx:
        unfinished = tx.unfinished_runs()
    orphans = []
    for run in unfinished:
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
    store: StateStore,
    liveness: Liveness,
    me: str,
    executing_here: set[str],
    now: datetime,
    *,
    runners: Mapping[str, NodeRunner] | None = None,
    stale_after: float = 60.0,
    kill: Callable[[str], list[int]] = kill_leftovers,
) -> list[Recovered]:
    """Take every orphaned run over for ``me`` (see the module docstring); ``runners`` find finished results."""
    recovered = []
    killed: dict[str, list[int]] = {}
    for run in find_orphans(store, liveness, me, executing_here, now, stale_after):
        found = recover_run(store, run, me, now, runners=runners, kill=kill, killed=killed)
        if found is not None:
            recovered.append(found)
    return recovered


def recover_run(
    store: StateStore,
    run: RunOwnership,
    me: str,
    now: datetime,
    *,
    runners: Mapping[str, NodeRunner] | None = None,
    kill: Callable[[str], list[int]] = kill_leftovers,
    killed: dict[str, list[int]] | None = None,
) -> Recovered | None:
    """Take ``run`` (whose owner is dead: the caller checked) over for ``me``; None when another process won.

    Kills the dead owner's process groups and waits for them to be gone, then in
    one unit of work claims the run on the epoch ``run`` was read at, closes its
    running tries (with the result each left, else ``crashed``) and drops its
    resource holds. ``killed`` remembers owners already cleaned up (one kill per owner).
    """
    killed = {} if killed is None else killed
    if run.owner and run.owner != me and run.owner not in killed:
        killed[run.owner] = kill(run.owner)
    error = (
        f"crashed: the process executing this try ({describe_owner(run.owner)}) died or stopped "
        f"heartbeating; found by {describe_owner(me)} at {isoformat(now)}"
    )
    with store.read() as tx:
        kinds = {state.node_id: state.kind for state in tx.node_states(run.run_id)}
        running = [attempt for attempt in tx.attempts(run.run_id) if attempt.status == AttemptStatus.RUNNING]
    endings = tuple(_ending(attempt, (runners or {}).get(kinds.get(attempt.node_id, "")), error) for attempt in running)
    with store.transaction() as tx:
        epoch = tx.take_over(run.run_id, me, now, run.epoch, endings)
    if epoch is None:
        return None  # another process took it over first
    groups = tuple(killed.get(run.owner or "", ()))
    found = Recovered(run.run_id, run.schedule, run.owner, endings, groups)
    log.warning(
        "run %s lost its process (%s): %d attempt(s) marked crashed%s%s; resuming it",
        run.run_id,
        describe_owner(run.owner),
        len(found.crashed),
        f", {len(found.adopted)} finished try(s) adopted from their results" if found.adopted else "",
        f", killed leftover process groups {list(groups)}" if groups else "",
    )
    return found


def _ending(attempt: AttemptRecord, runner: NodeRunner | None, error: str) -> AttemptEnding:
    """The result the try left behind, if its runner can read one; else ``crashed``."""
    if isinstance(runner, RecoverableRunner):
        try:
            outcome = runner.recorded_outcome(attempt)
        except Exception as exc:  # an unreadable result must not stop the recovery of the run
            log.warning("could not read the result of %s try %d: %s", attempt.node_id, attempt.try_number, exc)
            outcome = None
        if outcome is not None and outcome.status is not None:
            return AttemptEnding(
                attempt.node_id, attempt.try_number, outcome.status, outcome.error, outcome.output_path
            )
    return AttemptEnding(attempt.node_id, attempt.try_number, AttemptStatus.CRASHED, error)
