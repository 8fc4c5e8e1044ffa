"""The command line an analyst reads, driven for real on the example (dbt-core + dbt-duckdb + papermill).

One copy of the example, with a nightly schedule, a freshness SLA on the report and a notebook that
waits for a file (so a run can be caught while it runs), goes through:

1. a run where a model fails: ``status`` exits 1 and shows the failure; ``runs``, ``show``,
   ``freshness`` and ``logs`` say what failed, where and why;
2. a run caught while it runs: ``status`` and ``show`` show its progress; ``show --watch`` and
   ``logs --follow`` follow it to its end;
3. after it: ``status`` exits 0; two days later (a shifted clock) the nodes are stale and it exits 1;
4. a real scheduler: ``status`` names its host and pid; ``ticks`` shows the tick it recorded.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest

from orchestrate_ext.execution.liveness import host_name
from tests.conftest import copy_example, copy_parsed, run_cli

pytestmark = pytest.mark.slow
T = TypeVar("T")

MART = "model.shop.daily_revenue"
FCT = "model.shop.fct_orders"
REPORT = "notebook.notebooks/daily_report"
GATE = "notebook.notebooks/gate"
TWO_DAYS = {"ORCHESTRATE_CLOCK_OFFSET_SECONDS": str(2 * 86400)}

GATE_SOURCE = """\
import time
from pathlib import Path

print("waiting for the gate", flush=True)
deadline = time.monotonic() + 300
while not Path("gate.open").exists():
    if time.monotonic() > deadline:
        raise TimeoutError("the gate never opened")
    time.sleep(0.5)
print("through the gate", flush=True)
"""


def cli(project: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """The installed command, piped, with the user's zone set."""
    if not env:
        return run_cli(*args, cwd=project)
    orchestrate = Path(sys.executable).with_name("orchestrate")
    return subprocess.run(
        [str(orchestrate), *args],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={**os.environ, **env},
    )


def start(project: Path, *args: str) -> subprocess.Popen[str]:
    orchestrate = Path(sys.executable).with_name("orchestrate")
    return subprocess.Popen(
        [str(orchestrate), *args], cwd=project, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def wait_for(condition: Callable[[], T | None], timeout: float = 240.0, what: str = "") -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


def section(text: str, title: str) -> str:
    """The lines of ``text`` from the one starting with ``title`` to the next blank line."""
    lines = text.splitlines()
    begin = next(index for index, line in enumerate(lines) if line.startswith(title))
    end = next((index for index in range(begin, len(lines)) if not lines[index].strip()), len(lines))
    return "\n".join(lines[begin:end])


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory, parsed_manifest: Path) -> Path:
    root = copy_example(tmp_path_factory.mktemp("views") / "shop")
    copy_parsed(parsed_manifest, root / "dbt" / "target")
    config = root / "orchestrate.yaml"
    config.write_text(
        config.read_text()
        + "schedules:\n"
        + "  - {name: nightly, cron: '0 5 * * *', timezone: Europe/Berlin, select: '+daily_revenue', catchup: none}\n"
    )
    report = root / "notebooks" / "daily_report.ipynb"
    document = json.loads(report.read_text())
    document["metadata"]["orchestrate"]["sla"] = {"freshness": "12h"}
    report.write_text(json.dumps(document))
    gate = {
        "cells": [{"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [], "source": GATE_SOURCE}],
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    (root / "notebooks" / "gate.ipynb").write_text(json.dumps(gate))
    return root


@pytest.fixture(scope="module")
def failed_run(project: Path) -> str:
    """A real run in which fct_orders fails (its SQL reads a table that does not exist)."""
    (project / "notebooks" / "gate.open").touch()
    model = project / "dbt" / "models" / "marts" / "fct_orders.sql"
    good = model.read_text()
    model.write_text(good.replace("from", "from no_such_table_here,", 1))
    result = cli(project, "run", "--json", "--logical-date", "2024-01-31")
    assert result.returncode == 1, result.stderr
    model.write_text(good)
    (project / "notebooks" / "gate.open").unlink()
    return str(json.loads(result.stdout)["run_id"])


def test_1_a_failing_node_is_shown_first_with_its_error_and_status_exits_1(project: Path, failed_run: str) -> None:
    status = cli(project, "status", TZ="Europe/Berlin")
    assert status.returncode == 1, status.stdout + status.stderr
    assert status.stdout.startswith("✗ unhealthy: 1 failing, ")
    failing = section(status.stdout, "failing (1)")
    assert f"  ✗ {FCT}  in run {failed_run}, " in failing
    assert "Runtime Error in model fct_orders" in failing or "no_such_table_here" in failing
    stale = section(status.stdout, "stale (")
    assert f"⧗ {REPORT}" in stale and "freshness 12 h: never succeeded" in stale
    assert "scheduler  ✗ not running; start it with `orchestrate scheduler`" in status.stdout
    nightly = next(line for line in status.stdout.splitlines() if line.startswith("  nightly"))
    assert "cron 0 5 * * * (Europe/Berlin)" in nightly and " CE" in nightly and "none yet" in nightly

    runs = cli(project, "runs", TZ="Europe/Berlin")
    header, row = runs.stdout.splitlines()
    assert header.split()[:5] == ["RUN", "STATUS", "STARTED", "TOOK", "NODES"]
    assert row.startswith(f"{failed_run}  ✗ failed") and " ✗ " in row and " ⤫" in row and "manual" in row

    show = cli(project, "show", failed_run, TZ="Europe/Berlin")
    assert show.returncode == 0
    text = show.stdout
    assert text.startswith(f"run {failed_run}  ✗ failed\n")
    failed = text.index("✗ failed (1)")
    assert failed < text.index("⤫ upstream failed (") < text.index("✓ success (")
    block = text[failed : text.index("⤫ upstream failed (")]
    assert f"  {FCT}  dbt · 2 tries · " in block, "fct_orders has one retry in its dbt meta"
    assert "no_such_table_here" in block
    assert f"    log: .orchestrate/runs/{failed_run}/logs/{FCT}.2.log" in block
    upstream = section(text, "⤫ upstream failed (")
    assert MART in upstream and REPORT in upstream
    assert f"orchestrate retry {failed_run}" in text

    log = cli(project, "logs", failed_run, FCT)
    assert "no_such_table_here" in log.stdout and f"=== {FCT} try 2: failed after" in log.stdout

    freshness = cli(project, "freshness", TZ="Europe/Berlin")
    header, *rows, summary = freshness.stdout.splitlines()
    table = [cells(header, row) for row in rows]
    successes = [row["LAST SUCCESS"] for row in table]
    never = successes.count("never")
    assert never >= 3 and successes[:never] == ["never"] * never, "never-succeeded nodes come first"
    assert {FCT, MART, REPORT} <= {row["NODE"] for row in table[:never]}
    mart = next(row for row in table if row["NODE"] == MART)
    assert mart["STATE"] == "⧗ stale" and mart["LATEST"] == "⤫ upstream failed"
    assert mart["WHY / RULES"].startswith("schedule nightly fired "), "the nightly schedule fired since"
    seed = next(row for row in table if row["NODE"] == "seed.shop.customers")
    assert seed["STATE"] == "✓ fresh" and seed["RUN"] == failed_run and seed["LAST SUCCESS"].endswith(" CET)")
    stale, unruled = (sum(row["STATE"] == state for row in table) for state in ("⧗ stale", "· no rule"))
    assert summary == f"{len(rows)} nodes, {stale} stale, {unruled} without a freshness SLA or schedule"
    assert unruled and all(row["WHY / RULES"] == "" for row in table if row["STATE"] == "· no rule")


def cells(header: str, row: str) -> dict[str, str]:
    """A plain table row cut at the header's column starts."""
    names = ["NODE", "STATE", "LAST SUCCESS", "RUN", "LATEST", "WHY / RULES"]
    starts = [header.index(name) for name in names] + [None]
    return {name: row[starts[i] : starts[i + 1]].strip() for i, name in enumerate(names)}


@pytest.fixture(scope="module")
def caught_run(project: Path, failed_run: str) -> Iterator[dict[str, object]]:
    """A second run, caught while the gate notebook holds it; followed by `show --watch` and `logs --follow`."""
    running = start(project, "run", "--logical-date", "2024-02-01")
    try:

        def gate_running() -> str | None:
            listed = json.loads(cli(project, "runs", "--json", "--status", "running").stdout)
            if not listed:
                return None
            document = json.loads(cli(project, "show", listed[0]["run_id"], "--json").stdout)
            states = {node["id"]: node["status"] for node in document["nodes"]}
            return document["run_id"] if states.get(GATE) == "running" else None

        run_id = wait_for(gate_running, what="the gate notebook to run")
        watch = start(project, "show", run_id, "--watch")
        follow = start(project, "logs", run_id, GATE, "--follow")
        log = project / ".orchestrate" / "runs" / run_id / "logs" / f"{GATE.replace('/', '__')}.1.log"
        wait_for(lambda: log.is_file() and "waiting for the gate" in log.read_text(), what="the gate's log")
        status = cli(project, "status", TZ="Europe/Berlin")
        show = cli(project, "show", run_id, TZ="Europe/Berlin")
        (project / "notebooks" / "gate.open").touch()
        ran = running.wait(300)
        watched = watch.communicate(timeout=120)
        followed = follow.communicate(timeout=120)
        yield {
            "run_id": run_id,
            "exit": ran,
            "status": status,
            "show": show,
            "watch": (watch.returncode, *watched),
            "follow": (follow.returncode, *followed),
        }
    finally:
        for process in (running,):
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
                process.wait(60)


def test_2_a_running_run_shows_its_progress_and_can_be_followed(project: Path, caught_run: dict) -> None:
    run_id = caught_run["run_id"]
    assert caught_run["exit"] == 0
    status = caught_run["status"]
    assert status.returncode in (0, 1) and status.stdout, f"status failed while a run went on: {status.stderr[-2000:]}"
    running = section(status.stdout, "running now (1)")
    row = running.splitlines()[2]
    # the gate runs, and dbt nodes that do not wait for it may be running beside it
    assert row.startswith(f"  {run_id}") and "/39 done" in row and re.search(r" [1-9]\d* ▶", row) and "so far" in row
    assert "manual" in row

    show = caught_run["show"].stdout
    assert show.startswith(f"run {run_id}  ▶ running\n")
    assert "/39 done)" in show
    assert GATE in section(show, "▶ running (") and "running for " in section(show, "▶ running (")
    assert f"follow it: orchestrate show {run_id} --watch" in show

    code, out, err = caught_run["watch"]
    assert code == 0, err
    assert out.startswith(f"watching run {run_id} (")
    assert f"✓ success          {GATE} (" in out, "a line when the gate notebook ended"
    assert f"\nrun {run_id}  ✓ success\n" in out, "then the whole run"

    code, out, err = caught_run["follow"]
    assert code == 0, err
    assert out.startswith(f"=== {GATE} try 1: running (started ")
    assert out.index("waiting for the gate") < out.index("through the gate")
    assert out.rstrip().splitlines()[-1].startswith(f"=== {GATE} try 1: success after ")


def test_3_a_healthy_pipeline_exits_0_and_two_days_later_it_is_stale(project: Path, caught_run: dict) -> None:
    status = cli(project, "status", TZ="Europe/Berlin")
    assert status.returncode == 0, status.stdout
    assert status.stdout.startswith("✓ healthy: 39 nodes checked, none failing, none stale (")
    assert "failing  none" in status.stdout and "stale  none" in status.stdout and "running now  none" in status.stdout
    document = json.loads(cli(project, "status", "--json").stdout)
    assert document["healthy"] is True and document["failing"] == [] and document["stale"] == []

    later = cli(project, "status", TZ="Europe/Berlin", **TWO_DAYS)
    assert later.returncode == 1
    stale = section(later.stdout, "stale (")
    assert "2 days ago (" in stale and "schedule nightly fired " in stale
    assert stale.splitlines()[-1].startswith("  … and ") and stale.endswith(" more: orchestrate freshness")
    document = json.loads(cli(project, "status", "--json", **TWO_DAYS).stdout)
    reasons = {item["node_id"]: [reason["by"] for reason in item["reasons"]] for item in document["stale"]}
    assert reasons[REPORT] == ["freshness"] and reasons[MART] == ["schedule"] and GATE not in reasons
    freshness = cli(project, "freshness", "daily_report", TZ="Europe/Berlin", **TWO_DAYS)
    [row] = freshness.stdout.splitlines()[1:-1]
    assert row.startswith(REPORT) and "⧗ stale" in row and "freshness 12 h: due 1 day 12 h ago" in row

    runs = cli(project, "runs", "--status", "success", TZ="Europe/Berlin")
    [row] = runs.stdout.splitlines()[1:]
    assert row.startswith(f"{caught_run['run_id']}  ✓ success") and "39 ✓ 0 ✗" in row
    utc = cli(project, "runs", "--utc")
    assert " UTC)" in utc.stdout and "CET" not in utc.stdout and "CEST" not in utc.stdout


def test_4_a_running_scheduler_is_named_in_status_and_its_tick_listed(project: Path, caught_run: dict) -> None:
    with scheduler(project) as process:
        wait_for(
            lambda: json.loads(cli(project, "status", "--json").stdout)["scheduler"]["active"],
            what="the scheduler to hold the lease",
        )
        status = cli(project, "status")
        line = next(line for line in status.stdout.splitlines() if line.startswith("scheduler"))
        assert f"✓ running on {host_name()} (pid {process.pid}) since " in line
    assert "scheduler  ✗ not running" in cli(project, "status").stdout
    with scheduler(project, **TWO_DAYS):  # two days on: a fire time passed while it was down
        wait_for(lambda: "skipped" in cli(project, "ticks").stdout, what="the tick of the missed fire time")
    ticks = cli(project, "ticks", TZ="Europe/Berlin")
    header, row, *_ = ticks.stdout.splitlines()
    assert header.split()[:4] == ["TICK", "SCHEDULE", "FIRE", "TIME"]
    assert "nightly" in row and "- skipped" in row and " 05:00 CE" in row, "fire times in the local zone"


@contextlib.contextmanager
def scheduler(project: Path, **env: str) -> Iterator[subprocess.Popen[bytes]]:
    orchestrate = Path(sys.executable).with_name("orchestrate")
    with (project / "scheduler.log").open("ab") as log:
        process = subprocess.Popen(
            [str(orchestrate), "scheduler"], cwd=project, stdout=log, stderr=log, env={**os.environ, **env}
        )
    try:
        yield process
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(60)
