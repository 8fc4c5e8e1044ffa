"""What a run left out (broken nodes and what waits for them, with why), on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest

from orchestrate_ext.errors import StoreError
from orchestrate_ext.model import StateLocation
from orchestrate_ext.store import StateStore, open_store
from orchestrate_ext.store.schema import RUNS
from tests.orchestrate_ext.store.records import T0, claim, insert, make_run

TYPO = "notebook 'report.ipynb' depends on 'lod', which is no dbt node, source or notebook; did you mean 'load'?"
WAITS = "it waits for notebook.report, which is broken"


def test_a_run_keeps_what_it_left_out_and_why(store: StateStore) -> None:
    left_out = {"notebook.report": TYPO, "notebook.summary": WAITS}
    insert(store, make_run("r1", left_out=left_out), "notebook.load")
    insert(store, make_run("r2", T0 + timedelta(minutes=1)), "notebook.load")
    with store.read() as tx:
        assert tx.get_run("r1").left_out == left_out
        assert tx.get_run("r2").left_out == {}
        assert {run.run_id: dict(run.left_out) for run in tx.find_runs()} == {"r1": left_out, "r2": {}}


def test_a_retry_adds_what_it_leaves_out_under_its_claim(store: StateStore) -> None:
    insert(store, make_run("r1", left_out={"notebook.report": TYPO, "notebook.summary": WAITS}), "a", "b")
    stale = claim(store, "r1")
    epoch = claim(store, "r1")  # the retry's claim; `stale` is another process's, lost
    with store.transaction() as tx:
        assert not tx.add_left_out("r1", {"a": "stale"}, stale), "a lost claim writes nothing"
        assert tx.add_left_out("r1", {"b": "broken now", "notebook.summary": "it waits for b, which is broken"}, epoch)
        assert tx.add_left_out("r1", {}, epoch)
    with store.read() as tx:
        assert tx.get_run("r1").left_out == {
            "b": "broken now",
            "notebook.report": TYPO,
            "notebook.summary": "it waits for b, which is broken",
        }, "merged: what was left out stays, a newer reason replaces an older one"


def test_a_store_from_before_left_out_upgrades_on_the_first_write(state_location: StateLocation) -> None:
    store = open_store(state_location)
    insert(store, make_run("old"), "a")
    with store.transaction() as tx:  # the store as the previous version left it
        tx.sql.execute("ALTER TABLE runs DROP COLUMN left_out")
        for column in ("priority", "limit_key", "max_active"):  # nor what came after it (the run queue)
            tx.sql.execute(f"ALTER TABLE runs DROP COLUMN {column}")
        tx.sql.execute("UPDATE schema_versions SET version = 4 WHERE component = 'runs'")
    store.close()
    with pytest.raises(StoreError, match="runs schema version 4, older than this orchestrate-ext"):
        open_store(state_location, read_only=True)

    upgraded = open_store(state_location)
    assert upgraded.schema_versions()["runs"] == RUNS.version == 6
    insert(upgraded, make_run("new", T0 + timedelta(minutes=1), left_out={"b": TYPO}), "a")
    with upgraded.read() as tx:
        assert tx.get_run("old").left_out == {}
        assert tx.get_run("new").left_out == {"b": TYPO}
    upgraded.close()
