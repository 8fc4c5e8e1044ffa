"""How long one scheduler tick (``Scheduler.step``) takes with 10,000 schedules, on each backend.

    python benchmarks/scheduler_tick.py [--schedules 10000] [--minutes 10] [--backend sqlite|postgresql|both]

Registers N cron schedules (60 % daily, 30 % hourly, 10 % every 15 minutes, at
spread-out minutes) on a one-node project whose node does nothing, then steps
the scheduler once per simulated second. It prints the steps that index the
schedules at start-up (a time budget's worth per step: the first step, the
slowest one, how many, and how long until all are indexed), then, for a few
simulated minutes, the steps with nothing due (59 of every 60) and the steps at
each minute boundary, which record that minute's ticks and start their runs.
Finally, the worst case: all N schedules due in the same second (the slowest
step, and how long until every tick is recorded). With ``--backend both`` it
ends with PostgreSQL's minute tick against SQLite's, measured in the same run,
and the target (issue 20: at most 1.5 times SQLite's).
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from backends import add_backend_options, chosen, location, postgres_server
from noop_project import NoopRunner, noop_graph

from orchestrate_ext.execution.claims import Supervisor
from orchestrate_ext.execution.liveness import ProcessIdentity
from orchestrate_ext.model import StateLocation
from orchestrate_ext.scheduling.definitions import ScheduleDefinition
from orchestrate_ext.scheduling.scheduler import Scheduler, SchedulerOptions
from orchestrate_ext.scheduling.source import ProjectSnapshot, StaticSource
from orchestrate_ext.store import open_store
from orchestrate_ext.store.records import RunQuery


class SteppedClock:
    def __init__(self, start: datetime) -> None:
        self.current = start

    def now(self) -> datetime:
        return self.current

    def monotonic(self) -> float:
        return time.monotonic()


def definitions(count: int, seed: int = 11) -> list[ScheduleDefinition]:
    rng = random.Random(seed)
    zones = ["UTC", "Europe/Berlin", "America/New_York", "Asia/Tokyo"]
    found = []
    for number in range(count):
        kind = rng.random()
        if kind < 0.6:
            cron = f"{rng.randrange(60)} {rng.randrange(24)} * * *"
        elif kind < 0.9:
            cron = f"{rng.randrange(60)} * * * *"
        else:
            cron = f"{rng.randrange(15)}-59/15 * * * *"
        found.append(ScheduleDefinition(f"s{number:05d}", "benchmark", cron=cron, timezone=rng.choice(zones)))
    return found


def scheduler_for(
    root: Path, where: StateLocation, schedules: list[ScheduleDefinition], clock: SteppedClock
) -> Scheduler:
    graph = noop_graph()
    snapshot = ProjectSnapshot(
        graph=graph,
        runners={"noop": NoopRunner()},
        definitions={d.name: d for d in schedules},
        root=root,
        state_dir=root / ".orchestrate",
    )
    store = open_store(where)
    supervisor = Supervisor(store, clock, identity=ProcessIdentity("bench", 1, 1.0))  # type: ignore[arg-type]
    options = SchedulerOptions(max_concurrent_runs=256, recovery_seconds=5)
    return Scheduler(StaticSource(snapshot), store, clock, supervisor=supervisor, options=options)  # type: ignore[arg-type]


def timed(scheduler: Scheduler, clock: SteppedClock, moment: datetime) -> tuple[float, int, int]:
    clock.current = moment
    started = time.perf_counter()
    report = scheduler.step(moment)
    return (time.perf_counter() - started) * 1000, len(report.recorded), len(report.started)


def summary(label: str, values: list[float]) -> str:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    return (
        f"{label:<34} n={len(values):<5} median {statistics.median(values):7.2f} ms   "
        f"p95 {p95:7.2f} ms   max {max(values):7.2f} ms"
    )


TARGET_RATIO = 1.5
"""PostgreSQL's minute tick at most this many times SQLite's (issue 20)."""


def measure(backend: str, server: str | None, schedules: int, minutes: int) -> float:
    """Step the scheduler for ``minutes`` simulated minutes on ``backend``, print the figures; the median minute
    tick in ms."""
    start = datetime(2024, 6, 3, 8, 0, 0, 500_000, tzinfo=UTC)
    label = f"[{backend}]"
    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as folder, location(backend, server) as where:
        root = Path(folder)
        clock = SteppedClock(start)
        scheduler = scheduler_for(root, where, definitions(schedules), clock)
        snapshot = scheduler.source.current()
        second = 0
        indexing: list[float] = []
        began = time.perf_counter()
        while not scheduler.index.done_for(snapshot):
            indexing.append(timed(scheduler, clock, start + timedelta(seconds=second))[0])
            second += 1
        indexed_in = time.perf_counter() - began
        idle: list[float] = []
        boundary: list[float] = []
        due: list[int] = []
        for offset in range(second, second + minutes * 60):
            elapsed, recorded, _ = timed(scheduler, clock, start + timedelta(seconds=offset))
            if (start + timedelta(seconds=offset)).second == 0:
                boundary.append(elapsed)
                due.append(recorded)
            else:
                idle.append(elapsed)
            scheduler.pool.wait(5)
        scheduler.pool.wait(60)
        with scheduler.store.read() as tx:
            runs = tx.count_runs(RunQuery())
        scheduler.store.close()
        print(f"{label} {schedules} schedules, {minutes} simulated minutes stepped once a second, {runs} runs")
        print(
            f"{label} indexing at start-up: first step {indexing[0]:.1f} ms, slowest {max(indexing):.1f} ms, "
            f"{len(indexing)} steps, all indexed in {indexed_in:.1f} s"
        )
        print(f"{label} " + summary("tick, nothing due", idle))
        print(f"{label} " + summary(f"tick at a minute (~{statistics.mean(due):.0f} due)", boundary))
        minute_tick = statistics.median(boundary)

    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as folder, location(backend, server) as where:
        root = Path(folder)
        clock = SteppedClock(start)
        same_time = [ScheduleDefinition(f"s{n:05d}", "benchmark", cron="0 9 * * *") for n in range(schedules)]
        scheduler = scheduler_for(root, where, same_time, clock)
        snapshot = scheduler.source.current()
        second = 0
        while not scheduler.index.done_for(snapshot):
            timed(scheduler, clock, start + timedelta(seconds=second))
            second += 1
        nine = datetime(2024, 6, 3, 9, 0, 0, 500_000, tzinfo=UTC)
        steps: list[float] = []
        recorded = started = 0
        while recorded < schedules:
            elapsed, new, runs_started = timed(scheduler, clock, nine + timedelta(seconds=len(steps)))
            steps.append(elapsed)
            recorded += new
            started += runs_started
        scheduler.pool.wait(60)
        scheduler.store.close()
        print(
            f"{label} worst case, all {schedules} due in one second: that step {steps[0]:.0f} ms, the slowest "
            f"{max(steps):.0f} ms (the runs it started execute meanwhile, in this process), every tick recorded "
            f"after {len(steps)} steps ({started} runs started, the rest wait for a free slot)"
        )
    return minute_tick


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--schedules", type=int, default=10_000)
    parser.add_argument("--minutes", type=int, default=10)
    add_backend_options(parser)
    args = parser.parse_args()
    with postgres_server(args) as server:
        medians = {backend: measure(backend, server, args.schedules, args.minutes) for backend in chosen(args)}
    if len(medians) == 2:
        ratio = medians["postgresql"] / medians["sqlite"]
        verdict = "meets" if ratio <= TARGET_RATIO else "misses"
        print(
            f"minute tick, median: postgresql {medians['postgresql']:.1f} ms / sqlite {medians['sqlite']:.1f} ms "
            f"= {ratio:.2f}x (target <= {TARGET_RATIO}x: {verdict} it)"
        )


if __name__ == "__main__":
    main()
