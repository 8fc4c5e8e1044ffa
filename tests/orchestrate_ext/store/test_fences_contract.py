"""The store contract for the fences of issue 18 (one process; the races are in ``test_fence_races``), both backends."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

from orchestrate_ext.clock import SystemClock
from orchestrate_ext.errors import RunBusy
from orchestrate_ext.execution.claims import Supervisor
from orchestrate_ext.execution.liveness import ProcessIdentity
from orchestrate_ext.model import AttemptStatus, NodeStatus, RunStatus
from orchestrate_ext.store import StateStore
from tests.orchestrate_ext.store.records import T0, attempt, claim, insert, make_run, node


class _Liveness:
    """Every owner lives (the other retry is a live process)."""

    def is_alive(self, owner: object, heartbeat_at: object, now: object) -> bool:
        return True


def _supervisor(store: StateStore, pid: int) -> Supervisor:
    return Supervisor(store, SystemClock(), ProcessIdentity("host", pid, 1.0), _Liveness())


def _failed(store: StateStore, run_id: str = "r1") -> int:
    insert(store, make_run(run_id), "a")
    epoch = claim(store, run_id, "finished-owner")
    with store.transaction() as tx:
        assert tx.finish_run(run_id, RunStatus.FAILED, epoch, T0)
    return epoch


def test_a_retry_claims_only_the_epoch_it_read_and_the_loser_names_the_holder(store: StateStore) -> None:
    seen = _failed(store)
    first = _supervisor(store, 101).claim_again("r1", seen)
    assert first.epoch == seen + 1
    with store.read() as tx:
        assert tx.get_run("r1").status == RunStatus.RUNNING, "a second retry, a delete, a cancel see it executing"
    with pytest.raises(RunBusy, match=r"run r1 is still running \(pid 101 on host\)") as busy:
        _supervisor(store, 202).claim_again("r1", seen)
    assert busy.value.owner == "host:101:1.00"
    with store.transaction() as tx:
        assert tx.finish_run("r1", RunStatus.FAILED, first.epoch, T0)
    with pytest.raises(RunBusy, match=r"run r1 was claimed by pid 101 on host while this retry was being prepared"):
        _supervisor(store, 202).claim_again("r1", seen)


def test_try_numbers_come_from_the_store_and_only_grow(store: StateStore) -> None:
    insert(store, make_run(), "a")
    old = claim(store, "r1", "first")
    with store.transaction() as tx:
        assert tx.allocate_tries("r1", ["a"], old) == {"a": 1}
    new = claim(store, "r1", "second")  # try 1 never started: the new owner must not get 1 again
    with store.transaction() as tx:
        assert tx.allocate_tries("r1", ["a"], old) is None, "a superseded claim gets no try number"
        assert tx.set_node_state(node("r1", "a", NodeStatus.PENDING), 0, new), "a state with an older try is kept"
        assert tx.allocate_tries("r1", ["a"], new) == {"a": 2}
        assert tx.start_attempt(
            attempt("r1", "a", 2, AttemptStatus.RUNNING), node("r1", "a", NodeStatus.RUNNING), new, host="h", pid=1
        )
        assert tx.allocate_tries("r1", ["a"], new) == {"a": 3}


def test_resource_holds_belong_to_a_claim_not_to_a_run_and_node(store: StateStore) -> None:
    insert(store, make_run(), "a")
    old = claim(store, "r1", "first")

    def ask(epoch: int, owner: str) -> object:
        with store.transaction() as tx:
            return tx.request_resources("r1", "a", ["warehouse"], owner=owner, epoch=epoch, now=T0)

    assert ask(old, "first") is None
    new = claim(store, "r1", "second")
    wait = ask(new, "second")
    assert wait is not None and [h.epoch for h in wait.holders] == [old], "the old claim's hold is not ours"  # type: ignore[attr-defined]
    lost = ask(old, "first")
    assert lost is not None and lost.claim_lost, "a superseded claim is granted nothing"  # type: ignore[attr-defined]
    with store.transaction() as tx:
        assert not tx.withdraw_requests("r1", ["a"], old)
        assert not tx.release_resources("r1", ["a"], old), "the old owner's batch ended: its own hold goes"
        assert tx.resource_holders() == []
    assert ask(new, "second") is None
    with store.transaction() as tx:
        assert not tx.release_resources("r1", ["a"], old)
        assert not tx.withdraw_requests("r1", ["a"], old)
        assert [(h.owner, h.epoch) for h in tx.resource_holders()] == [("second", new)], "the new hold stays"
        assert tx.release_resources("r1", ["a"], new)
        assert tx.resource_holders() == []


def test_a_delete_returns_what_it_deleted_and_keeps_a_run_a_retry_claimed(store: StateStore) -> None:
    seen = _failed(store, "r1")
    _failed(store, "r2")
    _supervisor(store, 101).claim_again("r1", seen)
    with store.transaction() as tx:
        assert tx.delete_runs(["r1", "r2", "missing"]) == ["r2"]
        assert [run.run_id for run in tx.find_runs()] == ["r1"]


def test_keep_reports_a_lost_claim_at_once(store: StateStore) -> None:
    insert(store, make_run(), "a")
    supervisor = _supervisor(store, 101)
    held = supervisor.claim("r1")
    assert held.keep(T0)
    claim(store, "r1", "somebody-else")
    assert not held.keep(T0), "the store says the claim is lost: keep says so on its next call"
    assert not held.keep(T0)


def test_a_read_sees_one_snapshot(store: StateStore, open_more: Callable[[], StateStore]) -> None:
    insert(store, make_run("r1"), "a")
    other = open_more()
    done = threading.Event()
    with store.read() as tx:
        assert len(tx.find_runs()) == 1

        def write() -> None:
            insert(other, make_run("r2"), "a")
            done.set()

        writer = threading.Thread(target=write)
        writer.start()
        assert done.wait(30), "a read does not block a writer"
        assert len(tx.find_runs()) == 1, "the read still sees the snapshot it started with"
    writer.join()
    with store.read() as tx:
        assert len(tx.find_runs()) == 2
