"""The scheduler's part of the store: schedule state (the next-fire index), ticks, file state, the lease.

Methods that take a ``fence`` (the lease holder and epoch) first read the
lease row with a row lock and raise :class:`LeaseLost` when that holder no
longer holds it, so a scheduler that lost the lease (it was presumed dead)
cannot record ticks or start runs; ``None`` means "not on behalf of the
scheduler" (a backfill, a test). A tick's run is created in the same
transaction that marks the tick ``ran``, and creating runs of one schedule
is serialized across processes, so two schedulers (or a scheduler and a
backfill) racing can never run one fire time twice.

The lease is taken with compare-and-set writes: a new holder's ``UPDATE``
names the epoch and renewal time it saw (or the first ``INSERT`` conflicts),
and a renewal names the holder and epoch, so of two processes taking or
renewing it at once exactly one wins.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from orchestrate_ext.model import NodeRunRecord, RunRecord
from orchestrate_ext.store.claims_sql import ClaimStatements
from orchestrate_ext.store.records import (
    Fence,
    Lease,
    LeaseLost,
    NewTick,
    ScheduleState,
    StartResult,
    StateUpdate,
    TickBatch,
    TickRecord,
    TickStart,
    TickStatus,
    Trigger,
)
from orchestrate_ext.store.sql import MACROS, Result, marks, one, rows

LEASE = "scheduler"
_IN_LIST = 500
"""Values in one ``IN (...)`` list."""
_PARAMETERS = 30_000
"""Parameters in one statement (SQLite allows 32,766, PostgreSQL 65,535)."""
_LEASE_COLUMNS = "holder, epoch, acquired_at, renewed_at, expires_at"
_STATE_COLUMNS = "name, fingerprint, next_fire_at, paused, cursor, updated_at"
_NEW_TICK_COLUMNS = "schedule, scheduled_at, trigger, key, status, reason, duplicate_of, created_at, updated_at"
_TICK_COLUMNS = (
    "tick_id, schedule, scheduled_at, trigger, key, status, created_at, updated_at, reason, run_id, "
    "duplicate_of, parameters"
)


class ScheduleStatements(ClaimStatements):
    """Schedule state, ticks, file state and the lease on one transaction."""

    # -- fencing

    def check_fence(self, fence: Fence) -> None:
        """Raise :class:`LeaseLost` unless ``fence`` still holds the scheduler lease (locks the lease row).

        Checked once per unit of work: the row lock (or SQLite's single writer) holds it to the end.
        """
        if fence is None or fence == getattr(self, "_fence_held", None):
            return
        row = one(
            self.sql, f"SELECT holder, epoch FROM scheduler_lease WHERE name = ?{self.sql.dialect.lock_rows}", (LEASE,)
        )
        if row is None or (row[0], int(row[1])) != fence:
            holder = f"'{row[0]}'" if row else "nobody"
            raise LeaseLost(f"the scheduler lease is held by {holder} now; this scheduler stands by")
        self._fence_held = fence

    # -- schedule state

    def schedule_states(self) -> dict[str, ScheduleState]:
        return {row[0]: self._state(row) for row in rows(self.sql, f"SELECT {_STATE_COLUMNS} FROM schedule_state")}

    def save_schedule_states(self, states: Sequence[ScheduleState], fence: Fence, now: datetime) -> None:
        """Insert or replace fingerprint, next fire time and cursor; the pause flag is kept."""
        self.check_fence(fence)
        sql = self.sql
        sql.executemany(
            "INSERT INTO schedule_state (name, fingerprint, next_fire_at, cursor, updated_at) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET fingerprint = excluded.fingerprint, "
            "next_fire_at = excluded.next_fire_at, cursor = excluded.cursor, updated_at = excluded.updated_at",
            [
                (state.name, state.fingerprint, sql.time(state.next_fire_at), sql.time(state.cursor), sql.time(now))
                for state in states
            ],
        )

    def paused_schedules(self) -> set[str]:
        return {row[0] for row in rows(self.sql, "SELECT name FROM schedule_state WHERE paused = ?", (1,))}

    def due_schedules(self, now: datetime, limit: int) -> list[ScheduleState]:
        """Unpaused schedules whose next fire time is at or before ``now``, soonest first."""
        found = rows(
            self.sql,
            f"SELECT {_STATE_COLUMNS} FROM schedule_state WHERE paused = 0 AND next_fire_at IS NOT NULL "
            "AND next_fire_at <= ? ORDER BY next_fire_at LIMIT ?",
            (self.sql.time(now), limit),
        )
        return [self._state(row) for row in found]

    def set_paused(self, name: str, paused: bool, now: datetime, next_fire_at: datetime | None) -> ScheduleState:
        """Pause or resume; resuming also sets the next fire time. Unknown names get a state row."""
        sql = self.sql
        row = one(
            sql,
            "INSERT INTO schedule_state (name, fingerprint, next_fire_at, paused, updated_at) "
            "VALUES (?, '', ?, ?, ?) ON CONFLICT (name) DO UPDATE SET paused = excluded.paused, "
            "next_fire_at = CASE WHEN excluded.paused = 1 THEN schedule_state.next_fire_at "
            "ELSE excluded.next_fire_at END, updated_at = excluded.updated_at "
            f"RETURNING {_STATE_COLUMNS}",
            (name, sql.time(next_fire_at), int(paused), sql.time(now)),
        )
        return self._state(row)

    # -- ticks

    def record_ticks(self, batches: Sequence[TickBatch], fence: Fence, now: datetime) -> list[TickRecord]:
        """Record each schedule's new ticks and update its state together; returns the ticks that were new."""
        self.check_fence(fence)
        inserted = self._insert_rows(
            f"INSERT INTO ticks ({_NEW_TICK_COLUMNS}) VALUES ",
            [self._new_tick_row(tick, now) for _, ticks, _ in batches for tick in ticks],
            f" ON CONFLICT (schedule, key) DO NOTHING RETURNING {_TICK_COLUMNS}",
        )
        updates = [(schedule, update) for schedule, _, update in batches if update is not None]
        if len({schedule for schedule, _ in updates}) == len(updates):
            self._apply_all(updates, now)
        else:  # a schedule updated twice: in order, the last one wins
            for schedule, update in updates:
                self._apply(schedule, update, now)
        # Every statement is sent before any answer is read: one round trip on PostgreSQL. Tick ids grow in
        # the order of the rows, which is the order the ticks are returned in.
        found = [row for result in inserted for row in result.fetchall()]
        return [self._tick(row) for row in sorted(found, key=lambda row: int(row[0]))]

    def _insert_tick(self, tick: NewTick, now: datetime) -> TickRecord | None:
        """The tick as recorded, or None when its schedule has a tick with that key already."""
        row = self._send_tick(tick, now).fetchone()
        return None if row is None else self._tick(row)

    def _send_tick(self, tick: NewTick, now: datetime) -> Result:
        """Insert the tick unless its schedule has one with that key; the result has the recorded row, or none."""
        return self.sql.execute(
            f"INSERT INTO ticks ({_NEW_TICK_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
            f"ON CONFLICT (schedule, key) DO NOTHING RETURNING {_TICK_COLUMNS}",
            self._new_tick_row(tick, now),
        )

    def _new_tick_row(self, tick: NewTick, now: datetime) -> tuple[object, ...]:
        sql = self.sql
        return (
            tick.schedule,
            sql.time(tick.scheduled_at),
            tick.trigger.value,
            tick.key,
            tick.status.value,
            tick.reason,
            tick.duplicate_of,
            sql.time(now),
            sql.time(now),
        )

    def _apply_all(self, updates: Sequence[tuple[str, StateUpdate]], now: datetime) -> None:
        """:meth:`_apply` for schedules named once each: one ``UPDATE ... FROM (VALUES ...)`` per few thousand."""
        sql = self.sql
        time = MACROS[sql.dialect.name]["time"]
        row = f"(?, CAST(? AS {time}), CAST(? AS {time}))"
        per_statement = _PARAMETERS // 3
        for first in range(0, len(updates), per_statement):
            chunk = updates[first : first + per_statement]
            sql.execute(
                f"WITH v (state_name, fire_at, new_cursor) AS (VALUES {', '.join([row] * len(chunk))}) "
                "UPDATE schedule_state SET next_fire_at = COALESCE(v.fire_at, next_fire_at), "
                "cursor = COALESCE(v.new_cursor, cursor), updated_at = ? "
                "FROM v WHERE schedule_state.name = v.state_name",
                [
                    *(
                        value
                        for schedule, update in chunk
                        for value in (schedule, sql.time(update.next_fire_at), sql.time(update.cursor))
                    ),
                    sql.time(now),
                ],
            )
        for schedule, update in updates:
            self._apply_files(schedule, update)

    def _apply(self, schedule: str, update: StateUpdate, now: datetime) -> None:
        sql = self.sql
        sql.execute(
            "UPDATE schedule_state SET next_fire_at = COALESCE(?, next_fire_at), cursor = COALESCE(?, cursor), "
            "updated_at = ? WHERE name = ?",
            (sql.time(update.next_fire_at), sql.time(update.cursor), sql.time(now), schedule),
        )
        self._apply_files(schedule, update)

    def _apply_files(self, schedule: str, update: StateUpdate) -> None:
        sql = self.sql
        for path, signature in update.files.items():
            if signature is None:
                sql.execute("DELETE FROM file_state WHERE schedule = ? AND path = ?", (schedule, path))
            else:
                sql.execute(
                    "INSERT INTO file_state (schedule, path, mtime_ns, size) VALUES (?, ?, ?, ?) "
                    "ON CONFLICT (schedule, path) DO UPDATE SET mtime_ns = excluded.mtime_ns, size = excluded.size",
                    (schedule, path, signature[0], signature[1]),
                )

    def pending_ticks(self, schedule: str | None = None) -> list[TickRecord]:
        """Ticks waiting for a run, oldest scheduled time first."""
        statement = f"SELECT {_TICK_COLUMNS} FROM ticks WHERE status = 'pending'"
        params: list[object] = []
        if schedule is not None:
            statement += " AND schedule = ?"
            params.append(schedule)
        return [self._tick(row) for row in rows(self.sql, statement + " ORDER BY scheduled_at, tick_id", params)]

    def start_tick_run(
        self,
        tick_id: int,
        run: RunRecord,
        nodes: Sequence[NodeRunRecord],
        *,
        owner: str | None,
        fence: Fence,
        now: datetime,
        dedupe: bool = True,
    ) -> StartResult:
        """Create ``run`` for a pending tick, claimed by ``owner``, and mark the tick ``ran``.

        Nothing is written when the tick is not pending any more; with ``dedupe``,
        a running or successful run of the same schedule and logical date makes it
        ``deduplicated`` instead.
        """
        self.check_fence(fence)
        self._serialize_runs_of(run.schedule)
        sql = self.sql
        covering = self._covering_run(run) if dedupe else None
        if covering is not None:
            closed = sql.execute(
                "UPDATE ticks SET status = ?, reason = ?, duplicate_of = ?, updated_at = ? "
                "WHERE tick_id = ? AND status = 'pending'",
                (TickStatus.DEDUPLICATED.value, _covered(covering), covering[0], sql.time(now), tick_id),
            )
            return StartResult(started=False, duplicate_of=covering[0] if closed.rowcount == 1 else None)
        ran = sql.execute(
            "UPDATE ticks SET status = 'ran', run_id = ?, parameters = ?, updated_at = ? "
            "WHERE tick_id = ? AND status = 'pending'",
            (run.run_id, json.dumps(dict(run.parameters)), sql.time(now), tick_id),
        )
        if ran.rowcount != 1:
            return StartResult(started=False)
        self._insert_claimed_run(run, nodes, owner, now)
        return StartResult(started=True)

    def start_tick_runs(
        self, starts: Sequence[TickStart], *, owner: str | None, fence: Fence, now: datetime
    ) -> list[StartResult]:
        """:meth:`start_tick_run` for many pending ticks at once, in a few statements rather than several per run.

        Each tick gets what :meth:`start_tick_run` would give it, in order: the
        schedules' run creations are serialized (their advisory locks taken in
        name order), the covering runs are read in one query, every tick's
        ``UPDATE`` is sent before any of their row counts is read, and the runs
        and their nodes go in multi-row inserts. When two of the ticks share a
        schedule and logical date (one's run could cover the other), they are
        started one by one instead.
        """
        dates = {(start.run.schedule, start.run.logical_date) for start in starts}
        if len(dates) < len(starts):
            return [
                self.start_tick_run(
                    start.tick_id, start.run, start.nodes, owner=owner, fence=fence, now=now, dedupe=start.dedupe
                )
                for start in starts
            ]
        self.check_fence(fence)
        self.sql.serialize_all(
            [f"runs-of-schedule:{start.run.schedule}" for start in starts if start.run.schedule is not None]
        )
        covering = self._covering_runs([start.run for start in starts if start.dedupe])
        sql = self.sql
        covers = {
            start.tick_id: cover
            for start in starts
            if start.dedupe and (cover := covering.get((start.run.schedule, start.run.logical_date))) is not None
        }
        closed = {
            tick_id: sql.execute(
                "UPDATE ticks SET status = ?, reason = ?, duplicate_of = ?, updated_at = ? "
                "WHERE tick_id = ? AND status = 'pending'",
                (TickStatus.DEDUPLICATED.value, _covered(cover), cover[0], sql.time(now), tick_id),
            )
            for tick_id, cover in covers.items()
        }
        ran = self._mark_ran([start for start in starts if start.tick_id not in covers], now)
        results: list[StartResult] = []
        created: list[tuple[RunRecord, Sequence[NodeRunRecord]]] = []
        for start in starts:
            if start.tick_id in covers:
                duplicate_of = covers[start.tick_id][0] if closed[start.tick_id].rowcount == 1 else None
                results.append(StartResult(started=False, duplicate_of=duplicate_of))
            else:
                results.append(StartResult(started=start.tick_id in ran))
                if start.tick_id in ran:
                    created.append((start.run, start.nodes))
        if created:
            self.insert_runs(created, owner=owner, now=now)
        return results

    def _mark_ran(self, starts: Sequence[TickStart], now: datetime) -> set[int]:
        """Mark the ticks of ``starts`` that are still pending ``ran`` with their runs; the ids of those marked."""
        sql = self.sql
        marked: set[int] = set()
        per_statement = _PARAMETERS // 3
        for first in range(0, len(starts), per_statement):
            chunk = starts[first : first + per_statement]
            found = rows(
                sql,
                "WITH v (id, new_run_id, new_parameters) AS (VALUES "
                + ", ".join(["(CAST(? AS BIGINT), ?, ?)"] * len(chunk))
                + ") UPDATE ticks SET status = 'ran', run_id = v.new_run_id, parameters = v.new_parameters, "
                "updated_at = ? FROM v WHERE ticks.tick_id = v.id AND ticks.status = 'pending' RETURNING tick_id",
                [
                    *(
                        value
                        for start in chunk
                        for value in (start.tick_id, start.run.run_id, json.dumps(dict(start.run.parameters)))
                    ),
                    sql.time(now),
                ],
            )
            marked.update(int(row[0]) for row in found)
        return marked

    def _covering_runs(self, runs: Sequence[RunRecord]) -> dict[tuple[str | None, datetime], tuple[str, str]]:
        """:meth:`_covering_run` of each of ``runs`` (those that have one), in a query per few hundred runs."""
        sql = self.sql
        wanted = {(run.schedule, run.logical_date) for run in runs if run.schedule is not None}
        schedules = sorted({schedule for schedule, _ in wanted if schedule is not None})
        dates = sorted({sql.time(date) for _, date in wanted}, key=str)
        found: dict[tuple[str | None, datetime], tuple[str, str, datetime]] = {}
        for first in range(0, len(schedules), _IN_LIST):
            chunk = schedules[first : first + _IN_LIST]
            for date_first in range(0, len(dates), _IN_LIST):
                date_chunk = dates[date_first : date_first + _IN_LIST]
                for run_id, status, schedule, logical_date, created_at in rows(
                    sql,
                    "SELECT run_id, status, schedule, logical_date, created_at FROM runs "
                    f"WHERE schedule IN ({marks(chunk)}) AND logical_date IN ({marks(date_chunk)}) "
                    "AND status IN ('running', 'success')",
                    [*chunk, *date_chunk],
                ):
                    date, when = sql.read_time(logical_date), sql.read_time(created_at)
                    if date is None or when is None or (schedule, date) not in wanted:
                        continue
                    if (schedule, date) not in found or when > found[(schedule, date)][2]:
                        found[(schedule, date)] = (run_id, status, when)
        return {key: (value[0], value[1]) for key, value in found.items()}

    def create_tick_run(
        self,
        tick: NewTick,
        run: RunRecord,
        nodes: Sequence[NodeRunRecord],
        *,
        owner: str | None,
        fence: Fence,
        now: datetime,
        dedupe: bool = True,
    ) -> tuple[TickRecord | None, StartResult]:
        """Record a new tick and create its run together (backfill).

        Returns (None, not started) when the tick's key exists already; with
        ``dedupe``, a covering run records the tick as ``deduplicated`` instead.
        """
        self.check_fence(fence)
        self._serialize_runs_of(run.schedule)
        covering = self._covering_run(run) if dedupe else None
        if covering is not None:
            tick = replace(tick, status=TickStatus.DEDUPLICATED, reason=_covered(covering), duplicate_of=covering[0])
        recorded = self._insert_tick(tick, now)
        if recorded is None:
            return None, StartResult(started=False)
        if covering is None:
            self.sql.execute(
                "UPDATE ticks SET status = 'ran', run_id = ?, parameters = ? WHERE tick_id = ?",
                (run.run_id, json.dumps(dict(run.parameters)), recorded.tick_id),
            )
            self._insert_claimed_run(run, nodes, owner, now)
            recorded = replace(recorded, status=TickStatus.RAN, run_id=run.run_id, parameters=dict(run.parameters))
        return recorded, StartResult(started=covering is None, duplicate_of=covering[0] if covering else None)

    def _serialize_runs_of(self, schedule: str | None) -> None:
        """One process at a time decides whether a run of ``schedule`` covers a logical date already."""
        if schedule is not None:
            self.sql.serialize(f"runs-of-schedule:{schedule}")

    def _insert_claimed_run(
        self, run: RunRecord, nodes: Sequence[NodeRunRecord], owner: str | None, now: datetime
    ) -> None:
        self.insert_run(run, nodes)
        if owner is not None:
            self.claim_run(run.run_id, owner, now)

    def _covering_run(self, run: RunRecord) -> tuple[str, str] | None:
        """A running or successful run of the same schedule and logical date, if any."""
        if run.schedule is None:
            return None
        row = one(
            self.sql,
            "SELECT run_id, status FROM runs WHERE schedule = ? AND logical_date = ? "
            "AND status IN ('running', 'success') ORDER BY created_at DESC LIMIT 1",
            (run.schedule, self.sql.time(run.logical_date)),
        )
        return None if row is None else (row[0], row[1])

    def close_tick(
        self,
        tick_id: int,
        status: TickStatus,
        reason: str,
        fence: Fence,
        now: datetime,
        duplicate_of: str | None = None,
    ) -> bool:
        """Move a pending tick to ``skipped`` or ``deduplicated``; False when it was not pending."""
        self.check_fence(fence)
        cursor = self.sql.execute(
            "UPDATE ticks SET status = ?, reason = ?, duplicate_of = ?, updated_at = ? "
            "WHERE tick_id = ? AND status = 'pending'",
            (status.value, reason, duplicate_of, self.sql.time(now), tick_id),
        )
        return cursor.rowcount == 1

    def list_ticks(self, schedule: str | None = None, limit: int = 50) -> list[TickRecord]:
        """The newest ticks first."""
        statement = f"SELECT {_TICK_COLUMNS} FROM ticks"
        params: list[object] = []
        if schedule is not None:
            statement += " WHERE schedule = ?"
            params.append(schedule)
        found = rows(self.sql, statement + " ORDER BY scheduled_at DESC, tick_id DESC LIMIT ?", [*params, limit])
        return [self._tick(row) for row in found]

    def tick_for_run(self, run_id: str) -> TickRecord | None:
        row = one(self.sql, f"SELECT {_TICK_COLUMNS} FROM ticks WHERE run_id = ?", (run_id,))
        return self._tick(row) if row else None

    def last_ticks(self) -> dict[str, TickRecord]:
        """The newest tick of every schedule that has one."""
        found = rows(
            self.sql,
            f"SELECT {_TICK_COLUMNS} FROM ticks WHERE tick_id IN (SELECT MAX(tick_id) FROM ticks GROUP BY schedule)",
        )
        return {row[1]: self._tick(row) for row in found}

    def file_state(self, schedule: str) -> dict[str, tuple[int, int]]:
        """``path -> (mtime_ns, size)`` last seen for an ``on_file`` schedule."""
        found = rows(self.sql, "SELECT path, mtime_ns, size FROM file_state WHERE schedule = ?", (schedule,))
        return {row[0]: (int(row[1]), int(row[2])) for row in found}

    # -- the scheduler lease

    def acquire_lease(
        self, holder: str, now: datetime, ttl: float, holder_is_dead: Callable[[Lease], bool]
    ) -> Lease | None:
        """Take or renew the lease: free, expired, ours, or held by a dead holder; else None."""
        sql = self.sql
        expires = now + timedelta(seconds=ttl)
        current = self.get_lease()
        if current is not None and current.holder == holder:
            renewed = sql.execute(
                "UPDATE scheduler_lease SET renewed_at = ?, expires_at = ? WHERE name = ? AND holder = ? AND epoch = ?",
                (sql.time(now), sql.time(expires), LEASE, holder, current.epoch),
            )
            return Lease(holder, current.epoch, current.acquired_at, now, expires) if renewed.rowcount == 1 else None
        if current is not None and current.expires_at > now and not holder_is_dead(current):
            return None
        epoch = (current.epoch if current else 0) + 1
        if current is None:
            taken = sql.execute(
                f"INSERT INTO scheduler_lease (name, {_LEASE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (name) DO NOTHING",
                (LEASE, holder, epoch, sql.time(now), sql.time(now), sql.time(expires)),
            )
        else:
            taken = sql.execute(  # only if nobody (the holder included) changed it since it was read
                "UPDATE scheduler_lease SET holder = ?, epoch = ?, acquired_at = ?, renewed_at = ?, expires_at = ? "
                "WHERE name = ? AND epoch = ? AND renewed_at = ?",
                (
                    holder,
                    epoch,
                    sql.time(now),
                    sql.time(now),
                    sql.time(expires),
                    LEASE,
                    current.epoch,
                    sql.time(current.renewed_at),
                ),
            )
        return Lease(holder, epoch, now, now, expires) if taken.rowcount == 1 else None

    def release_lease(self, holder: str) -> None:
        """Let the lease expire at once (the holder's name stays, for ``scheduler_status``)."""
        self.sql.execute(
            "UPDATE scheduler_lease SET expires_at = renewed_at WHERE name = ? AND holder = ?", (LEASE, holder)
        )

    def get_lease(self) -> Lease | None:
        sql = self.sql
        row = one(sql, f"SELECT {_LEASE_COLUMNS} FROM scheduler_lease WHERE name = ?", (LEASE,))
        if row is None:
            return None
        return Lease(
            row[0],
            int(row[1]),
            sql.read_time(row[2]),  # type: ignore[arg-type]
            sql.read_time(row[3]),  # type: ignore[arg-type]
            sql.read_time(row[4]),  # type: ignore[arg-type]
        )

    # -- rows and records

    def _state(self, row: tuple[Any, ...]) -> ScheduleState:
        sql = self.sql
        return ScheduleState(
            name=row[0],
            fingerprint=row[1],
            next_fire_at=sql.read_time(row[2]),
            paused=bool(row[3]),
            cursor=sql.read_time(row[4]),
            updated_at=sql.read_time(row[5]),
        )

    def _tick(self, row: tuple[Any, ...]) -> TickRecord:
        sql = self.sql
        parameters: Mapping[str, Any] = json.loads(row[11]) if row[11] else {}
        return TickRecord(
            tick_id=int(row[0]),
            schedule=row[1],
            scheduled_at=sql.read_time(row[2]),  # type: ignore[arg-type]
            trigger=Trigger(row[3]),
            key=row[4],
            status=TickStatus(row[5]),
            created_at=sql.read_time(row[6]),  # type: ignore[arg-type]
            updated_at=sql.read_time(row[7]),  # type: ignore[arg-type]
            reason=row[8],
            run_id=row[9],
            duplicate_of=row[10],
            parameters=parameters,
        )


def _covered(covering: tuple[str, str]) -> str:
    return f"run {covering[0]} ({covering[1]}) already covers this schedule and logical date"
