"""Concurrent processes check, parse and read the manifest one at a time (the retry race's half-written manifest).

The test holds the target folder's parse lock itself, starts a real `orchestrate validate` of the example after
a model was edited (a stale manifest: it must run `dbt parse`), and sees it wait for the lock in the kernel's
lock table, then finish once the lock is given back.
"""

from __future__ import annotations

import fcntl
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dbt_adapter.parse import parse_lock_path

pytestmark = pytest.mark.slow


def waiting_for_flock(pid: int) -> bool:
    """Whether process ``pid`` is blocked on an flock (``->`` lines of /proc/locks are waiters)."""
    for line in Path("/proc/locks").read_text().splitlines():
        fields = line.split()
        # e.g. "2: -> FLOCK  ADVISORY  WRITE 1234 fe:00:2449479 0 EOF"
        if "->" in fields and "FLOCK" in fields and fields[fields.index("FLOCK") + 3] == str(pid):
            return True
    return False


def test_a_parse_waits_for_the_parse_lock(shop: Path) -> None:
    model = shop / "dbt" / "models" / "marts" / "fct_orders.sql"
    model.write_text(model.read_text() + "\n-- edited\n")
    target = shop / "dbt" / "target"
    orchestrate = Path(sys.executable).with_name("orchestrate")
    with parse_lock_path(target).open("a") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        validate = subprocess.Popen(
            [str(orchestrate), "validate"], cwd=shop, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        deadline = time.monotonic() + 240
        while not waiting_for_flock(validate.pid):
            assert validate.poll() is None, f"it did not wait for the parse lock: {validate.communicate()[0][-2000:]}"
            assert time.monotonic() < deadline, "it neither waited for the lock nor ended"
            time.sleep(0.1)
        fcntl.flock(held, fcntl.LOCK_UN)
    output, _ = validate.communicate(timeout=300)
    assert validate.returncode == 0, output[-3000:]
