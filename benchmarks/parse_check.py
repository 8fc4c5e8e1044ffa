"""The cost of deciding whether the manifest is current, beyond the file check that existed before.

For the example shop and a generated 200-model project (parsed once here), prints the median of
repeated calls of: the file check (``stale_reason``), the inputs check against our own record
(``orchestrate_parse.json``, the usual case), and the inputs check of a manifest another dbt command
wrote (dbt's ``partial_parse.msgpack`` skimmed; once per such manifest, then adopted).

    python benchmarks/parse_check.py
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.dbt_projects import BIN, environment, generate
from dbt_adapter import parse_inputs
from dbt_adapter.manifest import read_manifest
from dbt_adapter.parse import _inputs_changed, ensure_manifest, stale_reason
from dbt_adapter.project import DbtConfig, DbtProject
from orchestrate_ext.interfaces import Workspace

REPEATS = 200
EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "shop"


def median_ms(action: Callable[[], object], repeats: int = REPEATS) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def project_of(root: Path) -> DbtProject:
    raw = yaml.safe_load((root / "orchestrate.yaml").read_text()).get("dbt") or {}
    workspace = Workspace(root, root / "orchestrate.yaml", root / ".orchestrate")
    return DbtProject.from_config(workspace, DbtConfig.model_validate(raw))


def measure(name: str, root: Path) -> None:
    project = project_of(root)
    ensure_manifest(project)  # parses if needed and writes our record
    path = project.manifest_path
    manifest = read_manifest(path)
    written = path.stat().st_mtime
    files = median_ms(lambda: stale_reason(project.settings, manifest, written))
    ours = median_ms(lambda: _inputs_changed(project, path))
    stamp = path.parent / parse_inputs.STAMP_FILE

    def foreign() -> object:
        stamp.unlink(missing_ok=True)
        return _inputs_changed(project, path)

    theirs = median_ms(foreign, repeats=50)
    assert _inputs_changed(project, path) is None, "the benchmark's manifest should be current"
    print(f"{name}: files {files:.2f} ms; inputs (our record) {ours:.2f} ms; inputs (dbt's record) {theirs:.2f} ms")


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="parse-check-") as folder:
        shop = Path(shutil.copytree(EXAMPLE, Path(folder) / "shop"))
        measure("examples/shop", shop)
        generated = Path(folder) / "bench"
        generate(generated, 200)
        subprocess.run([str(BIN / "dbt"), "parse"], cwd=generated / "dbt", env=environment(), check=True)
        measure("200 models", generated)


if __name__ == "__main__":
    main()
