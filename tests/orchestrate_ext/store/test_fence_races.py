"""Races on the fenced writes of issue 18, 200 tries each, two processes released together by a barrier.

* two ``orchestrate retry`` of one failed run (each read the run's epoch, then
  prepared the retry, then claim): exactly one claims it, the other gets
  :class:`RunBusy` naming the winner, and only the winner gets try numbers;
* resource hand-over after a superseded claim: the old owner's requests are
  never granted once the run was claimed again, and its withdraw and release
  never remove the new owner's hold or wait;
* a delete during a retry: the run is either deleted (and the retry finds no
  run) or claimed (and neither it nor its folder is deleted), never both;
* a cancel during a retry reaches the retry or says the run was not running.
"""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from orchestrate_ext.clock import SystemClock
from orchestrate_ext.errors import RunBusy, RunNotFound
from orchestrate_ext.execution.claims import Supervisor
from orchestrate_ext.execution.liveness import ProcessIdentity
from orchestrate_ext.model import RunStatus, StateLocation
from orchestrate_ext.store import StateStore, StoreTx, open_store
from orchestrate_ext.store.records import ResourceWait
from tests.orchestrate_ext.store.records import T0, claim, insert, make_run

pytestmark = pytest.mark.slow

TRIES = 200
NODE = "model.p.fixed"


def _failed_runs(location: StateLocation, prefix: str, *, state_dir: Path | None = None) -> dict[str, int]:
    """``TRIES`` runs that failed, each with the epoch a retry reads before it prepares (and a folder)."""
    store = open_store(location)
    epochs = {}
    try:
        for number in range(TRIES):
            run_id = f"{prefix}{number}"
            insert(store, make_run(run_id), NODE)
            epoch = claim(store, run_id, "finished-owner")
            with store.transaction() as tx:
                tx.finish_run(run_id, RunStatus.FAILED, epoch, T0)
            epochs[run_id] = epoch
            if state_dir is not None:
                (state_dir / "runs" / run_id).mkdir(parents=True)
                (state_dir / "runs" / run_id / "log.txt").write_text("the failed try's log")
    finally:
        store.close()
    return epochs


def _race(roles: list[Callable[..., None]], *args: Any) -> list[tuple[Any, ...]]:
    """Run each role in a process of its own (each gets ``barrier, results, *args``); every result they put."""
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(len(roles))
    results = context.Queue()
    racers = [context.Process(target=role, args=(barrier, results, *args)) for role in roles]
    for racer in racers:
        racer.start()
    found = [results.get(timeout=600) for _ in range(len(roles) * TRIES)]
    for racer in racers:
        racer.join(60)
        assert racer.exitcode == 0
    return found


# -- two retries of one run


def _retrier(barrier: Any, results: Any, location: StateLocation, epochs: dict[str, int]) -> None:
    store = open_store(location)
    supervisor = Supervisor(store, SystemClock())
    try:
        for number in range(TRIES):
            run_id = f"retry{number}"
            barrier.wait(60)
            try:
                held = supervisor.claim_again(run_id, epochs[run_id])
            except RunBusy as busy:
                results.put((number, supervisor.owner, None, busy.owner, None))
                continue
            results.put((number, supervisor.owner, held.epoch, None, held.allocate_tries([NODE])))
    finally:
        store.close()


def test_of_two_retries_of_one_run_exactly_one_claims_it(state_location: StateLocation) -> None:
    epochs = _failed_runs(state_location, "retry")
    outcomes = _race([_retrier, _retrier], state_location, epochs)
    store = open_store(state_location)
    try:
        for number in range(TRIES):
            tries = [outcome for outcome in outcomes if outcome[0] == number]
            winners = [outcome for outcome in tries if outcome[2] is not None]
            assert len(winners) == 1, f"try {number}: not exactly one retry claimed the run: {tries}"
            (_, winner, epoch, _, numbers), (_, _, _, named, _) = (
                winners[0],
                next(outcome for outcome in tries if outcome[2] is None),
            )
            assert named == winner, "the loser names the process that holds the run"
            assert numbers == {NODE: 1}, "the winner's try is the first of the retry"
            with store.read() as tx:
                ownership = tx.run_ownership(f"retry{number}")
            assert (ownership.owner, ownership.epoch, ownership.status) == (winner, epoch, RunStatus.RUNNING)
    finally:
        store.close()


# -- resource hand-over after a superseded claim


def _ask(tx: StoreTx, run_id: str, owner: str, epoch: int) -> ResourceWait | None:
    return tx.request_resources(run_id, NODE, [f"warehouse-{run_id}"], owner=owner, epoch=epoch, now=T0)


def _old_owner(barrier: Any, results: Any, location: StateLocation, epochs: dict[str, int]) -> None:
    """The superseded owner: asks again, withdraws and releases under its old epoch while the new one claims."""
    store = open_store(location)
    try:
        for number in range(TRIES):
            run_id = f"hand{number}"
            epoch = epochs[run_id]
            barrier.wait(60)
            granted_after_loss = 0
            for _ in range(3):
                with store.transaction() as tx:
                    wait = _ask(tx, run_id, "old-owner", epoch)
                    superseded = tx.run_ownership(run_id).epoch != epoch
                granted_after_loss += wait is None and superseded
                with store.transaction() as tx:
                    tx.withdraw_requests(run_id, [NODE], epoch)
            with store.transaction() as tx:
                tx.release_resources(run_id, [NODE], epoch)
            with store.transaction() as tx:
                tries = tx.allocate_tries(run_id, [NODE], epoch)
            barrier.wait(60)  # the new owner has its hold: the old one's last words
            with store.transaction() as tx:
                late_grant = _ask(tx, run_id, "old-owner", epoch)
                tx.withdraw_requests(run_id, [NODE], epoch)
                tx.release_resources(run_id, [NODE], epoch)
                late_tries = tx.allocate_tries(run_id, [NODE], epoch)
            results.put(("old", number, granted_after_loss, late_grant is None, tries, late_tries))
            barrier.wait(60)
    finally:
        store.close()


def _new_owner(barrier: Any, results: Any, location: StateLocation, epochs: dict[str, int]) -> None:
    """Claims the run (whoever held it: the old owner looked dead) and waits until it holds the warehouse."""
    store = open_store(location)
    try:
        for number in range(TRIES):
            run_id = f"hand{number}"
            barrier.wait(60)
            with store.transaction() as tx:
                epoch = tx.claim_run(run_id, "new-owner", T0)
            assert epoch is not None
            with store.transaction() as tx:
                tries = tx.allocate_tries(run_id, [NODE], epoch)
            granted_over_old = 0
            deadline = time.monotonic() + 60  # the old owner may be descheduled for a while on a busy machine
            while time.monotonic() < deadline:
                with store.transaction() as tx:
                    wait = _ask(tx, run_id, "new-owner", epoch)
                    holders = tx.resource_holders([f"warehouse-{run_id}"])
                if wait is None:
                    granted_over_old += any(holder.owner != "new-owner" for holder in holders)
                    break
            barrier.wait(60)
            barrier.wait(60)  # the old owner's last words are said
            with store.read() as tx:
                holders = tx.resource_holders([f"warehouse-{run_id}"])
            results.put(("new", number, granted_over_old, wait is None, tries, [h.owner for h in holders]))
            with store.transaction() as tx:
                tx.finish_run(run_id, RunStatus.SUCCESS, epoch, T0)
    finally:
        store.close()


def test_a_superseded_owner_can_neither_take_nor_free_the_new_owners_resources(state_location: StateLocation) -> None:
    store = open_store(state_location)
    epochs = {}
    try:
        for number in range(TRIES):
            run_id = f"hand{number}"
            insert(store, make_run(run_id), NODE)
            epochs[run_id] = claim(store, run_id, "old-owner")
            with store.transaction() as tx:
                assert _ask(tx, run_id, "old-owner", epochs[run_id]) is None
    finally:
        store.close()
    outcomes = _race([_old_owner, _new_owner], state_location, epochs)
    for number in range(TRIES):
        old = next(outcome for outcome in outcomes if outcome[:2] == ("old", number))
        new = next(outcome for outcome in outcomes if outcome[:2] == ("new", number))
        assert old[2] == 0, f"try {number}: a superseded claim was granted the warehouse"
        assert not old[3], f"try {number}: a superseded claim was granted the warehouse after the hand-over"
        assert old[5] is None, f"try {number}: a superseded claim got a try number"
        assert new[2] == 0, f"try {number}: the new owner was granted a warehouse the old owner still held"
        assert new[3], f"try {number}: the new owner never got the warehouse"
        assert new[5] == ["new-owner"], f"try {number}: the old owner's words removed the new owner's hold: {new}"
        numbers = [new[4][NODE]] + ([old[4][NODE]] if old[4] else [])
        assert len(set(numbers)) == len(numbers), f"try {number}: two owners share a try number: {numbers}"


# -- a delete during a retry


def _deleter(barrier: Any, results: Any, location: StateLocation, epochs: dict[str, int], state_dir: Path) -> None:
    from jupyter_extension.server.history import delete_runs

    store = open_store(location)
    try:
        for number in range(TRIES):
            run_id = f"del{number}"
            barrier.wait(60)
            answer = delete_runs(store, state_dir, [run_id])
            results.put(("delete", number, answer["deleted"] == [run_id]))
    finally:
        store.close()


def _retrier_of_deleted(
    barrier: Any, results: Any, location: StateLocation, epochs: dict[str, int], state_dir: Path
) -> None:
    store = open_store(location)
    supervisor = Supervisor(store, SystemClock())
    try:
        for number in range(TRIES):
            run_id = f"del{number}"
            barrier.wait(60)
            try:
                supervisor.claim_again(run_id, epochs[run_id])
            except RunNotFound:
                results.put(("retry", number, False))
                continue
            results.put(("retry", number, True))
    finally:
        store.close()


def test_a_run_is_either_deleted_or_retried_never_both(state_location: StateLocation, tmp_path: Path) -> None:
    state_dir = tmp_path / "state"
    epochs = _failed_runs(state_location, "del", state_dir=state_dir)
    outcomes = _race([_deleter, _retrier_of_deleted], state_location, epochs, state_dir)
    store = open_store(state_location)
    try:
        for number in range(TRIES):
            run_id = f"del{number}"
            deleted = next(outcome[2] for outcome in outcomes if outcome[:2] == ("delete", number))
            claimed = next(outcome[2] for outcome in outcomes if outcome[:2] == ("retry", number))
            assert deleted != claimed, f"try {number}: deleted={deleted}, claimed by the retry={claimed}"
            folder = (state_dir / "runs" / run_id).is_dir()
            with store.read() as tx:
                try:
                    status = tx.run_ownership(run_id).status
                except RunNotFound:
                    status = None
            if claimed:
                assert (status, folder) == (RunStatus.RUNNING, True), f"try {number}: the retried run lost its data"
            else:
                assert (status, folder) == (None, False), f"try {number}: the deleted run left something"
    finally:
        store.close()


# -- a cancel during a retry


def _canceller(barrier: Any, results: Any, location: StateLocation, epochs: dict[str, int]) -> None:
    store = open_store(location)
    try:
        for number in range(TRIES):
            barrier.wait(60)
            with store.transaction() as tx:
                status = tx.request_cancel(f"cancel{number}", T0)
            results.put(("cancel", number, status == RunStatus.RUNNING))
    finally:
        store.close()


def _retrier_to_cancel(barrier: Any, results: Any, location: StateLocation, epochs: dict[str, int]) -> None:
    store = open_store(location)
    supervisor = Supervisor(store, SystemClock(), identity=ProcessIdentity.current())
    try:
        for number in range(TRIES):
            run_id = f"cancel{number}"
            barrier.wait(60)
            supervisor.claim_again(run_id, epochs[run_id])
            results.put(("retry", number, True))
    finally:
        store.close()


def test_a_cancel_during_a_retry_reaches_it_or_says_the_run_was_not_running(state_location: StateLocation) -> None:
    epochs = _failed_runs(state_location, "cancel")
    outcomes = _race([_canceller, _retrier_to_cancel], state_location, epochs)
    store: StateStore = open_store(state_location)
    try:
        for number in range(TRIES):
            accepted = next(outcome[2] for outcome in outcomes if outcome[:2] == ("cancel", number))
            with store.read() as tx:
                requested = tx.cancel_requested(f"cancel{number}")
            assert accepted == requested, f"try {number}: cancel said running={accepted}, flag set={requested}"
    finally:
        store.close()
