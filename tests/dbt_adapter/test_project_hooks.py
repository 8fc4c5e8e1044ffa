"""dbt project hooks run once per run, as in `dbt build`, however many dbt processes the run takes.

The example shop gets hooks that write `{{ invocation_id }}` and the hook type
into a table, a notebook (`pause`) between two groups of dbt nodes (so a run is
two dbt batches) and a model after it. dbt's own `dbt build` on the same project
is the reference: its run_results list the hooks as `operation` nodes too.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path

import nbformat
import psutil
import pytest

from tests.conftest import run_cli
from tests.dbt_adapter.test_build_parity import BIN, dbt, dbt_outcomes, outcomes

pytestmark = pytest.mark.slow

HOOKS = """
on-run-start:
  - "create table if not exists main.hook_log (invocation_id varchar, hook varchar)"
  - "insert into main.hook_log values ('{{ invocation_id }}', 'start')"
on-run-end:
  - "insert into main.hook_log values ('{{ invocation_id }}', 'end')"
"""
START_HOOKS = ("operation.shop.shop-on-run-start-0", "operation.shop.shop-on-run-start-1")
END_HOOK = "operation.shop.shop-on-run-end-0"
AFTER_PAUSE = "-- depends_on: {{ source('raw', 'paused') }}\nselect 1 as x\n"


@pytest.fixture
def hooked(shop: Path) -> Path:
    """The shop with hooks; a ``pause`` notebook splits its dbt nodes in two batches.

    The notebook waits while the file ``hold`` exists, and fails when ``fail`` exists.
    """
    dbt_dir = shop / "dbt"
    (dbt_dir / "dbt_project.yml").write_text((dbt_dir / "dbt_project.yml").read_text() + HOOKS)
    sources = dbt_dir / "models" / "sources.yml"
    sources.write_text(sources.read_text().replace("    tables:\n", "    tables:\n      - name: paused\n", 1))
    (dbt_dir / "models" / "after_pause.sql").write_text(AFTER_PAUSE)
    notebook = nbformat.v4.new_notebook()
    hold, fail = shop / "hold", shop / "fail"
    code = f"""import pathlib, time
if pathlib.Path({str(fail)!r}).exists():
    raise RuntimeError("told to fail")
while pathlib.Path({str(hold)!r}).exists():
    time.sleep(0.2)
"""
    notebook.cells = [nbformat.v4.new_code_cell(code)]
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    notebook.metadata["orchestrate"] = {"depends_on": ["daily_revenue"], "produces": ["raw.paused"]}
    nbformat.write(notebook, shop / "notebooks" / "pause.ipynb")
    return shop


def hook_rows(workspace: Path) -> list[tuple[str, str]]:
    import duckdb

    with duckdb.connect(str(workspace / "shop.duckdb"), read_only=True) as connection:
        rows = connection.sql("select hook, invocation_id from main.hook_log").fetchall()
    return [(str(hook), str(invocation)) for hook, invocation in rows]


def run_document(*args: str, cwd: Path) -> dict[str, object]:
    result = run_cli(*args, "--json", cwd=cwd)
    assert result.returncode in (0, 1), result.stderr
    document: dict[str, object] = json.loads(result.stdout)
    return document


def kill_tree(pid: int) -> None:
    """SIGKILL ``pid`` and every process it started (dbt and kernels run in process groups of their own)."""
    root = psutil.Process(pid)
    processes = [root, *root.children(recursive=True)]
    for process in processes:
        with contextlib.suppress(psutil.NoSuchProcess):
            process.send_signal(signal.SIGKILL)
    _, alive = psutil.wait_procs(processes, timeout=60)  # gone, so their DuckDB locks are
    assert not alive, f"still running after SIGKILL: {alive}"


def batch_logs(workspace: Path) -> list[Path]:
    return sorted((workspace / ".orchestrate" / "runs").glob("*/logs/dbt-build.*.jsonl"))


def test_a_run_of_two_dbt_batches_runs_each_hook_once_and_matches_dbt_build(hooked: Path, tmp_path: Path) -> None:
    document = run_document("run", cwd=hooked)
    assert document["status"] == "success"
    assert len(batch_logs(hooked)) == 2, "the pause notebook splits the dbt nodes in two batches"
    rows = hook_rows(hooked)
    assert Counter(hook for hook, _ in rows) == {"start": 1, "end": 1}
    invocations = dict(rows)
    assert invocations["start"] != invocations["end"], "the first batch runs on-run-start, the second on-run-end"
    ours = outcomes(document)
    assert {ours[hook] for hook in (*START_HOOKS, END_HOOK)} == {"success"}

    # plain `dbt build` on the same project (the source the notebook fills exists by now)
    plain = dbt("build", cwd=hooked / "dbt")
    assert plain.returncode == 0, plain.stdout
    expected = dbt_outcomes(hooked / "dbt" / "target" / "run_results.json")
    dbt_nodes = {node_id: status for node_id, status in ours.items() if not node_id.startswith("notebook.")}
    assert dbt_nodes == expected, "the same nodes, hooks included, and statuses as dbt build"


def test_a_failure_runs_on_run_end_still_and_a_retry_runs_no_hook_again(hooked: Path) -> None:
    fragile = hooked / "dbt" / "models" / "fragile.sql"
    fragile.write_text("-- depends_on: {{ source('raw', 'paused') }}\nselect * from no_such_table\n")
    document = run_document("run", cwd=hooked)
    assert document["status"] == "failed"
    ours = outcomes(document)
    assert ours["model.shop.fragile"] == "failed"
    assert ours[END_HOOK] == "success", "as in dbt build: on-run-end runs after a failed node"
    assert Counter(hook for hook, _ in hook_rows(hooked)) == {"start": 1, "end": 1}

    fragile.write_text("-- depends_on: {{ source('raw', 'paused') }}\nselect 1 as x\n")
    retried = run_document("retry", str(document["run_id"]), cwd=hooked)
    assert retried["status"] == "success"
    rows = hook_rows(hooked)
    # both hooks succeeded in this run already: once per run, whatever the number of retries
    assert Counter(hook for hook, _ in rows) == {"start": 1, "end": 1}
    assert outcomes(retried)["model.shop.fragile"] == "success"


def test_a_resumed_run_does_not_run_on_run_start_again(hooked: Path) -> None:
    hold = hooked / "hold"
    hold.touch()
    process = subprocess.Popen(
        [str(BIN / "orchestrate"), "run", "--json"],
        cwd=hooked,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        env={**os.environ, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"},
    )
    try:
        deadline = time.monotonic() + 900  # the first batch takes a few minutes on a loaded machine
        while not list((hooked / ".orchestrate" / "runs").glob("*/logs/notebook.notebooks__pause*")):
            assert process.poll() is None, "the run ended before the pause notebook started"
            assert time.monotonic() < deadline, "the pause notebook never started"
            time.sleep(0.5)
    finally:
        kill_tree(process.pid)  # the machine dies: the run's process and everything it started
    hold.unlink()
    [run_dir] = (hooked / ".orchestrate" / "runs").iterdir()
    assert Counter(hook for hook, _ in hook_rows(hooked)) == {"start": 1}
    resumed = run_document("retry", run_dir.name, cwd=hooked)
    assert resumed["status"] == "success"
    assert Counter(hook for hook, _ in hook_rows(hooked)) == {"start": 1, "end": 1}


def test_hooks_run_alone_when_no_dbt_node_runs_beside_them(hooked: Path) -> None:
    (hooked / "fail").touch()
    document = run_document("run", "--select", "pause after_pause", cwd=hooked)
    ours = outcomes(document)
    assert ours["notebook.notebooks/pause"] == "failed" and ours["model.shop.after_pause"] == "upstream_failed"
    assert {ours[hook] for hook in (*START_HOOKS, END_HOOK)} == {"success"}
    argv = [log.read_text().splitlines()[0] for log in batch_logs(hooked)]
    assert len(argv) == 2, "on-run-start alone, then on-run-end alone"
    assert all(" build " in line and "--select" not in line for line in argv), "dbt builds that run no node"
    rows = hook_rows(hooked)
    assert Counter(hook for hook, _ in rows) == {"start": 1, "end": 1}
    assert len({invocation for _, invocation in rows}) == 2
