"""Shared fixtures: copies of the example project, parsed once per session."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "examples" / "shop"
_GENERATED = shutil.ignore_patterns(
    ".orchestrate", "target", "logs", "dbt_packages", "*.duckdb", "*.duckdb.wal", "reports", ".user.yml"
)


def copy_example(destination: Path) -> Path:
    """A clean copy of examples/shop (no generated files) at ``destination``."""
    shutil.copytree(EXAMPLE, destination, ignore=_GENERATED)
    return destination


@pytest.fixture(scope="session")
def parsed_manifest(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """dbt's manifest.json for the example, made by a real `dbt parse` once per session."""
    project = copy_example(tmp_path_factory.mktemp("parsed") / "shop")
    dbt = Path(sys.executable).with_name("dbt")
    subprocess.run(
        [str(dbt), "parse", "--project-dir", "dbt", "--profiles-dir", "dbt"],
        cwd=project,
        check=True,
        capture_output=True,
        env={**os.environ, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"},
    )
    return project / "dbt" / "target" / "manifest.json"


@pytest.fixture
def shop(tmp_path: Path, parsed_manifest: Path) -> Path:
    """A fresh copy of the example project with an up-to-date manifest (no parse needed)."""
    project = copy_example(tmp_path / "shop")
    target = project / "dbt" / "target"
    target.mkdir()
    shutil.copy(parsed_manifest, target / "manifest.json")  # newer than the copied sources
    return project


def run_cli(*args: str, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Run the installed `orchestrate` command as a user would."""
    orchestrate = Path(sys.executable).with_name("orchestrate")
    return subprocess.run(
        [str(orchestrate), *args], cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False
    )
