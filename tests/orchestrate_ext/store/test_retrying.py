"""``StateStore.retrying`` / ``reading``: what runs again after an outage, and what is never applied twice.

The outage is faked at the network's place (the unit of work raises :class:`StoreUnreachable` as the
PostgreSQL backend does when its connection is lost; the server "answers again" at once); the store, its
transactions and the fenced writes are real (SQLite). One test has a real PostgreSQL server end the store's
connections; a server stopped during a run is in ``test_outage.py``.
"""

from __future__ import annotations

import logging
import uuid
from pathlib import Path

import pytest

from orchestrate_ext.errors import StoreUnreachable
from orchestrate_ext.store import StoreTx
from orchestrate_ext.store.sqlite import SQLiteStore
from tests.orchestrate_ext.store.records import insert, make_run


class FlakyStore(SQLiteStore):
    """A SQLite store whose server is "back" after ``down_for`` waits (never, when negative)."""

    down_for = 0
    waits = 0

    def _wait_until_reachable(self, deadline: float) -> bool:
        self.waits += 1
        return self.down_for >= 0 and self.waits > self.down_for


@pytest.fixture
def store(tmp_path: Path) -> FlakyStore:
    opened = FlakyStore(tmp_path / "state.db")
    opened.outage_wait = 60
    insert(opened, make_run("r"), "a")
    return opened


def names(tx: StoreTx) -> list[str]:
    return sorted(run.run_id for run in tx.find_runs())


def test_a_unit_of_work_cut_before_its_commit_runs_again_whole(
    store: FlakyStore, caplog: pytest.LogCaptureFixture
) -> None:
    calls: list[int] = []

    def work(tx: StoreTx) -> list[str]:
        calls.append(1)
        if len(calls) == 1:
            raise StoreUnreachable("lost", reason="server closed the connection unexpectedly")
        return names(tx)

    with caplog.at_level(logging.WARNING, logger="orchestrate_ext.store"):
        assert store.retrying(work) == ["r"]
    assert len(calls) == 2
    waiting = [r.getMessage() for r in caplog.records if "unreachable" in r.getMessage()]
    assert waiting == [
        f"state store unreachable, waiting up to 60 s: server closed the connection unexpectedly ({store.location})"
    ]
    assert any("reachable again" in r.getMessage() for r in caplog.records)


def test_a_commit_that_may_have_happened_is_not_run_again_when_it_was_applied(store: FlakyStore) -> None:
    calls: list[int] = []
    insert(store, make_run("new1"), "a")  # what the COMMIT lost on its way carried, applied

    def work(tx: StoreTx) -> bool:
        calls.append(1)
        raise StoreUnreachable("lost", reason="lost during COMMIT", commit_unknown=True)

    assert store.retrying(work, applied=lambda tx: True if "new1" in names(tx) else None) is True
    assert len(calls) == 1
    assert store.reading(names) == ["new1", "r"]


def test_a_commit_that_did_not_happen_is_run_again(store: FlakyStore) -> None:
    calls: list[int] = []

    def work(tx: StoreTx) -> bool:
        calls.append(1)
        if len(calls) == 1:
            raise StoreUnreachable("lost", reason="lost during COMMIT", commit_unknown=True)
        return True

    assert store.retrying(work, applied=lambda tx: None) is True
    assert len(calls) == 2


def test_a_store_that_stays_away_ends_the_wait_with_a_message_naming_it_and_the_setting(store: FlakyStore) -> None:
    store.down_for = -1

    def work(tx: StoreTx) -> None:
        raise StoreUnreachable("lost", reason="connection refused")

    with pytest.raises(StoreUnreachable) as raised:
        store.reading(work)
    message = str(raised.value)
    assert store.location in message and "connection refused" in message and "state.outage_wait" in message


def test_without_an_outage_wait_the_error_comes_at_once(store: FlakyStore) -> None:
    store.outage_wait = 0

    def work(tx: StoreTx) -> None:
        raise StoreUnreachable("lost", reason="connection refused")

    with pytest.raises(StoreUnreachable, match="lost"):
        store.retrying(work)
    assert store.waits == 0


def test_a_connection_the_server_ends_is_an_outage_that_a_read_rides_out(postgres_schema_url: str) -> None:
    """Real PostgreSQL: the server ends the store's connections (as a restart does); a plain read says the store
    is unreachable, ``reading`` reconnects and answers."""
    import psycopg

    from orchestrate_ext.store.postgres import PostgresStore

    name = f"outage-test-{uuid.uuid4().hex[:8]}"  # only this store's connections are ended
    store = PostgresStore(f"{postgres_schema_url}&application_name={name}", outage_wait=30)
    try:
        insert(store, make_run("r"), "a")

        def end_connections() -> None:
            with psycopg.connect(postgres_schema_url, autocommit=True) as admin:
                ended = admin.execute(
                    "SELECT pg_terminate_backend(pid, 10000) FROM pg_stat_activity WHERE application_name = %s",
                    (name,),
                ).fetchall()
            assert ended and all(row[0] for row in ended)

        end_connections()
        with pytest.raises(StoreUnreachable) as raised, store.read() as tx:
            names(tx)
        assert not raised.value.commit_unknown
        end_connections()
        assert store.reading(names) == ["r"]
    finally:
        store.close()
