"""The next-fire index: what a refused write did not store is still to do."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrate_ext.scheduling.definitions import ScheduleDefinition
from orchestrate_ext.scheduling.indexing import NextFireIndex
from orchestrate_ext.store.records import LeaseLost, ScheduleState
from orchestrate_ext.testing import ScriptedRunner
from tests.orchestrate_ext.scheduling.helpers import snapshot, utc


def test_a_save_refused_for_a_lost_lease_leaves_the_schedules_to_index(tmp_path: Path) -> None:
    found = snapshot(tmp_path, [ScheduleDefinition("m", "x", cron="* * * * *", select="load")], ScriptedRunner())
    index = NextFireIndex(budget=1.0)
    now = utc(2024, 1, 8, 0, 0, 30)
    index.plan(found, {}, now)

    def refused(changed: list[ScheduleState]) -> None:
        raise LeaseLost("another scheduler took the lease")

    with pytest.raises(LeaseLost):
        index.take(now, refused)
    assert not index.done_for(found), "nothing was written: the schedule is still to index"
    saved: list[ScheduleState] = []
    index.take(now, saved.extend)
    assert [(state.name, state.next_fire_at) for state in saved] == [("m", utc(2024, 1, 8, 0, 1))]
    assert index.done_for(found)
