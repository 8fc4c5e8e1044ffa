"""The contract of :class:`alerts.store.AlertStore`, on both backends of the state store."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import timedelta

import pytest

from alerts.content import AlertContent
from alerts.store import (
    ARMED,
    FAILED,
    MET,
    MISSED,
    PENDING,
    SENDING,
    SENT,
    AlertEvent,
    AlertStore,
    NewMessage,
    SlaRecord,
)
from alerts.store_sql import SqlAlertStore
from orchestrate_ext.errors import StoreError
from orchestrate_ext.model import StateLocation
from orchestrate_ext.store import StateStore, open_store
from tests.alerts.conftest import START

Factory = Callable[[], AlertStore]


@pytest.fixture
def make_store(state_location: StateLocation) -> Iterator[Factory]:
    """A factory of alert stores on one shared state store, once per backend (each call: another process's view)."""
    opened: list[StateStore] = []

    def make() -> AlertStore:
        store = open_store(state_location)
        opened.append(store)
        return SqlAlertStore(store)

    yield make
    for store in opened:
        store.close()


def message(key: str, *, parent: int | None = None, channel: str = "slack", at: int = 0) -> NewMessage:
    content = AlertContent("failure", f"Failed: {key}")
    return NewMessage(key, channel, "#x", "post", content, START + timedelta(seconds=at), "route 0", parent)


def test_events_are_kept_once_until_composed(make_store: Factory) -> None:
    store = make_store()
    event = AlertEvent("failure:r1:n:1", "failure", "r1", "pipeline", "n", START, {"item": {"x": 1}})
    with store.transaction() as tx:
        assert tx.add_event(event) and not tx.add_event(event)
        assert tx.has_buffered_failure("pipeline", "n") and not tx.has_buffered_failure("schedule:x", "n")
        [buffered] = tx.buffered_events()
        assert buffered.payload == {"item": {"x": 1}} and buffered.created_at == START
        tx.mark_composed([buffered.id or 0], START)
        assert tx.buffered_events() == [] and not tx.has_buffered_failure("pipeline", "n")


def test_a_failed_block_writes_nothing(make_store: Factory) -> None:
    store = make_store()
    with pytest.raises(RuntimeError), store.transaction() as tx:
        tx.add_message(message("a"))
        raise RuntimeError("boom")
    with store.transaction() as tx:
        assert tx.messages() == []


def test_one_open_incident_per_scope_and_node(make_store: Factory) -> None:
    store = make_store()
    with store.transaction() as tx:
        incident = tx.create_incident("pipeline", "n", "r1", START)
        assert tx.open_incident("pipeline", "n") == incident
        assert tx.open_incident("schedule:nightly", "n") is None
        root = tx.add_message(message("root"))
        assert root is not None
        tx.set_thread_root(incident.id, "slack:#x", root)
        thread = tx.thread_root(incident.id, "slack:#x")
        assert thread is not None and thread.id == root
    with pytest.raises(StoreError), store.transaction() as tx:
        tx.create_incident("pipeline", "n", "r2", START)
    with store.transaction() as tx:
        tx.save_incident(replace(incident, status="resolved"), resolved_at=START)
        assert tx.open_incident("pipeline", "n") is None
        assert tx.create_incident("pipeline", "n", "r3", START).id != incident.id


def test_messages_are_deduplicated_and_updates_give_the_latest_content(make_store: Factory) -> None:
    store = make_store()
    with store.transaction() as tx:
        root = tx.add_message(message("root"))
        assert root is not None and tx.add_message(message("root")) is None
        update = NewMessage("u1", "slack", "#x", "update", AlertContent("failure", "v2"), START, parent_id=root)
        tx.add_message(update)
        assert (tx.latest_content(root) or AlertContent("", "")).title == "v2"


def test_claims_respect_due_times_parents_channels_and_leases(make_store: Factory) -> None:
    store = make_store()
    with store.transaction() as tx:
        root = tx.add_message(message("root"))
        tx.add_message(message("reply", parent=root))
        tx.add_message(message("mail", channel="email", at=60))
        lease = START + timedelta(minutes=5)
        claimed = tx.claim_next(START, lease, {"slack"})
        assert claimed is not None
        first, parent = claimed
        assert first.id == root and parent is None and first.attempts == 1 and first.status == SENDING
        assert tx.claim_next(START, lease, {"slack"}) is None  # the reply waits for its parent
        assert tx.claim_next(START, lease, {"email"}) is None  # not due yet
        tx.finish_message(first.id, SENT, result={"ts": "1.2"}, sent_at=START)
        reply, parent = tx.claim_next(START, lease, {"slack"}) or (None, None)
        assert reply is not None and parent is not None and parent.result == {"ts": "1.2"}
        assert tx.next_due({"email"}) == START + timedelta(seconds=60)
        assert tx.claim_next(lease, lease, {"slack"}) is not None  # the reply's claim expired: taken over
        tx.finish_message(reply.id, PENDING, error="busy", next_attempt_at=START + timedelta(hours=1))
        [pending] = tx.messages((PENDING,), 10)[-1:]
        assert pending.last_error == "busy" and pending.attempts == 2


def test_only_one_of_two_processes_claims_a_message(make_store: Factory) -> None:
    stores = [make_store() for _ in range(4)]
    with stores[0].transaction() as tx:
        for i in range(20):
            tx.add_message(message(f"m{i}"))
    claimed: list[int] = []
    lock = threading.Lock()

    def worker(store: AlertStore) -> None:
        while True:
            with store.transaction() as tx:
                got = tx.claim_next(START, START + timedelta(minutes=5), {"slack"})
                if got is None:
                    return
                tx.finish_message(got[0].id, FAILED, error="x")
            with lock:
                claimed.append(got[0].id)

    threads = [threading.Thread(target=worker, args=(store,)) for store in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert sorted(claimed) == list(range(1, 21))


def test_slas_settle_once(make_store: Factory) -> None:
    store = make_store()
    record = SlaRecord("r1", "n", "finish_by", START, "pipeline", "finish_by 07:30 (UTC)")
    with store.transaction() as tx:
        tx.arm_slas([record, record])
        assert tx.armed_slas() == [record]
        assert tx.settle_sla(record, MISSED) and not tx.settle_sla(record, MET)
        assert tx.armed_slas() == []
        tx.arm_slas([record])  # a retry of the run arms nothing again
        assert tx.armed_slas() == [] and record.status == ARMED


def test_freshness_keeps_the_newest_success_and_alerts_once_per_reference(make_store: Factory) -> None:
    store = make_store()
    with store.transaction() as tx:
        tx.watch_freshness("n", 3600, START)
        tx.record_success("n", START + timedelta(hours=2))
        tx.record_success("n", START + timedelta(hours=1))
        tx.record_success("other", START)
        [row] = tx.freshness()
        assert row.last_success_at == START + timedelta(hours=2) and row.watched_since == START
        assert tx.mark_stale_alerted("n", row.last_success_at) and not tx.mark_stale_alerted("n", row.last_success_at)
