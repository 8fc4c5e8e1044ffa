"""How fast the command line answers as a new process: ``orchestrate --version`` and ``orchestrate status``.

    python benchmarks/startup.py [--repeat 9]

Copies examples/shop to a temporary folder and runs ``dbt parse`` there once
(so ``status`` reads a real 39-node graph and an empty store), then runs each
command ``--repeat`` times as a new process, next to ``python -c pass`` in the
same run (the floor: the interpreter alone). It prints, per command, the median
wall time, the median CPU time (user + system of the child: less disturbed by
other work on a shared machine than the wall time) and how many modules the
command imports (counted with ``python -X importtime``).

Byte code is cached in a temporary ``PYTHONPYCACHEPREFIX`` (warmed by one run
first), as an installed package has it: a run with ``PYTHONDONTWRITEBYTECODE``
would measure compiling the sources instead.

Targets (issue 19, on a quiet machine): ``--version`` <= 0.15 s, ``status`` <= 0.3 s.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def orchestrate() -> list[str]:
    """The command a user types: the installed script, run by this interpreter."""
    script = shutil.which("orchestrate", path=str(Path(sys.executable).parent))
    entry = "import sys; from orchestrate_ext.cli import main; sys.argv[0] = 'orchestrate'; main()"
    return [sys.executable, script] if script else [sys.executable, "-c", entry]


def make_project(folder: Path, env: dict[str, str]) -> Path:
    project = folder / "shop"
    shutil.copytree(
        ROOT / "examples" / "shop",
        project,
        ignore=shutil.ignore_patterns(".orchestrate", "target", "logs", "*.duckdb", "reports", ".user.yml"),
    )
    subprocess.run(
        [str(Path(sys.executable).with_name("dbt")), "parse", "--project-dir", "dbt", "--profiles-dir", "dbt"],
        cwd=project,
        check=True,
        capture_output=True,
        env={**env, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"},
    )
    return project


def timed(argv: Sequence[str], cwd: Path, env: dict[str, str]) -> tuple[float, float]:
    """Wall and CPU seconds of one new process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    began = time.perf_counter()
    subprocess.run(argv, cwd=cwd, env=env, capture_output=True, check=False)
    wall = time.perf_counter() - began
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def module_count(argv: Sequence[str], cwd: Path, env: dict[str, str]) -> int:
    """Modules the process imports (one ``import time:`` line each, the header excluded)."""
    command = [argv[0], "-X", "importtime", *argv[1:]]
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    return sum(1 for line in result.stderr.splitlines() if line.startswith("import time:") and "|" in line) - 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=9)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        env = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}
        env["PYTHONPYCACHEPREFIX"] = str(Path(folder) / "pycache")
        project = make_project(Path(folder), env)
        commands = {
            "python -c pass": [sys.executable, "-c", "pass"],
            "orchestrate --version": [*orchestrate(), "--version"],
            "orchestrate status": [*orchestrate(), "status"],
        }
        for argv in commands.values():
            timed(argv, project, env)  # warm: byte code written, files in the page cache
        samples: dict[str, list[tuple[float, float]]] = {name: [] for name in commands}
        for _ in range(args.repeat):  # interleaved, so a busy moment hits every command alike
            for name, argv in commands.items():
                samples[name].append(timed(argv, project, env))
        print(f"start-up as a new process, median of {args.repeat} (Python {sys.version.split()[0]})")
        print(f"{'command':<24}{'wall s':>8}{'cpu s':>8}{'modules':>9}")
        for name, argv in commands.items():
            wall = statistics.median(sample[0] for sample in samples[name])
            cpu = statistics.median(sample[1] for sample in samples[name])
            print(f"{name:<24}{wall:>8.3f}{cpu:>8.3f}{module_count(argv, project, env):>9}")
        print(f"load average while measured: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
