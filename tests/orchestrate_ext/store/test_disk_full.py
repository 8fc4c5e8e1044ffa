"""A full disk under the SQLite store: one clear error naming the store and the fix, and a store that still works.

SQLite reports a full disk and a database at its ``max_page_count`` the same way (SQLITE_FULL, "database or
disk is full") and rolls the transaction back itself; the limit makes the real error come on any machine.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrate_ext.errors import StoreError
from orchestrate_ext.model import StateLocation
from orchestrate_ext.store import open_store
from orchestrate_ext.store.sqlite import SQLiteStore
from tests.orchestrate_ext.store.records import insert, make_run


def test_a_full_disk_names_the_store_and_the_fix_and_loses_nothing_written_before(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    store = open_store(StateLocation(path=path))
    assert isinstance(store, SQLiteStore)
    insert(store, make_run("kept"), "a")
    pages = store._db.execute("PRAGMA page_count").fetchone()[0]
    store._db.execute(f"PRAGMA max_page_count = {pages + 2}")
    nodes = [f"model.p.node_{i:05d}_{'x' * 80}" for i in range(2000)]
    with pytest.raises(StoreError) as raised:
        insert(store, make_run("too_big"), *nodes)
    message = str(raised.value)
    assert str(path) in message
    assert "disk is full" in message
    assert "state.path" in message
    assert "cannot rollback" not in message
    store._db.execute("PRAGMA max_page_count = 1073741823")  # space again
    insert(store, make_run("after"), "a")
    with store.read() as tx:
        assert sorted(run.run_id for run in tx.find_runs()) == ["after", "kept"]
