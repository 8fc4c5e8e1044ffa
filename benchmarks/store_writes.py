"""How fast the state store takes node-state writes, on each backend.

    python benchmarks/store_writes.py [--writes 10000] [--backend sqlite|postgresql|both]

Each write is what the run loop does for every change of a node: one unit of
work that checks the run's claim (a fenced write), writes the node's state and
keeps its latest state current. Prints the total and the latency per write.
The 10,000-schedule tick on each backend is ``benchmarks/scheduler_tick.py``.
Ends with PostgreSQL's rate against the target (issue 20: at least 1,000
writes/s) and, with ``--backend both``, against SQLite's in the same run.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from backends import add_backend_options, chosen, location, postgres_server

from orchestrate_ext.model import NodeRunRecord, NodeStatus, RunRecord, RunStatus
from orchestrate_ext.store import open_store

NODES = 100
TARGET_RATE = 1000.0
"""Fenced node-state writes per second on PostgreSQL (issue 20)."""
CYCLE = (NodeStatus.QUEUED, NodeStatus.RUNNING, NodeStatus.SUCCESS)


def measure(backend: str, server: str | None, writes: int) -> float:
    """Time ``writes`` fenced writes on ``backend``, print the figures; writes per second."""
    now = datetime.now(UTC)
    with location(backend, server) as where:
        store = open_store(where)
        run = RunRecord("bench", RunStatus.RUNNING, now, now)
        states = [NodeRunRecord("bench", f"node{n:03d}", "bench", NodeStatus.PENDING) for n in range(NODES)]
        with store.transaction() as tx:
            tx.insert_run(run, states)
            epoch = tx.claim_run("bench", "bench-owner", now) or 0
        latencies: list[float] = []
        began = time.perf_counter()
        for number in range(writes):
            state = states[number % NODES]
            status = CYCLE[(number // NODES) % len(CYCLE)]
            written = NodeRunRecord(state.run_id, state.node_id, state.kind, status, started_at=now, finished_at=now)
            started = time.perf_counter()
            with store.transaction() as tx:
                assert tx.set_node_state(written, 0, epoch)
            latencies.append((time.perf_counter() - started) * 1000)
        total = time.perf_counter() - began
        store.close()
    ordered = sorted(latencies)
    p95 = ordered[int(len(ordered) * 0.95)]
    print(
        f"[{backend}] {writes} fenced node-state writes: {total:6.2f} s in all, {writes / total:7.0f} writes/s, "
        f"median {statistics.median(latencies):.3f} ms, p95 {p95:.3f} ms"
    )
    return writes / total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--writes", type=int, default=10_000)
    add_backend_options(parser)
    args = parser.parse_args()
    with postgres_server(args) as server:
        rates = {backend: measure(backend, server, args.writes) for backend in chosen(args)}
    if "postgresql" in rates:
        rate = rates["postgresql"]
        against = f", {rate / rates['sqlite']:.2f}x sqlite's {rates['sqlite']:.0f}/s" if "sqlite" in rates else ""
        verdict = "meets" if rate >= TARGET_RATE else "misses"
        print(f"postgresql {rate:.0f} fenced writes/s{against} (target >= {TARGET_RATE:.0f}/s: {verdict} it)")


if __name__ == "__main__":
    main()
