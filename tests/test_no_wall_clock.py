"""No test decides what to assert, or which cron to use, from the wall clock.

A test that reads the real time (``datetime.now()``, ``date.today()``, ``time.time()``,
``SystemClock().now()``) passes or fails by the hour it runs at: the CLI tests once picked a
cron "3 h before now" and failed every night from 00:00 to 03:00 Berlin time. Tests pass a fixed
moment instead (``orchestrate_ext.testing.FakeClock``, or ``ORCHESTRATE_CLOCK_FILE`` for a CLI
or a process). The few reads listed in :data:`ALLOWED` are where the code under test reads the
real clock too (a real Jupyter server, a real scheduler process, file times) and the test only
works relative to it, or measures elapsed time; each says why. A new read fails this test: use
a fixed moment, or add it here with its reason.
"""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parent

WALL_CLOCK_CALLS = {
    ("datetime", "now"),
    ("datetime", "utcnow"),
    ("datetime", "today"),
    ("date", "today"),
    ("time", "time"),
    ("time", "localtime"),
    ("time", "gmtime"),
    ("SystemClock()", "now"),
}

ALLOWED: dict[str, tuple[int, str]] = {
    "jupyter_extension/seed.py": (2, "seeds history relative to the real clock the Jupyter server under test reads"),
    "jupyter_extension/server_api/test_views.py": (1, "a schedule relative to the Jupyter server's real clock"),
    "jupyter_extension/lab_e2e/test_views.py": (1, "ticks relative to the Lab server's real clock"),
    "orchestrate_ext/scheduling/test_real_process.py": (2, "a real scheduler process, shifted relative to now"),
    "orchestrate_ext/scheduling/test_project_and_cli.py": (3, "a lease and runs the real CLI compares to its clock"),
    "orchestrate_ext/test_run_queue_end_to_end.py": (3, "a run of a live scheduler, beating on the real CLI's clock"),
    "orchestrate_ext/test_resources.py": (1, "a claim by a dead process; liveness, not the time, is tested"),
    "dbt_adapter/test_dbt_runner.py": (1, "measures how long a timed-out dbt took"),
    "dbt_adapter/test_staleness.py": (3, "file modification times, which the file system stamps"),
    "jupyter_extension/lab_e2e/test_problems.py": (1, "a model stamped newer than its manifest (file times)"),
    "orchestrate_ext/test_timefmt.py": (2, "the system zone's fallback offset, as the code reads it now"),
}


def wall_clock_reads(source: str) -> int:
    """How many calls in ``source`` read the real time."""
    count = 0
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            owner = node.func.value
            if isinstance(owner, ast.Name):
                name = owner.id
            elif isinstance(owner, ast.Attribute):
                name = owner.attr
            elif isinstance(owner, ast.Call) and isinstance(owner.func, ast.Name):
                name = f"{owner.func.id}()"
            else:
                continue
            count += (name, node.func.attr) in WALL_CLOCK_CALLS
    return count


def test_wall_clock_reads_are_found() -> None:
    assert wall_clock_reads("datetime.now(UTC); dt.datetime.now(); date.today(); time.time()") == 4
    assert wall_clock_reads("SystemClock().now(); clock.now(); datetime(2024, 1, 1).now") == 1


def test_no_test_reads_the_wall_clock_unless_listed() -> None:
    found: dict[str, int] = {}
    for path in sorted(TESTS.rglob("*.py")):
        if "fixtures" in path.relative_to(TESTS).parts:
            continue
        reads = wall_clock_reads(path.read_text(encoding="utf-8"))
        if reads:
            found[path.relative_to(TESTS).as_posix()] = reads
    unexpected = {name: reads for name, reads in found.items() if reads > ALLOWED.get(name, (0, ""))[0]}
    assert not unexpected, (
        f"these tests read the wall clock: {unexpected}; give them a fixed moment (FakeClock, "
        "ORCHESTRATE_CLOCK_FILE) or, if the code under test reads the real clock, list them in ALLOWED with why"
    )
    stale = {name for name, (reads, _) in ALLOWED.items() if found.get(name, 0) < reads}
    assert not stale, f"ALLOWED lists more reads than {sorted(stale)} make: lower or remove them"
