"""How fast ``orchestrate status`` answers with a long history: 100,000 runs in the store.

    python benchmarks/status_history.py [--runs 100000] [--repeat 5] [--backend sqlite|postgresql|both]

Copies examples/shop (its dbt project parsed once, so the graph is the real
39 nodes), fills its state store with ``--runs`` finished runs of every
runnable node (90 % success, 8 % failed, 2 % cancelled; half of them runs of
two schedules), then the newest runs through the store's own writes: one with
a failed model, and three still running. Attempts are not written: ``status``
never reads them.

It prints the store's size, then the time of:

* ``orchestrate status`` as a user runs it (a new process: Python start-up,
  imports, the project and its graph, the store, the view), median and worst
  of ``--repeat`` runs;
* the same process for ``orchestrate --version`` (start-up and imports only);
* inside one process, the store queries and the view alone (``check_health``
  and drawing it), median of 20.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from backends import add_backend_options, chosen, location, postgres_server
from rich.console import Console

from orchestrate_ext.cli.screen import draw
from orchestrate_ext.cli.status_views import status_screen
from orchestrate_ext.health import check_health
from orchestrate_ext.model import NodeRunRecord, NodeStatus, RunRecord, RunStatus, StateLocation
from orchestrate_ext.project import Project
from orchestrate_ext.schedule_api import schedule_definitions
from orchestrate_ext.store import StateStore, open_store
from orchestrate_ext.timefmt import TimeStyle

ROOT = Path(__file__).resolve().parent.parent
BATCH = 1_000
SCHEDULES = (
    "schedules:\n"
    "  - {name: nightly, cron: '0 5 * * *', timezone: Europe/Berlin}\n"
    "  - {name: hourly, cron: '0 * * * *', select: 'tag:finance+'}\n"
)
ORCHESTRATE = Path(sys.executable).with_name("orchestrate")


def make_project(folder: Path, where: StateLocation) -> Path:
    project = folder / "shop"
    shutil.copytree(
        ROOT / "examples" / "shop",
        project,
        ignore=shutil.ignore_patterns(".orchestrate", "target", "logs", "*.duckdb", "reports", ".user.yml"),
    )
    state = (
        f"state:\n  url: {json.dumps(where.url)}\n" if where.url else f"state:\n  path: {json.dumps(str(where.path))}\n"
    )
    config = project / "orchestrate.yaml"
    config.write_text(config.read_text() + SCHEDULES + state)
    subprocess.run(
        [str(Path(sys.executable).with_name("dbt")), "parse", "--project-dir", "dbt", "--profiles-dir", "dbt"],
        cwd=project,
        check=True,
        capture_output=True,
        env={**os.environ, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"},
    )
    return project


def fill(store: StateStore, node_ids: list[str], runs: int, now: datetime, seed: int = 7) -> None:
    """``runs`` finished runs, oldest first, one every 5 minutes up to an hour ago, written in bulk."""
    rng = random.Random(seed)
    start = now - timedelta(hours=1) - timedelta(minutes=5 * runs)
    for first in range(0, runs, BATCH):
        run_rows, node_rows = [], []
        with store.transaction() as tx:
            sql = tx.sql
            for number in range(first, min(first + BATCH, runs)):
                created = start + timedelta(minutes=5 * number)
                roll = rng.random()
                status = RunStatus.SUCCESS if roll < 0.9 else RunStatus.FAILED if roll < 0.98 else RunStatus.CANCELLED
                schedule = ("nightly", "hourly", None, None)[number % 4]
                run_id = f"{created:%Y%m%dT%H%M%S}-{number:08x}"
                finished = created + timedelta(seconds=50)
                run_rows.append(
                    (
                        run_id,
                        status.value,
                        sql.time(created),
                        sql.time(created),
                        sql.time(finished),
                        sql.time(created),
                        "cron" if schedule else "manual",
                        None,
                        schedule,
                        "{}",
                        None,
                        0,
                    )
                )
                broken = rng.randrange(len(node_ids)) if status == RunStatus.FAILED else -1
                for position, node_id in enumerate(node_ids):
                    node_status = NodeStatus.FAILED if position == broken else NodeStatus.SUCCESS
                    node_rows.append(
                        (
                            run_id,
                            node_id,
                            "dbt",
                            node_status.value,
                            sql.time(created + timedelta(seconds=position)),
                            sql.time(created + timedelta(seconds=position + 1)),
                            "boom" if position == broken else None,
                            None,
                            position,
                        )
                    )
            sql.executemany(
                "INSERT INTO runs (run_id, status, created_at, started_at, finished_at, logical_date, trigger, "
                "selection, schedule, parameters, resumed_at, resumptions) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                run_rows,
            )
            sql.executemany(
                "INSERT INTO run_nodes (run_id, node_id, kind, status, started_at, finished_at, error, waiting_for, "
                "position) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                node_rows,
            )
        print(f"\r  filled {min(first + BATCH, runs):,} runs", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)


def newest(store: StateStore, node_ids: list[str], now: datetime) -> None:
    """The newest runs through the store's own writes (they keep each node's latest state): a failure, then three
    runs going on."""
    runs = [("newest-failed", now - timedelta(minutes=50), RunStatus.FAILED)] + [
        (f"newest-running-{n}", now - timedelta(minutes=10 - n), RunStatus.RUNNING) for n in range(3)
    ]
    half = len(node_ids) // 2
    for run_id, created, status in runs:
        with store.transaction() as tx:
            states = []
            members = node_ids[:half] if status == RunStatus.RUNNING else node_ids  # the running ones: a selection
            for position, node_id in enumerate(members):
                if status == RunStatus.RUNNING:
                    node_status = NodeStatus.SUCCESS if position < half // 2 else NodeStatus.PENDING
                else:
                    node_status = NodeStatus.FAILED if position == len(node_ids) - 1 else NodeStatus.SUCCESS
                done = node_status != NodeStatus.PENDING
                states.append(
                    NodeRunRecord(
                        run_id,
                        node_id,
                        "dbt",
                        node_status,
                        started_at=created if done else None,
                        finished_at=created + timedelta(seconds=1) if done else None,
                        error="Runtime Error in model x\n  boom" if node_status == NodeStatus.FAILED else None,
                    )
                )
            finished = None if status == RunStatus.RUNNING else created + timedelta(seconds=50)
            tx.insert_run(RunRecord(run_id, status, created, created, started_at=created, finished_at=finished), states)


def timed_process(project: Path, *args: str) -> tuple[float, int]:
    began = time.perf_counter()
    result = subprocess.run([str(ORCHESTRATE), *args], cwd=project, capture_output=True, text=True, check=False)
    return time.perf_counter() - began, result.returncode


def measure(backend: str, server: str | None, runs: int, repeat: int) -> None:
    now = datetime.now(UTC)
    with tempfile.TemporaryDirectory() as folder, location(backend, server) as where:
        project = make_project(Path(folder), where)
        loaded = Project.load(project)
        node_ids = [node_id for node_id in loaded.graph.order if loaded.graph.nodes[node_id].runnable]
        store = open_store(loaded.config.state_location())
        began = time.perf_counter()
        fill(store, node_ids, runs, now)
        newest(store, node_ids, now)
        filled = time.perf_counter() - began
        counts = store.info().rows
        print(
            f"[{backend}] {counts['runs']:,} runs, {counts['run_nodes']:,} node states "
            f"({len(node_ids)} nodes per run), filled in {filled:.0f} s"
        )
        timed_process(project, "status")  # warm the file cache once
        whole = [timed_process(project, "status") for _ in range(repeat)]
        assert {code for _, code in whole} == {1}, "the failed model makes status exit 1"
        bare = [timed_process(project, "--version")[0] for _ in range(repeat)]
        definitions = schedule_definitions(loaded)
        inside = []
        for _ in range(20):
            began = time.perf_counter()
            with store.read() as tx:
                health = check_health(tx, loaded.graph, definitions, datetime.now(UTC))
            draw(status_screen(health, TimeStyle(UTC, health.now)), Console(file=io.StringIO()))
            inside.append(time.perf_counter() - began)
        store.close()
        document = json.loads(
            subprocess.run([str(ORCHESTRATE), "status", "--json"], cwd=project, capture_output=True, text=True).stdout
        )
        seconds = [elapsed for elapsed, _ in whole]
        print(
            f"[{backend}] orchestrate status (a new process): median {statistics.median(seconds):.2f} s, "
            f"worst {max(seconds):.2f} s; orchestrate --version: median {statistics.median(bare):.2f} s"
        )
        print(
            f"[{backend}] store queries + view in one process: median {statistics.median(inside) * 1000:.1f} ms, "
            f"worst {max(inside) * 1000:.1f} ms ({len(document['running'])} running, "
            f"{len(document['failing'])} failing, {len(document['stale'])} stale)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    add_backend_options(parser)
    parser.set_defaults(backend="sqlite")
    args = parser.parse_args()
    with postgres_server(args) as server:
        for backend in chosen(args):
            measure(backend, server, args.runs, args.repeat)


if __name__ == "__main__":
    main()
