"""Two processes race for the same claim, tick and lease, 200 times each: exactly one wins every time.

On SQLite the write transactions exclude each other; on PostgreSQL (READ
COMMITTED) the writes are compare-and-set or conflict on a unique key. Both
processes are released together by a barrier before every try.
"""

from __future__ import annotations

import multiprocessing
from collections import Counter
from datetime import timedelta
from typing import Any

import pytest

from orchestrate_ext.model import StateLocation
from orchestrate_ext.store import open_store
from tests.orchestrate_ext.store.records import T0, claim, insert, make_run, tick

pytestmark = pytest.mark.slow

TRIES = 200
LEASE_TTL = 10.0


def _race(location: StateLocation, name: str, barrier: Any, results: Any) -> None:
    store = open_store(location)
    try:
        for number in range(TRIES):
            barrier.wait(30)
            with store.transaction() as tx:
                took_over = tx.take_over(f"run{number}", name, T0, 1, ()) is not None
            barrier.wait(30)
            with store.transaction() as tx:
                recorded = bool(tx.record_ticks([("s", [tick("s", number)], None)], None, T0))
            barrier.wait(30)
            moment = T0 + timedelta(seconds=number * 100)  # every lease of the try before has expired
            with store.transaction() as tx:
                leased = tx.acquire_lease(name, moment, LEASE_TTL, lambda lease: False) is not None
            results.put((number, name, took_over, recorded, leased))
    finally:
        store.close()


def test_exactly_one_process_wins_each_claim_tick_and_lease(state_location: StateLocation) -> None:
    store = open_store(state_location)
    for number in range(TRIES):
        insert(store, make_run(f"run{number}"), "a")
        claim(store, f"run{number}", "dead-owner")
    store.close()
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(2)
    results = context.Queue()
    racers = [context.Process(target=_race, args=(state_location, name, barrier, results)) for name in ("a", "b")]
    for racer in racers:
        racer.start()
    outcomes = [results.get(timeout=300) for _ in range(2 * TRIES)]
    for racer in racers:
        racer.join(60)
        assert racer.exitcode == 0
    wins: dict[str, Counter[int]] = {"claim": Counter(), "tick": Counter(), "lease": Counter()}
    for number, _, took_over, recorded, leased in outcomes:
        wins["claim"][number] += took_over
        wins["tick"][number] += recorded
        wins["lease"][number] += leased
    for what, counts in wins.items():
        assert [counts[number] for number in range(TRIES)] == [1] * TRIES, f"not exactly one winner of each {what}"
    store = open_store(state_location)
    with store.read() as tx:
        assert len(tx.list_ticks("s", limit=1000)) == TRIES
        assert tx.get_lease().holder in {"a", "b"}  # type: ignore[union-attr]
        assert {tx.run_ownership(f"run{number}").owner for number in range(TRIES)} <= {"a", "b"}
    store.close()
