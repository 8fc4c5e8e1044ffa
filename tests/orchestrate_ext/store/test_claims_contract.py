"""The store contract for claims, fenced writes, takeovers, cancel requests and resources, on both backends."""

from __future__ import annotations

from datetime import timedelta

from orchestrate_ext.model import AttemptStatus, NodeStatus, RunStatus
from orchestrate_ext.store import StateStore
from orchestrate_ext.store.claims_sql import AttemptEnding
from tests.orchestrate_ext.store.records import T0, attempt, claim, insert, make_run, node


def test_every_claim_moves_the_epoch_and_a_stale_epoch_writes_nothing(store: StateStore) -> None:
    insert(store, make_run(), "a")
    old = claim(store, "r1", "first")
    new = claim(store, "r1", "second")
    assert new == old + 1
    with store.transaction() as tx:
        assert not tx.set_node_state(node("r1", "a", NodeStatus.RUNNING), 0, old)
        assert not tx.start_attempt(
            attempt("r1", "a", 1, AttemptStatus.RUNNING), node("r1", "a", NodeStatus.RUNNING), old, host="h", pid=1
        )
        assert not tx.mark_run_started("r1", old, T0)
        assert not tx.finish_run("r1", RunStatus.FAILED, old, T0)
        assert not tx.beat("r1", old, T0)
        assert tx.beat("r1", new, T0)
        assert tx.set_node_state(node("r1", "a", NodeStatus.QUEUED), 0, new)
    with store.read() as tx:
        assert tx.get_run("r1").status == RunStatus.RUNNING
        assert tx.node_states("r1")[0].status == NodeStatus.QUEUED
        assert tx.run_ownership("r1").owner == "second"


def test_an_older_try_is_refused_once_a_newer_one_exists(store: StateStore) -> None:
    insert(store, make_run(), "a")
    epoch = claim(store, "r1")
    with store.transaction() as tx:
        assert tx.start_attempt(
            attempt("r1", "a", 1, AttemptStatus.RUNNING), node("r1", "a", NodeStatus.RUNNING), epoch, host="h", pid=1
        )
        assert tx.start_attempt(
            attempt("r1", "a", 2, AttemptStatus.RUNNING), node("r1", "a", NodeStatus.RUNNING), epoch, host="h", pid=1
        )
        assert not tx.start_attempt(
            attempt("r1", "a", 2, AttemptStatus.RUNNING), node("r1", "a", NodeStatus.RUNNING), epoch, host="h", pid=1
        )
        late = attempt("r1", "a", 1, AttemptStatus.SUCCESS, finished_at=T0)
        assert not tx.finish_attempt(late, node("r1", "a", NodeStatus.SUCCESS), epoch), "try 1 is older than try 2"
        assert not tx.set_node_state(node("r1", "a", NodeStatus.FAILED), 1, epoch)
        done = attempt("r1", "a", 2, AttemptStatus.FAILED, finished_at=T0, error="boom", worker="local")
        assert tx.finish_attempt(done, node("r1", "a", NodeStatus.FAILED, error="boom"), epoch)
        again = attempt("r1", "a", 2, AttemptStatus.SUCCESS, finished_at=T0)
        assert not tx.finish_attempt(again, node("r1", "a", NodeStatus.SUCCESS), epoch), "a closed try stays closed"
    with store.read() as tx:
        [state] = tx.node_states("r1")
        assert (state.status, state.attempts, state.error) == (NodeStatus.FAILED, 2, "boom")
        assert [(a.try_number, a.status, a.worker) for a in tx.attempts("r1", "a")] == [
            (1, AttemptStatus.RUNNING, None),
            (2, AttemptStatus.FAILED, "local"),
        ]


def test_a_takeover_is_a_compare_and_set_that_closes_running_tries(store: StateStore) -> None:
    insert(store, make_run(), "a", "b")
    epoch = claim(store, "r1", "dead")
    with store.transaction() as tx:
        for node_id in ("a", "b"):
            tx.start_attempt(
                attempt("r1", node_id, 1, AttemptStatus.RUNNING),
                node("r1", node_id, NodeStatus.RUNNING, started_at=T0),
                epoch,
                host="h",
                pid=1,
            )
        tx.request_resources("r1", "a", ["warehouse"], owner="dead", epoch=epoch, now=T0)
    endings = [
        AttemptEnding("a", 1, AttemptStatus.SUCCESS, None, "/out/a.ipynb"),
        AttemptEnding("b", 1, AttemptStatus.CRASHED, "crashed: the process died"),
    ]
    later = T0 + timedelta(minutes=1)
    with store.transaction() as tx:
        taken = tx.take_over("r1", "rescuer", later, epoch, endings)
        assert taken == epoch + 1
        assert tx.take_over("r1", "other", later, epoch, endings) is None, "the epoch moved: the second one loses"
        assert tx.resource_holders() == [], "the dead owner's holds went with the takeover"
    with store.read() as tx:
        states = {state.node_id: state for state in tx.node_states("r1")}
        tries = {a.node_id: a for a in tx.attempts("r1")}
        assert tx.run_ownership("r1").owner == "rescuer"
    assert (states["a"].status, states["a"].finished_at) == (NodeStatus.SUCCESS, later)
    assert (tries["a"].status, tries["a"].output_path) == (AttemptStatus.SUCCESS, "/out/a.ipynb")
    assert states["b"].status == NodeStatus.RUNNING, "a crashed try leaves its node to the resumed run"
    assert (tries["b"].status, tries["b"].error) == (AttemptStatus.CRASHED, "crashed: the process died")


def test_cancel_requests_reach_the_owner_and_survive_a_takeover(store: StateStore) -> None:
    insert(store, make_run(), "a")
    epoch = claim(store, "r1")
    with store.transaction() as tx:
        assert not tx.cancel_requested("r1")
        assert tx.request_cancel("r1", T0) == RunStatus.RUNNING
        assert tx.cancel_requested("r1")
    claim(store, "r1", "rescuer")
    with store.transaction() as tx:
        assert tx.cancel_requested("r1"), "a recovering process honours the request"
        assert not tx.finish_run("r1", RunStatus.CANCELLED, epoch, T0)
        assert tx.finish_run("r1", RunStatus.CANCELLED, epoch + 1, T0)
        assert tx.request_cancel("r1", T0) == RunStatus.CANCELLED
    claim(store, "r1", "retry")
    with store.read() as tx:
        assert not tx.cancel_requested("r1"), "running a finished run again drops the old request"


def test_resources_are_all_or_nothing_and_served_oldest_first(store: StateStore) -> None:
    for run_id in ("r1", "r2", "r3"):
        insert(store, make_run(run_id), "a", "b")
    epochs = {run_id: claim(store, run_id, f"owner-{run_id}") for run_id in ("r1", "r2", "r3")}

    def ask(run_id: str, node_id: str, *resources: str, minute: int = 0) -> object:
        with store.transaction() as tx:
            return tx.request_resources(
                run_id,
                node_id,
                list(resources),
                owner=f"owner-{run_id}",
                epoch=epochs[run_id],
                now=T0 + timedelta(minutes=minute),
            )

    assert ask("r1", "a", "warehouse") is None
    waiting = ask("r2", "a", "warehouse", "gpu", minute=1)
    assert waiting is not None and [holder.run_id for holder in waiting.holders] == ["r1"]  # type: ignore[attr-defined]
    with store.read() as tx:
        assert [holder.resource for holder in tx.resource_holders()] == ["warehouse"], "gpu was not taken alone"
    assert ask("r3", "a", "gpu", minute=2) is not None, "gpu is free, but an older request wants it"
    third = ask("r3", "b", "other", minute=2)
    assert third is None, "what nobody older waits for is granted"
    with store.transaction() as tx:
        tx.release_resources("r1", ["a"], epochs["r1"])
    assert ask("r3", "a", "gpu", minute=3) is not None, "still behind r2"
    assert ask("r2", "a", "warehouse", "gpu", minute=4) is None
    with store.transaction() as tx:
        assert tx.finish_run("r2", RunStatus.SUCCESS, epochs["r2"], T0)
    assert ask("r3", "a", "gpu", minute=5) is None, "a finished run holds nothing"


def test_a_dead_holder_is_dropped_and_a_finished_run_holds_nothing(store: StateStore) -> None:
    insert(store, make_run("r1"), "a")
    insert(store, make_run("r2"), "a")
    first = claim(store, "r1", "dead-owner")
    second = claim(store, "r2", "live-owner")
    with store.transaction() as tx:
        assert tx.request_resources("r1", "a", ["warehouse"], owner="dead-owner", epoch=first, now=T0) is None
        wait = tx.request_resources("r2", "a", ["warehouse"], owner="live-owner", epoch=second, now=T0)
        assert wait is not None and wait.holders[0].owner == "dead-owner"
        assert tx.drop_dead_holds("r1", "someone-else") == 0
        assert tx.drop_dead_holds("r1", "dead-owner") == 1
        assert tx.request_resources("r2", "a", ["warehouse"], owner="live-owner", epoch=second, now=T0) is None
