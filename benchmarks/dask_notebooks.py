"""Trivial notebooks on this machine and on a 2-worker Dask LocalCluster, and what a try costs on Dask.

    python benchmarks/dask_notebooks.py [--notebooks 16] [--tasks 40]

1. ``orchestrate run`` of a project of N trivial parameterized notebooks,
   ``concurrency: 2``: once with ``executor: {type: local}``, once with
   ``executor: {type: dask, local: {workers: 2}}`` (the cluster is started by
   the run, which is part of the figure; so is each notebook's kernel start).
2. The per-task overhead of the Dask launcher: T trivial commands (``true``)
   two at a time, locally and on the cluster; the difference per task is what
   Dask adds (submission, scheduling, the guard, streaming the output back).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from orchestrate_ext.execution.dask_launcher import DaskLauncher
from orchestrate_ext.execution.launch import Command, Launcher, LocalLauncher

ORCHESTRATE = Path(sys.executable).with_name("orchestrate")


def notebook(number: int) -> dict[str, object]:
    cell = {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None}
    return {
        "cells": [
            {**cell, "id": "p", "metadata": {"tags": ["parameters"]}, "source": "n = 0\nrun_id = ''\n"},
            {**cell, "id": "w", "source": "total = sum(range(int(n) * 1000))\nprint(total)"},
        ],
        "metadata": {
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
            "orchestrate": {"parameters": {"n": number}},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }


def project(folder: Path, notebooks: int, executor: str) -> Path:
    (folder / "nb").mkdir(parents=True)
    for number in range(notebooks):
        (folder / "nb" / f"n{number:02d}.ipynb").write_text(json.dumps(notebook(number)))
    (folder / "orchestrate.yaml").write_text(
        f"notebooks:\n  include: ['nb/*.ipynb']\nconcurrency: 2\nexecutor: {executor}\n"
    )
    return folder


def timed_run(folder: Path) -> float:
    began = time.perf_counter()
    result = subprocess.run([str(ORCHESTRATE), "run", "--json"], cwd=folder, capture_output=True, text=True)
    elapsed = time.perf_counter() - began
    if result.returncode != 0:
        raise SystemExit(f"the run in {folder} failed:\n{result.stderr[-2000:]}")
    return elapsed


def per_task(launcher: Launcher, tasks: int) -> float:
    """Seconds per trivial command, two at a time."""
    began = time.perf_counter()
    for _ in range(tasks // 2):
        handles = [launcher.start(Command(["true"], cwd=Path.cwd())) for _ in range(2)]
        for handle in handles:
            while handle.read(0.05) is not None:
                pass
            handle.wait()
    return (time.perf_counter() - began) / tasks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--notebooks", type=int, default=16)
    parser.add_argument("--tasks", type=int, default=40)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        local = timed_run(project(Path(folder) / "local", args.notebooks, "{type: local}"))
        dask = timed_run(project(Path(folder) / "dask", args.notebooks, "{type: dask, local: {workers: 2}}"))
    print(f"{args.notebooks} trivial notebooks, concurrency 2: local {local:.1f} s, ", end="")
    print(f"on a 2-worker Dask LocalCluster {dask:.1f} s (its start included)")
    cluster = DaskLauncher(None, workers=2)
    try:
        per_task(cluster, 4)  # warm the workers
        here, there = per_task(LocalLauncher(), args.tasks), per_task(cluster, args.tasks)
    finally:
        cluster.close()
    print(
        f"{args.tasks} trivial commands, two at a time: local {here * 1000:.1f} ms a task, Dask {there * 1000:.1f} ms "
        f"a task: Dask adds {(there - here) * 1000:.1f} ms a task"
    )


if __name__ == "__main__":
    main()
