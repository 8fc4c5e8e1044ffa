"""`orchestrate graph --format json` on large dbt projects (warm, manifest present) beside `json.load` of it.

    python benchmarks/graph_json.py [--models 5000 10000] [--repeat 5] [--keep DIR]

For each size: generates the project (see dbt_projects.py), runs `dbt parse`
once (about a minute at 5,000 models), runs the command once to warm the file
cache, then times it ``--repeat`` times in fresh processes, alternating with
the baseline: a fresh Python process that only does ``json.load`` of the
manifest, the floor for any command that reads it with the standard library.
Prints the medians, their ratio (target <= 1.5), and the peak memory of each
next to the manifest's size (target: the command's peak <= 3x the manifest).
``--keep DIR`` generates into (or reuses) ``DIR/models-<N>``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from dbt_projects import BIN, generate, measured, timed


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
    ours, theirs, memory, base_memory = [], [], [], []
    for _ in range(repeat):
        took, peak = measured(baseline, root)
        theirs.append(took)
        base_memory.append(peak)
        took, peak = measured(graph, root)
        ours.append(took)
        memory.append(peak)
    size = manifest.stat().st_size / 1e6
    ratio = statistics.median(ours) / statistics.median(theirs)
    print(f"{models} models: manifest {size:.0f} MB")
    print(f"  json.load of the manifest:       {statistics.median(theirs):.2f} s, {max(base_memory):.0f} MB peak")
    print(f"  orchestrate graph --format json: {statistics.median(ours):.2f} s, {max(memory):.0f} MB peak")
    print(f"  time ratio to json.load: {ratio:.2f} (target <= 1.5)")
    print(f"  peak memory / manifest size: {max(memory) / size:.2f} (target <= 3)", flush=True)


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
