"""Wall time of `orchestrate run --only-changed` with nothing changed next to a full `orchestrate run`.

    python benchmarks/only_changed_vs_full.py [--models 200] [--repeat 3]

Generates the dbt project of run_vs_dbt_build.py (N models in layers, each with a not_null
test, on DuckDB; see dbt_projects.py), runs it once with `--only-changed` so that every node
has a recorded success and fingerprint, then alternates a full run (`orchestrate run --all`,
everything built) and a re-run with nothing changed (`orchestrate run --only-changed`, every
node reused: no dbt invocation at all), and prints each pair, the medians and their ratio
(issue 12's target: <= 0.2).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from dbt_projects import BIN, generate, timed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="orchestrate-bench-") as folder:
        root = Path(folder) / "ours"
        generate(root, args.models)
        full = [str(BIN / "orchestrate"), "run", "--all"]
        only_changed = [str(BIN / "orchestrate"), "run", "--only-changed"]
        print(f"project: {args.models} models + {args.models} tests; first run (parse and build) ...", flush=True)
        timed(only_changed, cwd=root)
        full_times, reuse_times = [], []
        for pair in range(1, args.repeat + 1):
            full_times.append(timed(full, cwd=root))
            reuse_times.append(timed(only_changed, cwd=root))
            print(
                f"pair {pair}: full run {full_times[-1]:.2f} s, --only-changed (nothing changed) "
                f"{reuse_times[-1]:.2f} s, ratio {reuse_times[-1] / full_times[-1]:.3f}",
                flush=True,
            )
        full_median, reuse_median = statistics.median(full_times), statistics.median(reuse_times)
        print(f"median full run:          {full_median:.2f} s")
        print(f"median --only-changed:    {reuse_median:.2f} s")
        print(f"ratio only-changed/full:  {reuse_median / full_median:.3f} (target <= 0.2)")


if __name__ == "__main__":
    main()
