"""Generated dbt projects for the dbt benchmarks: N models in layers on DuckDB, each with a not_null test.

Each model reads one to three models of the 40 before it, so the graph has
depth and fan-in like a real project's. The workspace gets an orchestrate.yaml
naming the project (``with_config=False`` leaves it out, as before
``orchestrate init``).
"""

from __future__ import annotations

import os
import random
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

BIN = Path(sys.executable).parent


def generate(root: Path, models: int, *, seed: int = 7, with_config: bool = True) -> Path:
    """Write the workspace at ``root`` (the dbt project in ``root/dbt``); returns the dbt project folder."""
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
    if with_config:
        (root / "orchestrate.yaml").write_text("dbt:\n  project_dir: dbt\nconcurrency: 4\n")
    return project


def environment() -> dict[str, str]:
    return {**os.environ, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}


def measured(argv: list[str], cwd: Path) -> tuple[float, float]:
    """Wall seconds and the peak RSS (MB) of the largest process of the tree, for one command run in a child."""
    probe = (
        "import resource, subprocess, sys, time\n"
        "began = time.perf_counter()\n"
        "done = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
        "took = time.perf_counter() - began\n"
        "if done.returncode: sys.exit(done.stdout[-3000:] + done.stderr[-3000:])\n"
        "print(took, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", probe, *argv], cwd=cwd, env=environment(), capture_output=True, text=True, check=False
    )
    if completed.returncode != 0:
        sys.exit(f"{' '.join(argv)} failed:\n{completed.stderr[-6000:]}")
    took, peak = completed.stdout.split()
    return float(took), float(peak)


def timed(argv: list[str], cwd: Path) -> float:
    began = time.perf_counter()
    completed = subprocess.run(argv, cwd=cwd, env=environment(), capture_output=True, text=True, check=False)
    took = time.perf_counter() - began
    if completed.returncode != 0:
        sys.exit(f"{' '.join(argv)} failed:\n{completed.stdout[-3000:]}\n{completed.stderr[-3000:]}")
    return took


def alternate(
    baseline: tuple[str, list[str], Path], ours: tuple[str, list[str], Path], repeat: int, target: str
) -> None:
    """Time ``baseline`` and ``ours`` (name, argv, folder) in ``repeat`` alternating pairs; print each pair,
    the medians, the ratio of the medians and the median of the pairs' ratios."""
    (base_name, base_argv, base_cwd), (our_name, our_argv, our_cwd) = baseline, ours
    base_times: list[float] = []
    our_times: list[float] = []
    for pair in range(1, repeat + 1):
        base_times.append(timed(base_argv, cwd=base_cwd))
        our_times.append(timed(our_argv, cwd=our_cwd))
        print(
            f"pair {pair}: {base_name} {base_times[-1]:.2f} s, {our_name} {our_times[-1]:.2f} s, "
            f"ratio {our_times[-1] / base_times[-1]:.3f}",
            flush=True,
        )
    base_median, our_median = statistics.median(base_times), statistics.median(our_times)
    pair_ratio = statistics.median(ours / base for ours, base in zip(our_times, base_times, strict=True))
    print(f"median {base_name}: {base_median:.2f} s")
    print(f"median {our_name}: {our_median:.2f} s")
    print(f"ratio of the medians: {our_median / base_median:.3f}; median of the pairs' ratios: {pair_ratio:.3f}")
    print(f"(target {target})")


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
