"""Wall time of `orchestrate run` next to plain `dbt build` on one generated project.

    python benchmarks/run_vs_dbt_build.py [--models 200] [--repeat 3]

Generates a dbt project of N models in layers, each with a not_null test (see
dbt_projects.py), on DuckDB, in two identical copies so that each tool keeps
its own partial-parse state and database (dbt re-parses everything when the
previous invocation's flags differ). Each copy is warmed up once, then
`dbt build` and `orchestrate run` alternate in pairs; it prints each pair,
the medians and the ratio of the medians (target: <= 1.03).

`orchestrate run` passes the whole project to one `dbt build` with no
selection at all (a selection of 400 `fqn:` terms used to cost ~1.7 s), and
reads dbt's info-level JSON log (debug level costs 10-15 % of a build).
"""

from __future__ import annotations

import argparse
import shutil
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
        plain, ours_root = Path(folder) / "plain", Path(folder) / "ours"
        generate(plain, args.models)
        shutil.copytree(plain, ours_root)
        dbt_project = plain / "dbt"
        dbt_build = [str(BIN / "dbt"), "build", "--profiles-dir", "."]
        orchestrate_run = [str(BIN / "orchestrate"), "run"]
        print(f"project: {args.models} models + {args.models} tests; warming up both copies ...", flush=True)
        timed(dbt_build, cwd=dbt_project)
        timed(orchestrate_run, cwd=ours_root)
        ours = ("orchestrate run", orchestrate_run, ours_root)
        alternate(("dbt build", dbt_build, dbt_project), ours, args.repeat, "<= 1.03")


if __name__ == "__main__":
    main()
