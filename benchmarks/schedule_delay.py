"""Schedule delay: how late runs start after their scheduled time, over a few real minutes.

    python benchmarks/schedule_delay.py [--schedules 20] [--minutes 3]

Runs the real scheduler loop (``serve``: a step just after every whole second,
system clock, SQLite store in a temporary folder) with N schedules that fire
every minute, on a one-node project whose node does nothing, for a few
minutes. Then prints, over every run, the delay between its scheduled time
(its logical date) and when it started, and when its node started
(target: p99 under 2 s).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from noop_project import NoopRunner, noop_graph

from orchestrate_ext.clock import SystemClock
from orchestrate_ext.scheduler_process import serve
from orchestrate_ext.scheduling.definitions import ScheduleDefinition
from orchestrate_ext.scheduling.scheduler import Scheduler, SchedulerOptions
from orchestrate_ext.scheduling.source import ProjectSnapshot, StaticSource
from orchestrate_ext.store import open_store


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def describe(label: str, values: list[float]) -> str:
    return (
        f"{label:<22} n={len(values):<4} p50 {percentile(values, 0.5) * 1000:7.1f} ms   "
        f"p95 {percentile(values, 0.95) * 1000:7.1f} ms   p99 {percentile(values, 0.99) * 1000:7.1f} ms   "
        f"max {max(values) * 1000:7.1f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--schedules", type=int, default=20)
    parser.add_argument("--minutes", type=float, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as folder:
        root = Path(folder)
        graph = noop_graph()
        definitions = {
            f"every-minute-{n}": ScheduleDefinition(f"every-minute-{n}", "benchmark", cron="* * * * *")
            for n in range(args.schedules)
        }
        snapshot = ProjectSnapshot(graph, {"noop": NoopRunner()}, definitions, root, root / ".orchestrate")
        store = open_store(root / ".orchestrate" / "state.db")
        options = SchedulerOptions(max_concurrent_runs=max(8, args.schedules))
        scheduler = Scheduler(StaticSource(snapshot), store, SystemClock(), options=options)
        stop = threading.Event()
        loop = threading.Thread(target=serve, args=(scheduler, stop), daemon=True)
        began = time.monotonic()
        loop.start()
        print(f"{args.schedules} schedules firing every minute; running the scheduler for {args.minutes:g} minutes ...")
        time.sleep(args.minutes * 60)
        stop.set()
        loop.join(10)
        scheduler.shutdown(30)
        runs = store.list_runs(limit=100_000)
        run_delays = [(run.started_at - run.logical_date).total_seconds() for run in runs if run.started_at]
        node_delays = []
        for run in runs:
            attempts = store.get_attempts(run.run_id)
            if attempts:
                node_delays.append((attempts[0].started_at - run.logical_date).total_seconds())
        print(f"{len(runs)} runs in {time.monotonic() - began:.0f} s")
        for moment in sorted({run.logical_date for run in runs}):
            delays = [
                (r.started_at - moment).total_seconds() for r in runs if r.logical_date == moment and r.started_at
            ]
            print(
                f"  fire time {moment:%H:%M:%S}: {len(delays)} runs, started {min(delays) * 1000:.0f} to "
                f"{max(delays) * 1000:.0f} ms late"
            )
        print(describe("run start - scheduled", run_delays))
        print(describe("node start - scheduled", node_delays))
        late = [delay for delay in run_delays if delay > 2]
        print(f"runs later than 2 s: {len(late)}; mean {statistics.mean(run_delays) * 1000:.1f} ms")


if __name__ == "__main__":
    main()
