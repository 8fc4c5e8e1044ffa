"""Lint, format, types and the import direction, checked with every test run."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

BIN = Path(sys.executable).parent


@pytest.mark.parametrize(
    "command",
    [
        ["ruff", "check", "."],
        ["ruff", "format", "--check", "."],
        pytest.param(["mypy"], marks=pytest.mark.slow),
        ["lint-imports"],  # contracts in pyproject.toml: the core imports no plugin, plugins not each other
    ],
    ids=["ruff", "ruff-format", "mypy", "import-contracts"],
)
def test_code_quality(command: list[str]) -> None:
    result = subprocess.run([str(BIN / command[0]), *command[1:]], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
