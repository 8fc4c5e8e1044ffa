"""Exclusive resources held across runs and processes (``warehouse``: one writer of a DuckDB file).

A node (or a batch of dbt nodes) asks for all the resources it needs at
once; it gets all of them or none (so no run ever holds one resource while
waiting for another: no deadlock between runs). A request that cannot be
granted is kept as a *wait*, and requests are served oldest first: a
resource is not granted while an older waiting request wants it, even if it
is free at that moment. Decisions are serialized across processes
(:meth:`~orchestrate_ext.store.sql.Sql.serialize`), and every hold names the
claim (run and epoch) it was taken under: the takeover that fences a dead
run's execution drops its holds, and so does a waiter that finds the holder's
process dead (:meth:`ResourceStatements.drop_dead_holds`).
"""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from datetime import datetime

from orchestrate_ext.model import RunStatus
from orchestrate_ext.store.records import ResourceHolder, ResourceWait
from orchestrate_ext.store.schedules_sql import ScheduleStatements
from orchestrate_ext.store.sql import marks, one, rows

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

        Raises nothing when the claim was lost: the caller's next fenced write finds out.
        """
        wanted = sorted(set(resources))
        if not wanted:
            return None
        sql = self.sql
        sql.serialize(_SERIAL_KEY)
        self._drop_holds_of_finished_runs(wanted)
        holders = self._holders(wanted)
        mine = one(sql, "SELECT since FROM resource_waits WHERE run_id = ? AND node_id = ?", (run_id, node_id))
        since = (sql.read_time(mine[0]) if mine else None) or now
        ahead = self._waits_ahead(run_id, node_id, since, set(wanted))
        holders = [holder for holder in holders if (holder.run_id, holder.node_id) != (run_id, node_id)]
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

    def release_resources(self, run_id: str, node_ids: Collection[str]) -> None:
        """Give back what these nodes hold and stop their waits."""
        wanted = sorted(node_ids)
        if not wanted:
            return
        for table in ("resource_holds", "resource_waits"):
            self.sql.execute(
                f"DELETE FROM {table} WHERE run_id = ? AND node_id IN ({marks(wanted)})", [run_id, *wanted]
            )

    def withdraw_requests(self, run_id: str, node_ids: Collection[str]) -> None:
        """Leave the line: these nodes no longer ask (what they hold already, they keep)."""
        wanted = sorted(node_ids)
        if wanted:
            self.sql.execute(
                f"DELETE FROM resource_waits WHERE run_id = ? AND node_id IN ({marks(wanted)})", [run_id, *wanted]
            )

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
            "SELECT h.resource, h.run_id, h.node_id, h.owner, h.acquired_at, r.heartbeat_at "
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
