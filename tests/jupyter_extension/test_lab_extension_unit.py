"""The lab extension's own unit tests (vitest: cron preview, form checks, API client errors), run by pytest."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

UI = Path(__file__).resolve().parents[2] / "jupyter_extension" / "ui"


def test_lab_extension_unit_tests_pass() -> None:
    npm = shutil.which("npm")
    assert npm, "npm is needed to build and test the lab extension; install Node.js 20 or later"
    assert (UI / "node_modules").is_dir(), f"run `npm install` in {UI} (`pip install -e .` does it while it builds)"
    result = subprocess.run([npm, "test", "--silent"], cwd=UI, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-3000:]
    assert " passed" in result.stdout
