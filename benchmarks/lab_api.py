"""What the JupyterLab panel asks the store for, with a big history: the figures behind issue 12's row
"Lab runs list and node freshness with 100,000 runs in the store: < 100 ms per request".

Builds a store with ``--runs`` runs (four nodes each; the newest 1,000 with an attempt per node,
some failed), then times the work behind ``GET /runs`` (a page, unfiltered and filtered, with each
run's failed tries), ``GET /nodes`` (every node's latest state, the latest runs' dates, and the SLA
markers) and ``GET /nodes/history``. Prints the median and the slowest of ``--repeat`` calls.

    python benchmarks/lab_api.py --runs 100000
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from jupyter_extension.server import graph_markers, history
from orchestrate_ext.graph import build_graph
from orchestrate_ext.model import (
    AttemptRecord,
    AttemptStatus,
    Node,
    NodeRunRecord,
    NodeStatus,
    RunRecord,
    RunStatus,
    StateLocation,
)
from orchestrate_ext.store import open_store

NODES = ["model.shop.orders", "model.shop.daily_revenue", "notebook.reports/daily", "notebook.reports/weekly"]
T0 = datetime(2020, 1, 1, tzinfo=UTC)


def _fill(store_path: Path, runs: int) -> None:
    store = open_store(StateLocation(path=store_path))
    batch = 5000
    with_attempts = max(0, runs - 1000)
    for first in range(0, runs, batch):
        with store.transaction() as tx:
            for number in range(first, min(runs, first + batch)):
                moment = T0 + timedelta(hours=number)
                run_id = f"{moment:%Y%m%dT%H%M%S}-{number:010x}"
                failed = number % 10 == 0
                status = RunStatus.FAILED if failed else RunStatus.SUCCESS
                schedule = "nightly" if number % 2 else None
                record = RunRecord(run_id, RunStatus.RUNNING, moment, moment, schedule=schedule)
                tx.insert_run(record, [NodeRunRecord(run_id, node, "dbt", NodeStatus.PENDING) for node in NODES])
                epoch = tx.claim_run(run_id, "bench", moment)
                assert epoch is not None
                tx.mark_run_started(run_id, epoch, moment)
                for node in NODES:
                    node_status = NodeStatus.FAILED if failed and node == NODES[-1] else NodeStatus.SUCCESS
                    done = moment + timedelta(minutes=5)
                    if number >= with_attempts:
                        attempt = AttemptRecord(run_id, node, 1, AttemptStatus.RUNNING, moment)
                        running = NodeRunRecord(run_id, node, "dbt", NodeStatus.RUNNING, started_at=moment)
                        tx.start_attempt(attempt, running, epoch, host="bench", pid=1)
                        ended = AttemptStatus.FAILED if node_status == NodeStatus.FAILED else AttemptStatus.SUCCESS
                        tx.finish_attempt(AttemptRecord(run_id, node, 1, ended, moment, done), running, epoch)
                    state = NodeRunRecord(run_id, node, "dbt", node_status, started_at=moment, finished_at=done)
                    tx.set_node_state(state, 1, epoch)
                tx.finish_run(run_id, status, epoch, moment + timedelta(minutes=6))
    store.close()


def _time(work: Callable[[], object], repeat: int) -> tuple[float, float]:
    seconds = []
    for _ in range(repeat):
        started = time.perf_counter()
        work()
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds) * 1000, max(seconds) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=20)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "state.db"
        started = time.perf_counter()
        _fill(path, options.runs)
        print(f"store with {options.runs:,} runs written in {time.perf_counter() - started:.1f} s")
        store = open_store(StateLocation(path=path), read_only=True)
        sla = {"sla": {"freshness": 86400.0, "finish_by": "07:00"}}
        graph = build_graph([Node(node, "dbt", "model", node, settings=sla) for node in NODES])
        now = T0 + timedelta(hours=options.runs + 1)
        cases: dict[str, Callable[[], object]] = {
            "GET /runs (newest 20, failed tries)": lambda: history.list_runs(store, history.RunFilter(), 20, 0),
            "GET /runs?status=failed&schedule=nightly": lambda: history.list_runs(
                store, history.RunFilter.parse(["failed"], [], ["nightly"]), 20, 0
            ),
            "GET /runs, page 200": lambda: history.list_runs(store, history.RunFilter(), 20, 4000),
            "GET /nodes (latest states + SLA markers)": lambda: graph_markers.markers(
                graph, history.latest_by_node(store), now
            ),
            "GET /nodes/history (last 10 of one node)": lambda: history.node_recent(store, NODES[-1]),
        }
        print(f"{'request':<45} {'median':>10} {'slowest':>10}")
        for name, work in cases.items():
            median, slowest = _time(work, options.repeat)
            print(f"{name:<45} {median:>8.1f} ms {slowest:>7.1f} ms")
        store.close()


if __name__ == "__main__":
    main()
