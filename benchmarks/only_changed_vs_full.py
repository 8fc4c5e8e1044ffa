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
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from dbt_projects import BIN, alternate, generate, timed


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
        unchanged = ("--only-changed, nothing changed", only_changed, root)
        alternate(("full run", full, root), unchanged, args.repeat, "<= 0.2")


if __name__ == "__main__":
    main()
