"""Wall time of `orchestrate run` next to plain `dbt build` on one generated project.

    python benchmarks/run_vs_dbt_build.py [--models 200] [--repeat 3]

Generates a dbt project of N models in layers (each model reads one to three
models of earlier layers, each has a not_null test) on DuckDB, in two identical
copies so that each tool keeps its own partial-parse state and database (dbt
re-parses everything when the previous invocation's flags differ). Each copy
is warmed up once, then `dbt build` and `orchestrate run` alternate; it prints
each time, the medians and their ratio (target: <= 1.10).
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BIN = Path(sys.executable).parent


def generate(root: Path, models: int, seed: int = 7) -> None:
    rng = random.Random(seed)
    project = root / "dbt"
    (project / "models").mkdir(parents=True)
    (project / "dbt_project.yml").write_text(
        "name: bench\nprofile: bench\nversion: '1.0'\nflags: {send_anonymous_usage_stats: false}\n"
        "models:\n  bench:\n    +materialized: table\n"
    )
    (project / "profiles.yml").write_text(
        "bench:\n  target: dev\n  outputs:\n    dev: {type: duckdb, path: ../bench.duckdb, threads: 4}\n"
    )
    schema = ["version: 2", "models:"]
    for number in range(models):
        name = f"model_{number:04d}"
        if number < 10:
            sql = f"select range as id, {number} as layer from range(100)"
        else:
            parents = rng.sample(range(max(0, number - 40), number), k=rng.randint(1, 3))
            refs = "\nunion all\n".join(
                f"select id, layer + 1 as layer from {{{{ ref('model_{p:04d}') }}}}" for p in parents
            )
            sql = f"select id, max(layer) as layer from (\n{refs}\n) group by id"
        (project / "models" / f"{name}.sql").write_text(sql + "\n")
        schema += [f"  - name: {name}", "    columns:", "      - name: id", "        data_tests: [not_null]"]
    (project / "models" / "schema.yml").write_text("\n".join(schema) + "\n")
    (root / "orchestrate.yaml").write_text("dbt:\n  project_dir: dbt\n  profiles_dir: dbt\nconcurrency: 4\n")


def timed(argv: list[str], cwd: Path) -> float:
    env = {**os.environ, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    began = time.perf_counter()
    completed = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    took = time.perf_counter() - began
    if completed.returncode != 0:
        sys.exit(f"{' '.join(argv)} failed:\n{completed.stdout[-3000:]}\n{completed.stderr[-3000:]}")
    return took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="orchestrate-bench-") as folder:
        plain, ours_root = Path(folder) / "plain", Path(folder) / "ours"
        generate(plain, args.models)
        shutil.copytree(plain, ours_root)
        dbt_project = plain / "dbt"
        dbt_build = [str(BIN / "dbt"), "build", "--profiles-dir", "."]
        print(f"project: {args.models} models + {args.models} tests; warming up both copies ...", flush=True)
        timed(dbt_build, cwd=dbt_project)
        timed([str(BIN / "orchestrate"), "run"], cwd=ours_root)
        dbt_times, ours = [], []
        for round_number in range(1, args.repeat + 1):
            dbt_times.append(timed(dbt_build, cwd=dbt_project))
            ours.append(timed([str(BIN / "orchestrate"), "run"], cwd=ours_root))
            print(
                f"round {round_number}: dbt build {dbt_times[-1]:.2f} s, orchestrate run {ours[-1]:.2f} s", flush=True
            )
        dbt_median, our_median = statistics.median(dbt_times), statistics.median(ours)
        print(f"median dbt build:       {dbt_median:.2f} s")
        print(f"median orchestrate run: {our_median:.2f} s")
        print(f"ratio orchestrate/dbt:  {our_median / dbt_median:.3f} (target <= 1.10)")


if __name__ == "__main__":
    main()
