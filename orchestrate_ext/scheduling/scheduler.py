"""The scheduler: one :meth:`Scheduler.step` records due ticks and starts their runs.

A step, given the time ``now`` (tests pass a fake one):

1. takes or renews the scheduler lease; without it, the scheduler stands by;
2. writes new or changed schedules to the next-fire index;
3. every few seconds, takes over runs whose process died (crash recovery);
4. records a tick for every cron fire time that is due, applying the
   catch-up policy to missed ones, and moves each schedule's next fire time;
5. records ticks for ``on_file`` and ``after`` triggers;
6. starts a run for each pending tick its schedule has a free slot for.

Broken nodes and schedules are data, not errors (:mod:`orchestrate_ext.scheduling.source`):
runs are created on the runnable graph, a tick whose nodes are all left out is
skipped with the reason, and whenever the snapshot's problems change the
scheduler hands them to its config problem listeners
(the alerts), once per change (scope ``project``), and says once that it has
started (scope ``scheduler``, no problem), which settles a "cannot start" alert.

Only due schedules are read (an index on the next fire time), so a step's
cost grows with the number of fire times due, not of schedules. Every tick
and run write is fenced on the lease, and a run is created in the same
transaction that marks its tick ``ran``, so two schedulers racing can never
run one tick twice.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from datetime import datetime, timedelta

from orchestrate_ext.clock import Clock
from orchestrate_ext.errors import BadInput, StoreConflict
from orchestrate_ext.events import RunListener
from orchestrate_ext.execution.claims import Supervisor
from orchestrate_ext.execution.executor import Executor
from orchestrate_ext.execution.liveness import Liveness, ProcessLiveness
from orchestrate_ext.execution.recovery import recover_orphans
from orchestrate_ext.interfaces import ConfigProblem, ConfigProblemListener
from orchestrate_ext.launcher import Launcher, LocalLauncher
from orchestrate_ext.model import RunStatus
from orchestrate_ext.run_request import Priority, RunRequest
from orchestrate_ext.schedule_settings import CatchUp
from orchestrate_ext.scheduling.catchup import plan_cron_ticks
from orchestrate_ext.scheduling.definitions import ScheduleDefinition, nodes_for
from orchestrate_ext.scheduling.dispatch import RunPool, SerializedListener
from orchestrate_ext.scheduling.indexing import FireTimePrefetch, NextFireIndex
from orchestrate_ext.scheduling.options import SchedulerOptions, StepReport, seconds_between
from orchestrate_ext.scheduling.source import ProjectSnapshot, ScheduleSource
from orchestrate_ext.scheduling.triggers import plan_after_ticks, plan_file_tick, scan_files
from orchestrate_ext.store import StateStore
from orchestrate_ext.store.records import (
    Fence,
    Lease,
    LeaseLost,
    RunQuery,
    ScheduleState,
    StateUpdate,
    TickBatch,
    TickRecord,
    TickStart,
    TickStatus,
    Trigger,
)

log = logging.getLogger(__name__)

PROJECT_SCOPE = "project"
SCHEDULER_SCOPE = "scheduler"
"""The scopes of :meth:`~orchestrate_ext.interfaces.ConfigProblemListener.config_problems`."""

_RUN_ID_TRIES = 5
_BATCH = 200
"""Due schedules whose ticks are recorded in one transaction."""
_STARTS = 32
"""Runs created in one transaction (a step creates more only while its budget lasts)."""


class Scheduler:
    """Fires the schedules of one project (see the module docstring).

    Args:
        source: the project snapshot to schedule (reloaded by the source when files change).
        store: the state store (runs, ticks, the lease).
        supervisor: claims the runs this process executes (default: this process).
        liveness: decides whether another run owner or lease holder still lives.
        listeners: hear every run this scheduler executes (observers such as alerts).
        launcher: where the tries of its runs run (default: this machine).
    """

    def __init__(
        self,
        source: ScheduleSource,
        store: StateStore,
        clock: Clock,
        *,
        supervisor: Supervisor | None = None,
        liveness: Liveness | None = None,
        options: SchedulerOptions | None = None,
        listeners: Sequence[RunListener] = (),
        launcher: Launcher | None = None,
    ) -> None:
        self.source = source
        self.launcher = launcher or LocalLauncher()
        self.store = store
        self.clock = clock
        self.options = options or SchedulerOptions()
        self.liveness = liveness or ProcessLiveness(self.options.stale_after)
        self.supervisor = supervisor or Supervisor(store, clock, liveness=self.liveness)
        self.owner = self.supervisor.owner
        lock = threading.Lock()
        self.listeners = [SerializedListener(listener, lock) for listener in listeners]
        self._problem_lock = lock
        self._problem_listeners = [listener for listener in listeners if isinstance(listener, ConfigProblemListener)]
        self._reported: tuple[ConfigProblem, ...] | None = None
        self.pool = RunPool(self.options.max_concurrent_runs)
        self.fence: Fence = None
        self._first_step = True
        self._to_start: list[tuple[Executor, str]] = []
        self._watched: tuple[ProjectSnapshot, list[ScheduleDefinition]] | None = None
        self.index = NextFireIndex(self.options.step_budget)
        self.prefetch = FireTimePrefetch()
        self._planned: ProjectSnapshot | None = None
        self._executor: tuple[ProjectSnapshot, Executor] | None = None
        self._last_recovery: datetime | None = None
        self._last_file_poll: datetime | None = None

    # -- one step

    def step(self, now: datetime | None = None) -> StepReport:
        """Do everything due at ``now`` (default: the clock's time); see the module docstring."""
        now = now or self.clock.now()
        report = StepReport(now)
        if not self._hold_lease(now, report):
            return report
        snapshot = self.source.current()
        if snapshot.problems != self._reported:
            self._report_problems(snapshot, now)
        try:
            if not self.index.done_for(snapshot):
                self._sync(snapshot, now)
            if (
                self._last_recovery is None
                or seconds_between(now, self._last_recovery) >= self.options.recovery_seconds
            ):
                self._recover(snapshot, now, report)
            self._fire_cron(snapshot, now, report)
            self._fire_events(snapshot, now, report)
            for tick in report.recorded:
                log.info("tick %s %s %s: %s", tick.schedule, tick.scheduled_at.isoformat(), tick.trigger, tick.status)
            self._dispatch(snapshot, now, report)
            self.prefetch.run(now)
        except LeaseLost as exc:
            log.warning("%s", exc)
            self.fence = None
            report.holds_lease = False
        finally:
            # Started once the step's own writes are done, so that the runs do not slow it down.
            for executor, run_id in self._to_start:
                self.pool.start(executor, run_id)
            self._to_start.clear()
        return report

    def _hold_lease(self, now: datetime, report: StepReport) -> bool:
        def holder_is_dead(lease: Lease) -> bool:
            return not self.liveness.is_alive(lease.holder, lease.renewed_at, now)

        with self.store.transaction() as tx:
            lease = tx.acquire_lease(self.owner, now, self.options.lease_ttl, holder_is_dead)
        fence = None if lease is None else (lease.holder, lease.epoch)
        if fence != self.fence or self._first_step:
            if fence is not None:
                log.info("holding the scheduler lease (epoch %d)", fence[1])
                self._planned = None  # the other scheduler may have changed the index meanwhile
                self._last_recovery = None  # whoever held it before may have died mid-run
            else:
                log.info("another scheduler holds the lease; standing by")
        self._first_step = False
        self.fence = fence
        report.holds_lease = fence is not None
        return report.holds_lease

    def _report_problems(self, snapshot: ProjectSnapshot, now: datetime) -> None:
        """Tell the listeners what is wrong now (and, the first time, that this scheduler started)."""
        first = self._reported is None
        self._reported = snapshot.problems
        for listener in self._problem_listeners:
            try:
                with self._problem_lock:
                    if first:
                        listener.config_problems(SCHEDULER_SCOPE, [], now)
                    listener.config_problems(PROJECT_SCOPE, list(snapshot.problems), now)
            except Exception:  # a listener must not stop the scheduler
                log.exception("listener %r failed on config problems", listener)

    def _sync(self, snapshot: ProjectSnapshot, now: datetime) -> None:
        """Bring the next-fire index in line with the schedules defined now (a budget's worth per step)."""
        if self._planned is not snapshot:
            with self.store.read() as tx:
                states = tx.schedule_states()
            self.index.plan(snapshot, states, now)
            self.prefetch.reset(
                (definition, state.next_fire_at)
                for name, state in states.items()
                if (definition := snapshot.definitions.get(name)) is not None
                and state.fingerprint == definition.fingerprint
            )
            self._planned = snapshot

        def save(changed: list[ScheduleState]) -> None:
            with self.store.transaction() as tx:
                tx.save_schedule_states(changed, self.fence, now)
            for state in changed:
                if (definition := snapshot.definitions.get(state.name)) is not None:
                    self.prefetch.note(definition, state.next_fire_at)

        self.index.take(now, save)

    def _recover(self, snapshot: ProjectSnapshot, now: datetime, report: StepReport) -> None:
        self._last_recovery = now
        executing = self.pool.running()
        report.recovered = recover_orphans(
            self.store,
            self.liveness,
            self.owner,
            executing,
            now,
            runners=snapshot.runners,
            stale_after=self.options.stale_after,
        )
        for recovered in report.recovered:
            self.pool.start(self._executor_for(snapshot), recovered.run_id, resume=True)

    def _fire_cron(self, snapshot: ProjectSnapshot, now: datetime, report: StepReport) -> None:
        batches: list[TickBatch] = []
        with self.store.read() as tx:
            due = tx.due_schedules(now, self.options.due_limit)
        deadline = time.monotonic() + self.options.step_budget
        for state in due:
            if batches and time.monotonic() > deadline:
                break  # the rest stay due: the next step records them, each with its own fire time
            definition = snapshot.definitions.get(state.name)
            if definition is None or definition.fingerprint != state.fingerprint or state.next_fire_at is None:
                continue  # changed since the last sync; the next one handles it
            plan = plan_cron_ticks(
                definition,
                state.next_fire_at,
                now,
                misfire_grace=self.options.misfire_grace,
                record_limit=self.options.record_limit,
            )
            batches.append((state.name, plan.ticks, StateUpdate(next_fire_at=plan.next_fire_at)))
            self.prefetch.note(definition, plan.next_fire_at)
        for start in range(0, len(batches), _BATCH):
            with self.store.transaction() as tx:
                report.recorded += tx.record_ticks(batches[start : start + _BATCH], self.fence, now)

    def _fire_events(self, snapshot: ProjectSnapshot, now: datetime, report: StepReport) -> None:
        """Record ticks for ``after`` and (every few seconds) ``on_file`` triggers."""
        if self._watched is None or self._watched[0] is not snapshot:
            self._watched = (snapshot, [d for d in snapshot.definitions.values() if d.after or d.on_file])
        watched = self._watched[1]
        if not watched:
            return
        poll_files = (
            self._last_file_poll is None or seconds_between(now, self._last_file_poll) >= self.options.file_poll_seconds
        )
        if poll_files:
            self._last_file_poll = now
        with self.store.read() as tx:
            states = tx.schedule_states()
        for definition in watched:
            state = states.get(definition.name)
            if state is None:
                continue
            if definition.after:
                with self.store.read() as tx:
                    successes = tx.upstream_successes(definition.after, state.cursor)
                ticks, update = plan_after_ticks(definition, successes)
                if update is not None:
                    ticks = [] if state.paused else ticks
                    with self.store.transaction() as tx:
                        report.recorded += tx.record_ticks([(definition.name, ticks, update)], self.fence, now)
            if definition.on_file and poll_files:
                current = scan_files(snapshot.root, definition.on_file, ignore=snapshot.state_dir)
                with self.store.read() as tx:
                    seen = tx.file_state(definition.name)
                tick, file_update = plan_file_tick(definition, seen, current, now)
                if file_update is not None:
                    found = [] if tick is None or state.paused else [tick]
                    with self.store.transaction() as tx:
                        report.recorded += tx.record_ticks([(definition.name, found, file_update)], self.fence, now)

    # -- starting runs

    def _dispatch(self, snapshot: ProjectSnapshot, now: datetime, report: StepReport) -> None:
        pending: dict[str, list[TickRecord]] = {}
        starts: list[tuple[TickRecord, ScheduleDefinition, set[str], dict[str, str]]] = []
        with self.store.read() as tx:
            for tick in tx.pending_ticks():
                pending.setdefault(tick.schedule, []).append(tick)
            if not pending:
                return
            paused = tx.paused_schedules()
            active = tx.active_runs()
            busy = tx.count_runs(RunQuery(statuses=frozenset({RunStatus.RUNNING}), limit=1)) if snapshot.max_runs else 0
        room = self.options.max_concurrent_runs
        if snapshot.max_runs is not None:  # max_runs holds for every run in the store, however it started
            room = min(room, len(self.pool) + len(self._to_start) + max(snapshot.max_runs - busy, 0))
        for name, ticks in pending.items():
            definition = snapshot.definitions.get(name)
            if definition is None:
                broken = snapshot.broken_schedules.get(name)
                reason = (
                    f"the schedule is left out: {broken}"
                    if broken
                    else f"no schedule called '{name}' is defined any more"
                )
                for tick in ticks:
                    self._close(tick, TickStatus.SKIPPED, reason, now, report)
                continue
            if name in paused:
                for tick in ticks:
                    self._close(tick, TickStatus.SKIPPED, "the schedule was paused before its run started", now, report)
                continue
            if definition.catchup != CatchUp.ALL and len(ticks) > 1:
                newest = ticks[-1]
                reason = (
                    f"superseded by the newer tick {newest.tick_id} ({newest.scheduled_at.isoformat()}) while "
                    f"waiting for a free run slot (catchup: {definition.catchup.value})"
                )
                for tick in ticks[:-1]:
                    self._close(tick, TickStatus.SKIPPED, reason, now, report)
                ticks = [newest]
            if definition.left_out:
                for tick in ticks:
                    self._close(tick, TickStatus.SKIPPED, f"left out: {definition.left_out}", now, report)
                continue
            free = definition.max_active_runs - active.get(name, 0)
            for tick in ticks[: max(free, 0)]:
                if len(self.pool) + len(self._to_start) + len(starts) >= room:
                    break
                try:
                    node_ids = self._nodes(definition, snapshot, tick)
                except BadInput as exc:
                    self._close(tick, TickStatus.SKIPPED, f"cannot select the nodes to run: {exc}", now, report)
                    continue
                runnable, left_out = self._runnable(node_ids, snapshot)
                if not runnable:
                    reasons = "; ".join(f"{node_id}: {why}" for node_id, why in list(left_out.items())[:3])
                    self._close(tick, TickStatus.SKIPPED, f"every node it runs is left out: {reasons}", now, report)
                    continue
                if left_out:
                    log.warning(
                        "tick %s %s leaves out %s",
                        name,
                        tick.scheduled_at.isoformat(),
                        "; ".join(f"{node_id}: {why}" for node_id, why in left_out.items()),
                    )
                starts.append((tick, definition, runnable, left_out))
        deadline = time.monotonic() + self.options.step_budget
        for first in range(0, len(starts), _STARTS):
            if first and time.monotonic() > deadline:
                break  # the rest of the ticks stay pending: the next step starts their runs
            self._start(starts[first : first + _STARTS], snapshot, now, report)

    def _start(
        self,
        starts: list[tuple[TickRecord, ScheduleDefinition, set[str], dict[str, str]]],
        snapshot: ProjectSnapshot,
        now: datetime,
        report: StepReport,
    ) -> None:
        """Create the runs of pending ticks, in one transaction (each marks its tick ``ran`` with it)."""
        executor = self._executor_for(snapshot)
        for attempt in range(_RUN_ID_TRIES):
            planned = [
                (tick, *executor.plan(self._request(tick, definition, node_ids, left_out)))
                for tick, definition, node_ids, left_out in starts
            ]
            try:
                with self.store.transaction() as tx:
                    results = tx.start_tick_runs(
                        [
                            TickStart(tick.tick_id, run, nodes, dedupe=tick.trigger in (Trigger.CRON, Trigger.CATCH_UP))
                            for tick, run, nodes in planned
                        ],
                        owner=self.owner,
                        fence=self.fence,
                        now=now,
                    )
                break
            except StoreConflict:  # run ids are the second plus a few random bits: thousands in one second may collide
                if attempt == _RUN_ID_TRIES - 1:
                    raise
        for (tick, run, _), result in zip(planned, results, strict=True):
            if result.started:
                log.info("started run %s of %s for %s (%s)", run.run_id, run.schedule, tick.scheduled_at, tick.trigger)
                report.started.append(run.run_id)
                self._to_start.append((executor, run.run_id))
            elif result.duplicate_of is not None:
                report.closed.append((tick.tick_id, TickStatus.DEDUPLICATED, f"covered by run {result.duplicate_of}"))

    @staticmethod
    def _request(
        tick: TickRecord, definition: ScheduleDefinition, node_ids: set[str], left_out: dict[str, str]
    ) -> RunRequest:
        """The run a tick asks for (a catch-up tick after the on-time ones)."""
        return RunRequest.of(
            node_ids,
            tick.scheduled_at,
            trigger=tick.trigger.value,
            selection=definition.selection_text,
            schedule=definition.name,
            parameters=definition.parameters,
            only_changed=definition.only_changed,
            left_out=left_out,
            priority=Priority.CATCH_UP if tick.trigger == Trigger.CATCH_UP else Priority.SCHEDULED,
            max_active=definition.max_active_runs,
        )

    @staticmethod
    def _runnable(node_ids: set[str], snapshot: ProjectSnapshot) -> tuple[set[str], dict[str, str]]:
        """The nodes a run of the runnable graph includes, and those it leaves out with why."""
        if snapshot.partial is None or not snapshot.partial.broken:
            return node_ids, {}  # nothing is broken: no walk of the graph per tick
        left_out = snapshot.partial.left_out(node_ids)
        return {node_id for node_id in node_ids if node_id in snapshot.graph.nodes}, left_out

    def _nodes(self, definition: ScheduleDefinition, snapshot: ProjectSnapshot, tick: TickRecord) -> set[str]:
        """The nodes of the whole graph (broken ones too) that a run of ``definition`` at ``tick`` includes."""
        graph = snapshot.whole.graph
        last_success: dict[str, datetime] = {}
        fresh_since = None
        if definition.target is not None and definition.ancestors == "stale":
            with self.store.read() as tx:
                latest = tx.latest_node_states(graph.ancestors([definition.target]))
            last_success = {node_id: node.last_success_at for node_id, node in latest.items() if node.last_success_at}
            cron = definition.cron_schedule
            if cron is not None:
                fresh_since = cron.previous_at_or_before(tick.scheduled_at - timedelta(seconds=1))
        return nodes_for(definition, graph, last_success, fresh_since)

    def _close(self, tick: TickRecord, status: TickStatus, reason: str, now: datetime, report: StepReport) -> None:
        with self.store.transaction() as tx:
            closed = tx.close_tick(tick.tick_id, status, reason, self.fence, now)
        if closed:
            report.closed.append((tick.tick_id, status, reason))
            log.info("tick %s %s %s: %s", tick.schedule, tick.scheduled_at.isoformat(), status, reason)

    def _executor_for(self, snapshot: ProjectSnapshot) -> Executor:
        if self._executor is None or self._executor[0] is not snapshot:
            executor = Executor(
                snapshot.graph,
                snapshot.runners,
                self.store,
                self.clock,
                state_dir=snapshot.state_dir,
                concurrency=snapshot.concurrency,
                defaults=snapshot.defaults,
                listeners=self.listeners,
                supervisor=self.supervisor,
                launcher=self.launcher,
                redact=snapshot.redact,
            )
            self._executor = (snapshot, executor)
        return self._executor[1]

    # -- stopping

    def shutdown(self, grace: float, cancel_wait: float = 30.0) -> bool:
        """Start no new node; give running ones ``grace`` seconds, then cancel them; release the lease.

        Returns True when every run ended within the grace period.
        """
        self.pool.drain()
        finished = self.pool.wait(grace)
        if not finished:
            log.warning("runs still going after the %.0f s grace period: cancelling them", grace)
            self.pool.cancel()
            self.pool.wait(cancel_wait)
        if self.fence is not None:
            with self.store.transaction() as tx:
                tx.release_lease(self.owner)
            self.fence = None
        return finished
