"""`orchestrate graph --format json` on large dbt projects (warm, manifest present) beside `json.load` of it.

    python benchmarks/graph_json.py [--models 5000 10000] [--repeat 5] [--keep DIR]

For each size: generates the project (see dbt_projects.py), runs `dbt parse`
once (about a minute at 5,000 models), runs the command once to warm the file
cache, then times it ``--repeat`` times in fresh processes, alternating with
the baseline: a fresh Python process that only does ``json.load`` of the
manifest, the floor for any command that reads it with the standard library.
Prints the medians of wall time and of CPU time (user + system: on a shared,
loaded machine the wall time of the longer process grows more than its share),
their ratios (target <= 1.5), and the peak memory of each next to the
manifest's size (target: the command's peak <= 3x the manifest).
``--keep DIR`` generates into (or reuses) ``DIR/models-<N>``.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from dbt_projects import BIN, environment, generate, timed

PROBE = (
    "import resource, subprocess, sys, time\n"
    "began = time.perf_counter()\n"
    "done = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
    "took = time.perf_counter() - began\n"
    "if done.returncode: sys.exit(done.stdout[-3000:] + done.stderr[-3000:])\n"
    "usage = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
    "print(took, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024)\n"
)


def measured(argv: list[str], cwd: Path) -> tuple[float, float, float]:
    """Wall seconds, CPU seconds and peak RSS (MB) of one command run in a fresh child."""
    completed = subprocess.run(
        [sys.executable, "-c", PROBE, *argv], cwd=cwd, env=environment(), capture_output=True, text=True, check=False
    )
    if completed.returncode != 0:
        sys.exit(f"{' '.join(argv)} failed:\n{completed.stderr[-6000:]}")
    wall, cpu, peak = completed.stdout.split()
    return float(wall), float(cpu), float(peak)


def bench(root: Path, models: int, repeat: int) -> None:
    project = root / "dbt"
    if not (project / "target" / "manifest.json").is_file():
        print(f"generating {models} models + {models} tests and running dbt parse ...", flush=True)
        if not project.is_dir():
            generate(root, models)
        took = timed([str(BIN / "dbt"), "parse", "--profiles-dir", "."], cwd=project)
        print(f"dbt parse: {took:.1f} s", flush=True)
    manifest = project / "target" / "manifest.json"
    graph = [str(BIN / "orchestrate"), "graph", "--format", "json"]
    baseline = [sys.executable, "-c", f"import json; json.load(open({str(manifest)!r}, 'rb'))"]
    measured(graph, root)  # warm up: file cache, .pyc files, the manifest's check stamp
    ours: list[tuple[float, float, float]] = []
    theirs: list[tuple[float, float, float]] = []
    for _ in range(repeat):
        theirs.append(measured(baseline, root))
        ours.append(measured(graph, root))
    size = manifest.stat().st_size / 1e6
    wall, cpu = (statistics.median(run[0] for run in ours), statistics.median(run[1] for run in ours))
    base_wall, base_cpu = (statistics.median(run[0] for run in theirs), statistics.median(run[1] for run in theirs))
    peak, base_peak = max(run[2] for run in ours), max(run[2] for run in theirs)
    print(f"{models} models: manifest {size:.0f} MB")
    print(f"  json.load of the manifest:       {base_wall:.2f} s wall, {base_cpu:.2f} s CPU, {base_peak:.0f} MB peak")
    print(f"  orchestrate graph --format json: {wall:.2f} s wall, {cpu:.2f} s CPU, {peak:.0f} MB peak")
    print(f"  ratio to json.load: {wall / base_wall:.2f} wall, {cpu / base_cpu:.2f} CPU (target <= 1.5)")
    print(
        f"  peak memory / manifest size: {peak / size:.2f} (json.load: {base_peak / size:.2f}; target <= 3)", flush=True
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", type=int, nargs="+", default=[5000])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--keep", type=Path, default=None, help="generate in (or reuse) DIR/models-<N>")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="orchestrate-bench-") as folder:
        for models in args.models:
            bench((args.keep or Path(folder)) / f"models-{models}", models, args.repeat)


if __name__ == "__main__":
    main()
