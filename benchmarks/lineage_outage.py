"""Wall time of `orchestrate run` of the example with lineage on and the collector down, next to lineage off.

    python benchmarks/lineage_outage.py [--repeat 3]

Makes two copies of examples/shop: one as it is (lineage off: no `lineage:` section and no
OPENLINEAGE_* variables), one with a `lineage:` section whose HTTP collector is a closed loopback port
(connection refused: every send fails). Each is run once first (dbt parse, the warehouse, the outbox
created), then both are run in `--repeat` alternating pairs; prints each pair, the medians and their
ratio (issue 22's target: <= 1.05), and what waits in the outbox afterwards.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from dbt_projects import BIN, alternate, environment, timed

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "shop"
_GENERATED = shutil.ignore_patterns("target", "logs", ".orchestrate", "*.duckdb*", "dbt_packages", "__pycache__")


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    for name in [name for name in os.environ if name.startswith("OPENLINEAGE")]:
        del os.environ[name]  # lineage off means off: the client's own configuration must not turn it on
    with tempfile.TemporaryDirectory(prefix="orchestrate-bench-") as folder:
        off, down = Path(folder) / "off" / "shop", Path(folder) / "down" / "shop"
        shutil.copytree(EXAMPLE, off, ignore=_GENERATED)
        shutil.copytree(EXAMPLE, down, ignore=_GENERATED)
        with (down / "orchestrate.yaml").open("a") as config:
            config.write(f"lineage:\n  transport:\n    type: http\n    url: http://127.0.0.1:{closed_port()}\n")
        run = [str(BIN / "orchestrate"), "run"]
        print("first runs (dbt parse, the warehouse) ...", flush=True)
        timed(run, cwd=off)
        timed(run, cwd=down)
        alternate(("lineage off", run, off), ("lineage on, collector down", run, down), args.repeat, "<= 1.05")
        status = subprocess.run(
            [str(BIN / "orchestrate"), "lineage", "status"], cwd=down, env=environment(), capture_output=True, text=True
        )
        print("outbox of the lineage run:", " ".join(status.stdout.split()))


if __name__ == "__main__":
    main()
