"""Backfill: one run per fire time of a schedule between two dates, created in order.

``orchestrate backfill nightly --start 2024-01-01 --end 2024-01-31`` runs the
schedule's selection once for every fire time in the range, each run with that
fire time as its ``logical_date``. Runs are created oldest first, at most
``parallel`` at a time, in this process (which then owns them: should it die,
a running scheduler resumes them). A date that already has a successful run of
the schedule is skipped unless ``force`` is given; a date with a run still
going is always skipped. Each run gets a tick (trigger ``backfill``) created in
the same transaction.

A broken node and what waits for it are left out of every run, which records
them with why (:func:`~orchestrate_ext.partial_graph.choose`); the rest runs.
Nothing runnable left is a :class:`BadInput` before any run is created.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from orchestrate_ext.clock import Clock, isoformat
from orchestrate_ext.cron import zone
from orchestrate_ext.errors import BadInput
from orchestrate_ext.events import RunListener
from orchestrate_ext.execution.claims import Supervisor
from orchestrate_ext.execution.executor import Executor
from orchestrate_ext.launcher import Launcher
from orchestrate_ext.model import RunStatus
from orchestrate_ext.partial_graph import Choice, choose
from orchestrate_ext.scheduling.definitions import ScheduleDefinition, nodes_for
from orchestrate_ext.scheduling.dispatch import RunPool
from orchestrate_ext.scheduling.source import ProjectSnapshot
from orchestrate_ext.store import StateStore
from orchestrate_ext.store.records import NewTick, Trigger

MAX_DATES = 1000


@dataclass(frozen=True, slots=True)
class BackfillItem:
    """One logical date of a backfill and what became of it."""

    logical_date: datetime
    run_id: str | None = None
    status: str = "pending"
    """A run status, or ``skipped``."""
    reason: str | None = None


def parse_bound(text: str, timezone: str, *, end: bool) -> datetime:
    """``--start``/``--end``: a date means midnight in the schedule's time zone (``--end``: that whole day).

    A date-time with an offset is taken as is; without one, in the schedule's time zone.
    """
    where = "--end" if end else "--start"
    value = text.strip()
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            moment = datetime.combine(day + timedelta(days=1) if end else day, time(), tzinfo=zone(timezone))
            return moment.astimezone(UTC) - (timedelta(microseconds=1) if end else timedelta(0))
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise BadInput(
            f"{where} '{text}' is not a date or date-time; write e.g. 2024-01-31 or 2024-01-31T06:00"
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=zone(timezone))
    return parsed.astimezone(UTC)


def backfill_dates(definition: ScheduleDefinition, start: datetime, end: datetime) -> list[datetime]:
    """The schedule's fire times from ``start`` to ``end``, oldest first."""
    cron = definition.cron_schedule
    if cron is None:
        raise BadInput(
            f"schedule '{definition.name}' has no cron expression, so it has no fire times to backfill; "
            "backfill a schedule with 'cron', or use `orchestrate run --logical-date`"
        )
    if end < start:
        raise BadInput(f"--end ({isoformat(end)}) is before --start ({isoformat(start)}); swap them")
    dates = cron.between(start, end, limit=MAX_DATES + 1)
    if len(dates) > MAX_DATES:
        raise BadInput(
            f"schedule '{definition.name}' fires more than {MAX_DATES} times between {isoformat(start)} and "
            f"{isoformat(end)}; backfill a shorter range at a time"
        )
    if not dates:
        raise BadInput(
            f"schedule '{definition.name}' ({definition.cron} in {definition.timezone}) does not fire between "
            f"{isoformat(start)} and {isoformat(end)}"
        )
    return dates


class Backfill:
    """Creates and executes the runs of one backfill (see the module docstring).

    The schedule's selection is made on every node of the project (``snapshot.whole``); what it
    leaves out is left out of every run.

    Raises:
        BadInput: the schedule's selection leaves nodes out and nothing runnable remains.
    """

    def __init__(
        self,
        snapshot: ProjectSnapshot,
        store: StateStore,
        clock: Clock,
        definition: ScheduleDefinition,
        *,
        force: bool = False,
        parallel: int = 1,
        listeners: Sequence[RunListener] = (),
        supervisor: Supervisor | None = None,
        launcher: Launcher | None = None,
    ) -> None:
        if parallel < 1:
            raise BadInput(f"--parallel must be at least 1, not {parallel}")
        self.snapshot = snapshot
        self.store = store
        self.clock = clock
        self.definition = definition
        self.force = force
        self.parallel = parallel
        self.supervisor = supervisor or Supervisor(store, clock)
        whole = snapshot.whole
        self.choice: Choice = choose(whole, nodes_for(definition, whole.graph, {}, None))
        """What every run of the backfill includes and leaves out."""
        self.executor = Executor(
            self.choice.graph,
            snapshot.runners,
            store,
            clock,
            state_dir=snapshot.state_dir,
            concurrency=snapshot.concurrency,
            defaults=snapshot.defaults,
            listeners=listeners,
            supervisor=self.supervisor,
            launcher=launcher,
            redact=snapshot.redact,
        )
        self.batch = clock.now().strftime("%Y%m%dT%H%M%S") + "-" + secrets.token_hex(2)

    def run(
        self,
        dates: Sequence[datetime],
        cancel: threading.Event | None = None,
        on_item: Callable[[BackfillItem], None] | None = None,
    ) -> list[BackfillItem]:
        """Create the runs in date order, at most ``parallel`` executing at once; wait for all of them."""
        cancel = cancel or threading.Event()
        pool = RunPool(self.parallel)
        items: list[BackfillItem] = []
        for logical_date in dates:
            while len(pool) >= self.parallel and not cancel.is_set():
                pool.wait(0.2)
            if cancel.is_set():
                items.append(BackfillItem(logical_date, status="skipped", reason="the backfill was cancelled"))
                continue
            item = self._create(logical_date)
            items.append(item)
            if on_item is not None:
                on_item(item)
            if item.run_id is not None:
                pool.start(self.executor, item.run_id)
        while not pool.wait(0.5):
            if cancel.is_set():
                pool.cancel()
        with self.store.read() as tx:
            return [
                item
                if item.run_id is None
                else BackfillItem(item.logical_date, item.run_id, tx.get_run(item.run_id).status.value, item.reason)
                for item in items
            ]

    def _create(self, logical_date: datetime) -> BackfillItem:
        with self.store.read() as tx:
            existing = tx.runs_for_date(self.definition.name, logical_date)
        for run_id, status in reversed(existing):
            if status == RunStatus.RUNNING:
                return BackfillItem(logical_date, status="skipped", reason=f"run {run_id} for this date is still going")
            if status == RunStatus.SUCCESS and not self.force:
                return BackfillItem(
                    logical_date,
                    status="skipped",
                    reason=f"already succeeded in run {run_id}; pass --force to run it again",
                )
        run, nodes = self.executor.new_run(
            set(self.choice.node_ids),
            logical_date,
            trigger=Trigger.BACKFILL.value,
            selection=self.definition.selection_text,
            schedule=self.definition.name,
            parameters=self.definition.parameters,
            only_changed=self.definition.only_changed,
            left_out=self.choice.left_out,
        )
        tick = NewTick(
            self.definition.name, logical_date, Trigger.BACKFILL, f"backfill@{isoformat(logical_date)}@{self.batch}"
        )
        with self.store.transaction() as tx:
            _, result = tx.create_tick_run(
                tick,
                run,
                nodes,
                owner=self.supervisor.owner,
                fence=None,
                now=self.clock.now(),
                dedupe=not self.force,
            )
        if not result.started:
            reason = f"covered by run {result.duplicate_of}" if result.duplicate_of else "already backfilled"
            return BackfillItem(logical_date, status="skipped", reason=reason)
        return BackfillItem(logical_date, run.run_id, "running")
