"""A crash campaign: kill -9 `orchestrate run` at random moments, recover as the README says, count real work.

    python benchmarks/crash_campaign.py --tries N --backend sqlite|postgresql [--executor local] [--seed S]
        [--grace 3] [--postgres-url URL] [--keep]

A small project is generated once (dbt models whose post-hook writes one
counter file per real build, notebooks whose cells append to counter files)
and parsed once; each try gets a fresh copy (and, on PostgreSQL, a fresh
schema). A first, uninterrupted run measures how long a run takes; then each
try starts ``orchestrate run``, sends it SIGKILL after a random delay (seeded)
within that duration, and recovers as the README's "Crash recovery" says:
``orchestrate retry RUN_ID``. Then it checks, against the store and the
counters:

* ``finished node executed again``: a node the store recorded as finished at
  the kill, or whose try the recovery adopted from its result (a notebook's
  result file, the killed dbt batch's JSON log), was built or run again;
* ``lost run``: the recovered run did not end ``success`` (or ``retry``
  failed), or work was done for a run the store never recorded;
* ``orphan``: a process carrying the killed engine's ``ORCHESTRATE_OWNER``
  was alive ``--grace`` seconds after the kill (or one of the retry's after it
  ended);
* ``store integrity``: a try or node left ``running``, a node not
  ``success``, a node never executed, or SQLite's ``PRAGMA integrity_check``
  not ``ok``.

Prints one line per try, the counts per category and a one-line summary;
exits 1 when any invariant broke (the seed and the try number reproduce it:
``--seed S --tries T`` replays the same kill delays). Only the local executor
is implemented (``--executor dask`` and killing the scheduler leader are not).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psutil

from orchestrate_ext.execution.liveness import OWNER_ENV
from orchestrate_ext.model import AttemptStatus, NodeStatus, RunStatus
from orchestrate_ext.project import Project
from orchestrate_ext.store.records import RunQuery

DBT_PROJECT = """\
name: campaign
version: "1.0.0"
profile: campaign
model-paths: ["models"]
target-path: target
models:
  campaign:
    +materialized: table
    # One file per real build, written by the build itself (dbt runs with cwd = dbt/).
    +post-hook: >-
      copy (select '{{ this.name }}' as model)
      to '../counts/dbt.{{ this.name }}.{{ invocation_id }}.csv' (header false)
flags:
  send_anonymous_usage_stats: false
"""
PROFILES = """\
campaign:
  target: dev
  outputs:
    dev:
      type: duckdb
      path: "../warehouse.duckdb"
      threads: 2
"""
MODELS = {
    "raw.sql": "select range as id from range(1000)\n",
    "clean.sql": "select id, id * 2 as value from {{ ref('raw') }}\n",
    "summary.sql": "select count(*) as n, sum(value) as total from {{ ref('clean') }}\n",
    "slow.py": (
        "import time\n\n\n"
        "def model(dbt, session):\n"
        "    dbt.ref('clean')\n"
        "    time.sleep(1.5)  # a window in which the engine is killed while dbt builds\n"
        "    return session.sql('select 1 as x')\n"
    ),
    "final.sql": "select s.n, x.x from {{ ref('summary') }} as s cross join {{ ref('slow') }} as x\n",
}
NOTEBOOK_COUNTER = """\
import pathlib, time
counts = pathlib.Path("{counts}")
counts.mkdir(exist_ok=True)
with (counts / "nb.{name}.{phase}").open("a") as counter:
    counter.write(f"{{run_id}}\\n")
"""
NOTEBOOKS = {"ingest": [], "report": ["final"]}
ORCHESTRATE_YAML = """\
dbt:
  project_dir: dbt
  profiles_dir: dbt
  target: dev
notebooks:
  warm_kernels: 0
  include:
    - notebooks/*.ipynb
concurrency: 2
defaults:
  retries: 0
  timeout: 10m
"""
FINISHED = {NodeStatus.SUCCESS, NodeStatus.WARNED, NodeStatus.REUSED}
CATEGORIES = ("finished node executed again", "lost run", "orphan", "store integrity")


def node_ids() -> list[str]:
    dbt = [f"model.campaign.{Path(name).stem}" for name in MODELS]
    return dbt + [f"notebook.notebooks/{name}" for name in NOTEBOOKS]


def notebook(name: str, depends_on: list[str]) -> dict[str, object]:
    counts = "../counts"  # notebooks run with cwd = notebooks/
    sources = [
        'logical_date = ""\nrun_id = ""\n',
        NOTEBOOK_COUNTER.format(counts=counts, name=name, phase="start") + "time.sleep(0.5)\n",
        NOTEBOOK_COUNTER.format(counts=counts, name=name, phase="end"),
    ]
    cells: list[dict[str, object]] = []
    for index, source in enumerate(sources):
        cells.append(
            {
                "cell_type": "code",
                "id": f"c{index}",
                "metadata": {"tags": ["parameters"]} if index == 0 else {},
                "source": source,
                "outputs": [],
                "execution_count": None,
            }
        )
    metadata: dict[str, object] = {
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
        "orchestrate": {"depends_on": depends_on},
    }
    return {"cells": cells, "metadata": metadata, "nbformat": 4, "nbformat_minor": 5}


def generate(folder: Path) -> Path:
    """Write the campaign's project into ``folder`` and parse it once (the copies reuse the manifest)."""
    dbt = folder / "dbt"
    (dbt / "models").mkdir(parents=True)
    (folder / "notebooks").mkdir()
    (dbt / "dbt_project.yml").write_text(DBT_PROJECT)
    (dbt / "profiles.yml").write_text(PROFILES)
    for name, source in MODELS.items():
        (dbt / "models" / name).write_text(source)
    for name, depends_on in NOTEBOOKS.items():
        (folder / "notebooks" / f"{name}.ipynb").write_text(json.dumps(notebook(name, depends_on), indent=1))
    (folder / "orchestrate.yaml").write_text(ORCHESTRATE_YAML)
    executable = Path(sys.executable).with_name("dbt")
    subprocess.run(
        [str(executable), "parse", "--project-dir", "dbt", "--profiles-dir", "dbt"],
        cwd=folder,
        check=True,
        capture_output=True,
        env={**os.environ, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"},
    )
    return folder


def copy_project(template: Path, destination: Path, state_url: str | None) -> Path:
    """A fresh copy of the parsed template (the manifest copied last, so it stays newer than the sources)."""
    shutil.copytree(template, destination, ignore=shutil.ignore_patterns("target", "logs", ".orchestrate"))
    target = destination / "dbt" / "target"
    target.mkdir()
    for name in ("manifest.json", "partial_parse.msgpack"):
        shutil.copy(template / "dbt" / "target" / name, target / name)
    (destination / "counts").mkdir()
    if state_url:
        config = destination / "orchestrate.yaml"
        config.write_text(config.read_text() + f"state:\n  url: {json.dumps(state_url)}\n")
    return destination


# -- counting


def counters(project: Path) -> Counter[str]:
    """Real executions so far: dbt builds per node, notebook starts per node (and ``…#end`` completions)."""
    found: Counter[str] = Counter()
    for path in (project / "counts").iterdir():
        parts = path.name.split(".")
        if parts[0] == "dbt":
            found[f"model.campaign.{parts[1]}"] += 1
        elif parts[0] == "nb":
            lines = len([line for line in path.read_text().splitlines() if line.strip()])
            suffix = "" if parts[2] == "start" else "#end"
            found[f"notebook.notebooks/{parts[1]}{suffix}"] += lines
    return found


def processes_of(pid: int) -> list[psutil.Process]:
    """Live processes whose inherited ORCHESTRATE_OWNER names the engine process ``pid``."""
    found = []
    for process in psutil.process_iter():
        try:
            if f":{pid}:" in process.environ().get(OWNER_ENV, "") and process.status() != psutil.STATUS_ZOMBIE:
                found.append(process)
        except psutil.Error:
            continue
    return found


def orphans_after(pid: int, grace: float) -> list[str]:
    """The processes of ``pid`` still alive ``grace`` seconds from now (killed afterwards, described)."""
    deadline = time.monotonic() + grace
    while processes_of(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    left = []
    for process in processes_of(pid):
        try:
            left.append(f"pid {process.pid} {' '.join(process.cmdline()[:3])}")
            process.kill()
        except psutil.Error:
            continue
    return left


def built_before_kill(project: Path, node: str, killed_at: float | None) -> str:
    """How long before the kill the first build of dbt node ``node`` wrote its counter."""
    name = node.rsplit(".", 1)[-1]
    written = [path.stat().st_mtime for path in (project / "counts").glob(f"dbt.{name}.*.csv")]
    if not written or killed_at is None or not node.startswith("model."):
        return "started before the kill"
    return f"built {killed_at - min(written):.2f} s before the kill"


# -- the store


@dataclass
class Snapshot:
    run_id: str | None = None
    run_status: RunStatus | None = None
    nodes: dict[str, NodeStatus] = field(default_factory=dict)
    running_tries: dict[str, int] = field(default_factory=dict)
    attempts: dict[tuple[str, int], AttemptStatus] = field(default_factory=dict)


def snapshot(project: Path) -> Snapshot:
    store = Project.load(project).open_store()
    try:
        with store.read() as tx:
            runs = tx.find_runs(RunQuery(limit=10))
            if not runs:
                return Snapshot()
            if len(runs) > 1:
                raise AssertionError(f"{len(runs)} runs in the store, one expected")
            run = runs[0]
            states = tx.node_states(run.run_id)
            attempts = tx.attempts(run.run_id)
    finally:
        store.close()
    return Snapshot(
        run.run_id,
        run.status,
        {state.node_id: state.status for state in states},
        {a.node_id: a.try_number for a in attempts if a.status == AttemptStatus.RUNNING},
        {(a.node_id, a.try_number): a.status for a in attempts},
    )


def sqlite_integrity(project: Path) -> str:
    database = project / ".orchestrate" / "state.db"
    if not database.exists():
        return "ok"
    with sqlite3.connect(database) as connection:
        return str(connection.execute("PRAGMA integrity_check").fetchone()[0])


# -- one try


@dataclass
class Outcome:
    number: int
    delay: float
    kind: str = ""
    broken: list[tuple[str, str]] = field(default_factory=list)
    adopted: int = 0
    finished_at_kill: int = 0
    redone_unrecorded: list[str] = field(default_factory=list)
    """Nodes built before the kill that nothing recorded (not adopted), so built again; with how long before."""
    seconds: float = 0.0
    killed_at: float | None = None

    def fail(self, category: str, detail: str) -> None:
        self.broken.append((category, detail))


def orchestrate(*args: str, cwd: Path, log: Path) -> subprocess.Popen[bytes]:
    executable = Path(sys.executable).with_name("orchestrate")
    with log.open("ab") as output:
        return subprocess.Popen(
            [str(executable), *args], cwd=cwd, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
        )


def one_try(number: int, project: Path, delay: float, grace: float, backend: str) -> Outcome:
    outcome = Outcome(number, delay)
    began = time.monotonic()
    log = project / "campaign.log"
    engine = orchestrate("run", cwd=project, log=log)
    try:
        engine.wait(timeout=delay)
        outcome.kind = "ended before the kill"
    except subprocess.TimeoutExpired:
        engine.send_signal(signal.SIGKILL)
        outcome.killed_at = time.time()
        engine.wait()
        outcome.kind = "killed"
    for orphan in orphans_after(engine.pid, grace):
        outcome.fail("orphan", f"{grace:g} s after the kill: {orphan}")
    before, at_kill = counters(project), snapshot(project)
    if at_kill.run_id is None:
        outcome.kind = "killed before the run was recorded"
        if +before:
            outcome.fail("lost run", f"work done for a run the store does not know: {dict(before)}")
        outcome.seconds = time.monotonic() - began
        return outcome
    if at_kill.run_status != RunStatus.SUCCESS:
        retry = orchestrate("retry", at_kill.run_id, "--json", cwd=project, log=log)
        code = retry.wait(timeout=900)
        if code != 0:
            outcome.fail("lost run", f"`orchestrate retry {at_kill.run_id}` exited {code} (see {log})")
        for orphan in orphans_after(retry.pid, grace):
            outcome.fail("orphan", f"{grace:g} s after `retry` ended: {orphan}")
        outcome.kind = "killed and retried" if outcome.kind == "killed" else outcome.kind
    after, final = counters(project), snapshot(project)
    check(outcome, at_kill, final, before, after, project)
    if backend == "sqlite" and (integrity := sqlite_integrity(project)) != "ok":
        outcome.fail("store integrity", f"PRAGMA integrity_check: {integrity}")
    outcome.seconds = time.monotonic() - began
    return outcome


def check(
    outcome: Outcome, at_kill: Snapshot, final: Snapshot, before: Counter[str], after: Counter[str], project: Path
) -> None:
    finished = {node for node, status in at_kill.nodes.items() if status in FINISHED}
    adopted = {
        node
        for node, number in at_kill.running_tries.items()
        if final.attempts.get((node, number)) == AttemptStatus.SUCCESS
    }
    outcome.finished_at_kill, outcome.adopted = len(finished), len(adopted)
    for node in sorted(finished | adopted):
        if after[node] != before[node]:
            how = "adopted from its result" if node in adopted else f"{at_kill.nodes[node]} in the store"
            outcome.fail(
                "finished node executed again",
                f"{node} ({how} at the kill): executed {after[node] - before[node]} more time(s)",
            )
    for node in node_ids():
        if node not in finished | adopted and before[node] and after[node] > before[node]:
            # Built, but killed before anything recorded it (dbt had not printed its result, or the engine
            # had not copied it to the batch's log yet): running it again is what recovery can do.
            outcome.redone_unrecorded.append(f"{node} ({built_before_kill(project, node, outcome.killed_at)})")
    if final.run_status != RunStatus.SUCCESS:
        outcome.fail("lost run", f"run {final.run_id} ended {final.run_status}")
    for node in node_ids():
        status = final.nodes.get(node)
        if status not in FINISHED:
            outcome.fail("store integrity", f"{node} ended {status}")
        if after[node] < 1 or (node.startswith("notebook.") and after[f"{node}#end"] < 1):
            outcome.fail("store integrity", f"{node} is {status} but never ran to its end")
    for (node, number), ended in final.attempts.items():
        if ended == AttemptStatus.RUNNING:
            outcome.fail("store integrity", f"{node} try {number} left running")


# -- the campaign


@contextmanager
def state_urls(backend: str, server: str | None, folder: Path) -> Iterator[Iterator[str | None]]:
    """A fresh store location per try: None (SQLite in the project) or a new PostgreSQL schema."""
    if backend == "sqlite":
        yield iter(lambda: None, 0)
        return
    import psycopg

    from tests.support import postgres

    started = None
    if server is None:
        started = folder
        postgres.stop(started)
        shutil.rmtree(started, ignore_errors=True)
        server = postgres.start(started)
    schemas: list[str] = []

    def fresh() -> Iterator[str]:
        while True:
            schema = f"campaign_{uuid.uuid4().hex[:10]}"
            with psycopg.connect(server, autocommit=True) as connection:
                connection.execute(f"CREATE SCHEMA {schema}")
            schemas.append(schema)
            yield f"{server}?options=-csearch_path%3D{schema}"

    try:
        yield fresh()
    finally:
        try:
            with psycopg.connect(server, autocommit=True) as connection:
                for schema in schemas:
                    connection.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        finally:
            if started is not None:
                postgres.stop(started)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tries", type=int, default=10)
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--executor", choices=["local"], default="local")
    parser.add_argument("--seed", type=int, default=None, help="Seeds the kill delays (default: random, printed).")
    parser.add_argument("--grace", type=float, default=3.0, help="Seconds node processes may outlive their engine.")
    parser.add_argument("--postgres-url", default=os.environ.get("ORCHESTRATE_TEST_POSTGRES_URL"))
    parser.add_argument("--pg-dir", type=Path, default=Path("/tmp/pg-campaign"), help="Where to start PostgreSQL.")
    parser.add_argument("--keep", action="store_true", help="Keep the tries' folders (printed).")
    parser.add_argument(
        "--window",
        type=float,
        default=None,
        help="Kill within this many seconds (default: an uninterrupted run's time).",
    )
    args = parser.parse_args(argv)
    seed = args.seed if args.seed is not None else random.randrange(2**31)
    rng = random.Random(seed)
    work = Path(tempfile.mkdtemp(prefix="crash-campaign-"))
    print(f"crash campaign: {args.tries} tries, {args.backend}, {args.executor} executor, seed {seed}, in {work}")
    try:
        template = generate(work / "template")
        with state_urls(args.backend, args.postgres_url, args.pg_dir) as urls:
            duration = args.window if args.window is not None else calibrate(template, work, next(urls))
            if duration is None:
                return 2
            print(f"kills land uniformly within {duration:.1f} s of the start")
            outcomes = []
            for number in range(1, args.tries + 1):
                delay = rng.uniform(0.0, duration)
                project = copy_project(template, work / f"try-{number:04d}", next(urls))
                outcome = one_try(number, project, delay, args.grace, args.backend)
                outcomes.append(outcome)
                verdict = "ok" if not outcome.broken else "BROKEN: " + "; ".join(f"{c}: {d}" for c, d in outcome.broken)
                print(
                    f"try {number:4d}  kill at {delay:5.2f} s  {outcome.kind:<34}  finished {outcome.finished_at_kill}"
                    f"  adopted {outcome.adopted}  redone-unrecorded {len(outcome.redone_unrecorded)}"
                    f"  {outcome.seconds:5.1f} s  {verdict}",
                    flush=True,
                )
                for redone in outcome.redone_unrecorded:
                    print(f"          built again, nothing had recorded it: {redone}")
                if not outcome.broken and not args.keep:
                    shutil.rmtree(project, ignore_errors=True)
        return report(outcomes, args, seed)
    finally:
        if not args.keep:
            shutil.rmtree(work / "template", ignore_errors=True)
            shutil.rmtree(work / "calibration", ignore_errors=True)
            if not any(work.glob("try-*")):
                shutil.rmtree(work, ignore_errors=True)


def calibrate(template: Path, work: Path, state_url: str | None) -> float | None:
    """How long an uninterrupted run takes; None (and why, printed) when it fails or miscounts."""
    calibration = copy_project(template, work / "calibration", state_url)
    began = time.monotonic()
    run = orchestrate("run", cwd=calibration, log=calibration / "campaign.log")
    if run.wait(timeout=900) != 0:
        print(f"the uninterrupted run failed: see {calibration / 'campaign.log'}")
        return None
    duration = time.monotonic() - began
    baseline = counters(calibration)
    if any(baseline[node] != 1 for node in node_ids()):
        print(f"the uninterrupted run did not count one execution per node: {dict(baseline)}")
        return None
    print(f"an uninterrupted run takes {duration:.1f} s")
    return duration


def report(outcomes: list[Outcome], args: argparse.Namespace, seed: int) -> int:
    kinds = Counter(outcome.kind for outcome in outcomes)
    broken = Counter(category for outcome in outcomes for category, _ in outcome.broken)
    print("kills: " + ", ".join(f"{count} {kind}" for kind, count in sorted(kinds.items())))
    print(
        f"recovery: {sum(o.finished_at_kill for o in outcomes)} nodes finished at the kill, "
        f"{sum(o.adopted for o in outcomes)} tries adopted from their results, "
        f"{sum(len(o.redone_unrecorded) for o in outcomes)} builds redone that nothing had recorded"
    )
    for category in CATEGORIES:
        print(f"{category}: {broken[category]}")
    failed = [outcome.number for outcome in outcomes if outcome.broken]
    command = f"--tries {len(outcomes)} --backend {args.backend} --executor {args.executor} --seed {seed}"
    if failed:
        print(f"FAILED: {len(failed)} of {len(outcomes)} tries broke an invariant (tries {failed}; {command})")
        return 1
    print(f"OK: {len(outcomes)} tries, 0 finished nodes executed again, 0 lost runs, 0 orphans ({command})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
