"""What the Dask launcher adds to a try: N trivial commands locally and on a 2-worker LocalCluster, one run.

    python benchmarks/dask_dispatch.py [--tries 200] [--concurrency 2]

Each try is ``true`` started through a launcher and followed as the runners do
(``read`` until the end, then ``wait``), ``concurrency`` at a time: once with
the local launcher, once with the Dask launcher on a ``LocalCluster`` of two
worker processes (started and warmed before the clock starts). The difference
per try is the dispatch overhead (submission, scheduling, output batches,
the result); the target is at most 20 ms. For scale it also prints the floor
Dask itself sets on this machine: a bare ``submit`` of a function that does
nothing, and its result.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from orchestrate_ext.execution.dask_launcher import DaskLauncher
from orchestrate_ext.launcher import Command, Launcher, LocalLauncher


def per_try(launcher: Launcher, tries: int, concurrency: int) -> float:
    """Seconds per trivial command, ``concurrency`` at a time."""
    began = time.perf_counter()
    for _ in range(tries // concurrency):
        handles = [launcher.start(Command(["true"], cwd=Path.cwd())) for _ in range(concurrency)]
        for handle in handles:
            while handle.read(0.2) is not None:
                pass
            if handle.wait() != 0:
                raise SystemExit(f"a trivial command failed on {handle.worker}")
    return (time.perf_counter() - began) / tries


def _nothing() -> int:
    return 0


def bare_dask(launcher: DaskLauncher, tries: int, concurrency: int) -> float:
    """Seconds per ``Client.submit(nothing)`` and its result, ``concurrency`` at a time: Dask's own floor."""
    client = launcher.client
    began = time.perf_counter()
    for _ in range(tries // concurrency):
        futures = [client.submit(_nothing, pure=False) for _ in range(concurrency)]
        client.gather(futures)
    return (time.perf_counter() - began) / tries


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tries", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=2)
    args = parser.parse_args()
    cluster = DaskLauncher(None, workers=2)
    try:
        per_try(cluster, 10, args.concurrency)  # warm the workers (imports, connections)
        here = per_try(LocalLauncher(), args.tries, args.concurrency)
        there = per_try(cluster, args.tries, args.concurrency)
        floor = bare_dask(cluster, args.tries, args.concurrency)
    finally:
        cluster.close()
    print(
        f"{args.tries} trivial commands, {args.concurrency} at a time: local {here * 1000:.1f} ms a try, "
        f"Dask LocalCluster (2 workers) {there * 1000:.1f} ms a try; "
        f"Dask adds {(there - here) * 1000:.1f} ms a try (ratio {there / here:.2f}x); "
        f"a bare Dask submit + result of a function that does nothing: {floor * 1000:.1f} ms"
    )


if __name__ == "__main__":
    main()
