"""Trivial parameterized notebooks: `orchestrate run` (concurrency 2) next to sequential `papermill` calls.

    python benchmarks/notebooks_vs_papermill.py [--notebooks 8] [--repeat 3]

The same N notebooks (a parameters cell and one small computation) are run
by N sequential ``papermill`` CLI calls (what a cron job would do), by
``orchestrate run`` with the default warm kernel pool, and by ``orchestrate
run`` with ``notebooks.warm_kernels: 0`` (a worker process and a kernel
started per notebook). The three alternate; it prints each time, the medians
and the ratios to papermill (target for the warm pool: <= 0.35).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.dask_notebooks import notebook

BIN = Path(sys.executable).parent


def project(folder: Path, notebooks: int, warm_kernels: int) -> Path:
    (folder / "nb").mkdir(parents=True)
    for number in range(notebooks):
        (folder / "nb" / f"n{number:02d}.ipynb").write_text(json.dumps(notebook(number)))
    (folder / "orchestrate.yaml").write_text(
        f"notebooks:\n  include: ['nb/*.ipynb']\n  warm_kernels: {warm_kernels}\nconcurrency: 2\n"
    )
    return folder


def timed(command: list[str], cwd: Path) -> float:
    began = time.perf_counter()
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{result.stderr[-2000:]}")
    return time.perf_counter() - began


def papermill_calls(folder: Path, notebooks: int) -> float:
    out = folder / "papermill-out"
    out.mkdir(exist_ok=True)
    return sum(
        timed(
            [str(BIN / "papermill"), f"nb/n{n:02d}.ipynb", str(out / f"n{n:02d}.ipynb"), "-p", "n", str(n)],
            folder,
        )
        for n in range(notebooks)
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--notebooks", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    times: dict[str, list[float]] = {"papermill": [], "warm": [], "cold": []}
    with tempfile.TemporaryDirectory() as folder:
        warm = project(Path(folder) / "warm", args.notebooks, 2)
        cold = project(Path(folder) / "cold", args.notebooks, 0)
        orchestrate = [str(BIN / "orchestrate"), "run", "--json"]
        for round_number in range(args.repeat):
            times["papermill"].append(papermill_calls(warm, args.notebooks))
            times["warm"].append(timed(orchestrate, warm))
            times["cold"].append(timed(orchestrate, cold))
            print(
                f"round {round_number + 1}: papermill x{args.notebooks} {times['papermill'][-1]:.1f} s, "
                f"orchestrate run {times['warm'][-1]:.1f} s, "
                f"with warm_kernels: 0 {times['cold'][-1]:.1f} s"
            )
    medians = {name: statistics.median(values) for name, values in times.items()}
    print(
        f"median of {args.repeat}: papermill {medians['papermill']:.1f} s; orchestrate run {medians['warm']:.1f} s "
        f"({medians['warm'] / medians['papermill']:.2f}x); warm_kernels: 0 {medians['cold']:.1f} s "
        f"({medians['cold'] / medians['papermill']:.2f}x)"
    )


if __name__ == "__main__":
    main()
