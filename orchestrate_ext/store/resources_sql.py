"""Exclusive resources held across runs and processes (``warehouse``: one writer of a DuckDB file).

A node (or a batch of dbt nodes) asks for all the resources it needs at
once; it gets all of them or none (so no run ever holds one resource while
waiting for another: no deadlock between runs). A request that cannot be
granted is kept as a *wait*, and requests are served oldest first: a
resource is not granted while an older waiting request wants it, even if it
is free at that moment. Decisions are serialized across processes
(:meth:`~orchestrate_ext.store.sql.Sql.serialize`).

A hold belongs to a *claim* (run and epoch), not to a run and node: a hold
taken under an older epoch of the same run and node is somebody else's (a
superseded owner whose process may still write), so it blocks like any other
until it is released, the takeover that fences a dead execution drops it, or a
waiter finds the holder's process dead (:meth:`ResourceStatements.drop_dead_holds`).
Request, release and withdraw are fenced: each checks, under the run's row
lock, that ``epoch`` is still the run's claim. A superseded owner is granted
nothing and cannot touch the line of waits; a release removes only holds taken
under its own epoch (its batch ended: what it held is free), never its
successor's.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from datetime import datetime

from orchestrate_ext.model import RunStatus
from orchestrate_ext.store.records import ResourceHolder, ResourceWait
from orchestrate_ext.store.schedules_sql import ScheduleStatements
from orchestrate_ext.store.sql import marks, one, rows

LOST = ResourceWait(holders=(), position=0, claim_lost=True)
"""What a request made under a claim that was lost gets: nothing, never a grant."""

_SERIAL_KEY = "resources"


class ResourceStatements(ScheduleStatements):
    """Resource holds and waits on one transaction."""

    def request_resources(
        self,
        run_id: str,
        node_id: str,
        resources: Sequence[str],
        *,
        owner: str,
        epoch: int,
        now: datetime,
    ) -> ResourceWait | None:
        """Take every one of ``resources`` for ``node_id`` of ``run_id`` (None), or wait in line (the wait).

        Under a claim that was lost (``epoch`` is not the run's any more), nothing
        is taken and :data:`LOST` is returned.
        """
        wanted = sorted(set(resources))
        sql = self.sql
        if not self.holds_claim(run_id, epoch):
            return LOST
        if not wanted:
            return None
        sql.serialize(_SERIAL_KEY)
        self._drop_holds_of_finished_runs(wanted)
        holders = self._holders(wanted)
        mine = one(sql, "SELECT since FROM resource_waits WHERE run_id = ? AND node_id = ?", (run_id, node_id))
        since = (sql.read_time(mine[0]) if mine else None) or now
        ahead = self._waits_ahead(run_id, node_id, since, set(wanted))
        mine_held = (run_id, node_id, epoch)
        holders = [holder for holder in holders if (holder.run_id, holder.node_id, holder.epoch) != mine_held]
        if not holders and not ahead:
            sql.execute("DELETE FROM resource_waits WHERE run_id = ? AND node_id = ?", (run_id, node_id))
            sql.executemany(
                "INSERT INTO resource_holds (resource, run_id, node_id, owner, epoch, acquired_at) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (resource) DO NOTHING",
                [(resource, run_id, node_id, owner, epoch, sql.time(now)) for resource in wanted],
            )
            return None
        if mine is None:
            sql.execute(
                "INSERT INTO resource_waits (run_id, node_id, resources, since) VALUES (?, ?, ?, ?)",
                (run_id, node_id, json.dumps(wanted), sql.time(now)),
            )
        return ResourceWait(holders=tuple(holders), position=ahead)

    def release_resources(self, run_id: str, node_ids: Collection[str], epoch: int) -> bool:
        """Give back what these nodes hold under claim ``epoch`` and stop their waits.

        Only holds taken under ``epoch`` go (a superseded owner whose batch ended
        gives back its own, never its successor's); the waits only while
        ``epoch`` is still the run's claim. Returns whether it still is.
        """
        wanted = sorted(node_ids)
        held = self.holds_claim(run_id, epoch)
        if wanted:
            self.sql.execute(
                f"DELETE FROM resource_holds WHERE run_id = ? AND epoch = ? AND node_id IN ({marks(wanted)})",
                [run_id, epoch, *wanted],
            )
            if held:
                self.sql.execute(
                    f"DELETE FROM resource_waits WHERE run_id = ? AND node_id IN ({marks(wanted)})", [run_id, *wanted]
                )
        return held

    def withdraw_requests(self, run_id: str, node_ids: Collection[str], epoch: int) -> bool:
        """Leave the line: these nodes no longer ask (what they hold already, they keep).

        False, and nothing changed, once the claim was lost.
        """
        wanted = sorted(node_ids)
        if not self.holds_claim(run_id, epoch):
            return False
        if wanted:
            self.sql.execute(
                f"DELETE FROM resource_waits WHERE run_id = ? AND node_id IN ({marks(wanted)})", [run_id, *wanted]
            )
        return True

    def resource_holders(self, resources: Collection[str] | None = None) -> list[ResourceHolder]:
        """Who holds each resource now (every held resource when ``resources`` is None)."""
        return self._holders(None if resources is None else sorted(resources))

    def drop_dead_holds(self, run_id: str, owner: str) -> int:
        """Drop what ``owner`` (a process found dead) holds or waits for in ``run_id``; returns how many rows."""
        holds = self.sql.execute("DELETE FROM resource_holds WHERE run_id = ? AND owner = ?", (run_id, owner))
        waits = self.sql.execute(
            "DELETE FROM resource_waits WHERE run_id = ? AND EXISTS "
            "(SELECT 1 FROM runs WHERE runs.run_id = ? AND runs.owner = ?)",
            (run_id, run_id, owner),
        )
        return max(holds.rowcount, 0) + max(waits.rowcount, 0)

    def _drop_holds_of_finished_runs(self, wanted: Sequence[str]) -> None:
        self.sql.execute(
            f"DELETE FROM resource_holds WHERE resource IN ({marks(wanted)}) AND run_id NOT IN "
            "(SELECT run_id FROM runs WHERE status = ?)",
            [*wanted, RunStatus.RUNNING.value],
        )

    def _holders(self, wanted: Sequence[str] | None) -> list[ResourceHolder]:
        sql = self.sql
        statement = (
            "SELECT h.resource, h.run_id, h.node_id, h.owner, h.acquired_at, r.heartbeat_at, h.epoch "
            "FROM resource_holds h LEFT JOIN runs r ON r.run_id = h.run_id"
        )
        params: list[object] = []
        if wanted is not None:
            statement += f" WHERE h.resource IN ({marks(wanted)})"
            params = list(wanted)
        return [
            ResourceHolder(
                resource=row[0],
                run_id=row[1],
                node_id=row[2],
                owner=row[3],
                acquired_at=sql.read_time(row[4]),  # type: ignore[arg-type]
                heartbeat_at=sql.read_time(row[5]),
                epoch=int(row[6]),
            )
            for row in rows(sql, statement + " ORDER BY h.resource", params)
        ]

    def _waits_ahead(self, run_id: str, node_id: str, since: datetime, wanted: set[str]) -> int:
        """Waiting requests of running runs, older than this one, that want any of ``wanted``."""
        sql = self.sql
        earlier = rows(
            sql,
            "SELECT w.resources FROM resource_waits w JOIN runs r ON r.run_id = w.run_id "
            "WHERE r.status = ? AND (w.since < ? OR (w.since = ? AND (w.run_id < ? OR "
            "(w.run_id = ? AND w.node_id < ?))))",
            (RunStatus.RUNNING.value, sql.time(since), sql.time(since), run_id, run_id, node_id),
        )
        return sum(1 for row in earlier if wanted & set(json.loads(row[0])))
