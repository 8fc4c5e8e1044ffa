"""`orchestrate graph --format json` on a large dbt project (warm, manifest present) beside `json.load` of it.

    python benchmarks/graph_json.py [--models 5000] [--repeat 5] [--keep DIR]

Generates the project (see dbt_projects.py), runs `dbt parse` once (about a
minute at 5,000 models), runs the command once to warm the file cache, then
times it ``--repeat`` times in fresh processes. The baseline is a fresh Python
process that only does ``json.load`` of the manifest: the floor for any
command that reads it. Prints the medians and peak memory (target: < 1 s).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from dbt_projects import BIN, generate, measured, timed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--keep", type=Path, default=None, help="generate here (or reuse) instead of a temp folder")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="orchestrate-bench-") as folder:
        root = args.keep or Path(folder) / "graph"
        project = root / "dbt"
        if not (project / "target" / "manifest.json").is_file():
            print(f"generating {args.models} models + {args.models} tests and running dbt parse ...", flush=True)
            generate(root, args.models)
            took = timed([str(BIN / "dbt"), "parse", "--profiles-dir", "."], cwd=project)
            print(f"dbt parse: {took:.1f} s", flush=True)
        manifest = project / "target" / "manifest.json"
        graph = [str(BIN / "orchestrate"), "graph", "--format", "json"]
        baseline = [sys.executable, "-c", f"import json; json.load(open({str(manifest)!r}, 'rb'))"]
        measured(graph, root)  # warm up: file cache, .pyc files
        ours, theirs, memory, base_memory = [], [], [], []
        for _ in range(args.repeat):
            took, peak = measured(graph, root)
            ours.append(took)
            memory.append(peak)
            took, peak = measured(baseline, root)
            theirs.append(took)
            base_memory.append(peak)
        print(f"manifest: {manifest.stat().st_size / 1e6:.0f} MB")
        print(f"json.load of the manifest:      {statistics.median(theirs):.2f} s, {max(base_memory):.0f} MB peak")
        print(
            f"orchestrate graph --format json: {statistics.median(ours):.2f} s, {max(memory):.0f} MB peak",
            "(target < 1 s)",
        )


if __name__ == "__main__":
    main()
