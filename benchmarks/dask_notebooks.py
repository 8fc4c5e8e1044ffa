"""Trivial notebooks on this machine and on a 2-worker Dask LocalCluster, and what a killed worker leaves.

    python benchmarks/dask_notebooks.py [--notebooks 16] [--tasks 40]

1. ``orchestrate run`` of a project of N trivial parameterized notebooks,
   ``concurrency: 2``: once with ``executor: {type: local}`` (the local warm
   kernel pool), once with ``executor: {type: dask, local: {workers: 2}}``
   (the cluster is started by the run, which is part of the figure; the
   workers' warm pools fill as the first tries go). Prints both and the ratio
   (target: at most 1.2).
2. The per-task overhead of the Dask launcher: T trivial commands (``true``)
   two at a time, locally and on the cluster.
3. A worker killed (SIGKILL) while a notebook runs on it: the kernels that
   worker had (the running one and its warm spares) still alive 10 s later
   (must be 0), and the node's retry on the other worker.
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
from orchestrate_ext.launcher import Command, Launcher, LocalLauncher

ORCHESTRATE = Path(sys.executable).with_name("orchestrate")


def notebook(number: int) -> dict[str, object]:
    cell: dict[str, object] = {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None}
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


def kernels_of(pid: int) -> list[int]:
    """The kernel processes started by process ``pid`` (its direct children running ipykernel)."""
    import psutil

    return [
        child.pid for child in psutil.Process(pid).children() if any("ipykernel" in part for part in child.cmdline())
    ]


def alive(pid: int) -> bool:
    import psutil

    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def killed_worker(folder: Path) -> tuple[int, int, str]:
    """Kill the worker running a notebook: (kernels it had, kernels left 10 s later, the retry's status)."""
    import psutil

    marker, pids = folder / "first-try", folder / "kernel-pid"
    document = notebook(0)
    document["cells"][1]["source"] = (  # type: ignore[index]
        f"import os, pathlib, time\npathlib.Path({str(pids)!r}).write_text(str(os.getpid()))\n"
        f"if not pathlib.Path({str(marker)!r}).exists():\n"
        f"    pathlib.Path({str(marker)!r}).write_text('1')\n    time.sleep(300)\n"
    )
    document["metadata"]["orchestrate"] = {"retries": 1}  # type: ignore[index]
    (folder / "nb").mkdir(parents=True)
    (folder / "nb" / "sleeper.ipynb").write_text(json.dumps(document))
    (folder / "orchestrate.yaml").write_text(
        "notebooks:\n  include: ['nb/*.ipynb']\ndefaults: {retry_backoff: 0}\n"
        "executor: {type: dask, local: {workers: 2}}\n"
    )
    run = subprocess.Popen([str(ORCHESTRATE), "run", "--json"], cwd=folder, stdout=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 180
    while not (marker.exists() and pids.exists() and pids.read_text()) and time.monotonic() < deadline:
        time.sleep(0.2)
    kernel = int(pids.read_text())
    worker = psutil.Process(kernel).parent()
    assert worker is not None
    had = kernels_of(worker.pid)
    time.sleep(1)  # let the worker's spares start too
    had = sorted(set(had) | set(kernels_of(worker.pid)))
    worker.kill()
    time.sleep(10)
    left = [pid for pid in had if alive(pid)]
    stdout, _ = run.communicate(timeout=300)
    [node] = json.loads(stdout)["nodes"]
    return len(had), len(left), f"{node['status']} after {node['attempts']} attempts"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--notebooks", type=int, default=16)
    parser.add_argument("--tasks", type=int, default=40)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        local = timed_run(project(Path(folder) / "local", args.notebooks, "{type: local}"))
        dask = timed_run(project(Path(folder) / "dask", args.notebooks, "{type: dask, local: {workers: 2}}"))
    print(f"{args.notebooks} trivial notebooks, concurrency 2: local {local:.1f} s, ", end="")
    print(f"on a 2-worker Dask LocalCluster {dask:.1f} s (its start included): ratio {dask / local:.2f}x")
    with tempfile.TemporaryDirectory() as folder:
        had, left, retry = killed_worker(Path(folder))
    print(f"a worker killed mid-try: it had {had} kernel(s); kernels left 10 s later: {left}; the node: {retry}")
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
