"""A PostgreSQL outage during a run: the run pauses, goes on when the server is back, and runs nothing twice.

A server of the test's own (it is stopped and started again on the same port and
data folder), a real ``orchestrate run`` of a chain of real notebooks, each of
which appends its name to a file: the count of real executions.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest

from tests.conftest import run_cli
from tests.support import postgres

pytestmark = pytest.mark.slow

OUTAGE_SECONDS = 20.0
CHAIN = ["n1", "n2", "n3", "n4"]


@pytest.fixture
def own_server() -> Iterator[tuple[Path, str]]:
    """A PostgreSQL server this test may stop and start: its folder and URL."""
    if postgres.binary("initdb") is None:
        pytest.skip("PostgreSQL is not installed (no initdb)")
    folder = Path(tempfile.mkdtemp(prefix="orchestrate-pg-outage-"))
    try:
        yield folder, postgres.start(folder)
    finally:
        postgres.stop(folder)
        shutil.rmtree(folder, ignore_errors=True)


def write_notebook(path: Path, source: str, depends_on: list[str]) -> None:
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    notebook.metadata["orchestrate"] = {"depends_on": depends_on} if depends_on else {}
    notebook.cells.append(nbformat.v4.new_code_cell(source))
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, path)


def chain_project(root: Path, url: str) -> Path:
    """Four notebooks one after another, each taking ~3 s and appending its name to ``executions.txt``."""
    executions = root / "executions.txt"
    (root / "orchestrate.yaml").write_text(
        f"notebooks:\n  include: ['nb/*.ipynb']\nstate:\n  url: {url}\n  outage_wait: 90s\n"
    )
    for index, name in enumerate(CHAIN):
        source = (
            "import time, pathlib\n"
            f"with open({str(executions)!r}, 'a') as f:\n    f.write({name!r} + ' started\\n')\n"
            "time.sleep(3)\n"
            f"with open({str(executions)!r}, 'a') as f:\n    f.write({name!r} + ' done\\n')\n"
        )
        write_notebook(root / "nb" / f"{name}.ipynb", source, [f"nb/{CHAIN[index - 1]}.ipynb"] if index else [])
    return executions


def wait_for(predicate: object, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def test_a_run_pauses_through_a_postgresql_restart_and_runs_every_node_once(
    tmp_path: Path, own_server: tuple[Path, str]
) -> None:
    folder, url = own_server
    executions = chain_project(tmp_path, url)
    orchestrate = Path(sys.executable).with_name("orchestrate")
    started = time.monotonic()
    run = subprocess.Popen(
        [str(orchestrate), "run", "--json"], cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        wait_for(lambda: executions.exists() and "n1 started" in executions.read_text(), 120)
        stopped_at = time.monotonic()
        postgres.stop(folder)
        status = run_cli("status", cwd=tmp_path)
        time.sleep(max(0.0, OUTAGE_SECONDS - (time.monotonic() - stopped_at)))
        postgres.resume(folder)
        back_at = time.monotonic()
        stdout, stderr = run.communicate(timeout=300)
    finally:
        if run.poll() is None:
            run.kill()
    finished = time.monotonic()
    print(
        f"outage {back_at - stopped_at:.1f} s, run {finished - started:.1f} s, "
        f"after the server was back {finished - back_at:.1f} s"
    )
    print("\n".join(line for line in stderr.splitlines() if "state store" in line))
    assert run.returncode == 0, stderr[-3000:]
    assert json.loads(stdout)["status"] == "success"
    assert "Traceback" not in stderr
    assert "[BAD]" not in stderr and "error connecting" not in stderr, "the driver's own warnings are not repeated"
    assert stderr.count("state store unreachable, waiting up to 90 s") >= 1, stderr[-3000:]
    lines = executions.read_text().splitlines()
    assert sorted(lines) == sorted(f"{name} {what}" for name in CHAIN for what in ("started", "done")), lines

    assert status.returncode == 1, status.stdout + status.stderr
    assert "unreachable" in status.stderr
    assert "Traceback" not in status.stderr
    runs = json.loads(run_cli("runs", "--json", cwd=tmp_path).stdout)
    assert [item["status"] for item in runs] == ["success"]
