"""The crash campaign (benchmarks/crash_campaign.py) with a few tries: kill -9 `orchestrate run`, retry, count.

The campaign itself checks the invariants (no finished node executed again, no
lost run, no orphan, store integrity) and exits non-zero when one breaks; here
it runs with a small N on SQLite and, when a server is given, on PostgreSQL.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import postgres

pytestmark = pytest.mark.slow

CAMPAIGN = Path(__file__).resolve().parent.parent / "benchmarks" / "crash_campaign.py"
TRIES = "2"
WINDOW = "25"
"""Seconds from the start within which the kills land (an uninterrupted run takes about that long)."""


def campaign(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(CAMPAIGN), "--tries", TRIES, "--window", WINDOW, "--seed", "18", *args],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_small_crash_campaign_breaks_no_invariant(backend: str) -> None:
    extra: list[str] = []
    if backend == "postgresql":
        url = os.environ.get(postgres.URL_ENV)
        if not url:
            pytest.skip(f"{postgres.URL_ENV} is not set")
        extra = ["--postgres-url", url]
    done = campaign("--backend", backend, *extra)
    assert done.returncode == 0, f"{done.stdout[-6000:]}\n{done.stderr[-3000:]}"
    assert f"OK: {TRIES} tries" in done.stdout, done.stdout
