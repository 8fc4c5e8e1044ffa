"""The base install leaves PostgreSQL and Dask out; a setting that needs a missing extra says how to get it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from orchestrate_ext.cli import main

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def without(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """Make modules unimportable, as in an environment where their extra is not installed."""

    def hide(*modules: str) -> None:
        for module in modules:
            monkeypatch.setitem(sys.modules, module, None)  # `import module` now raises ImportError

    return hide


def project_with(tmp_path: Path, config: str) -> Path:
    (tmp_path / "orchestrate.yaml").write_text("notebooks:\n  include: ['*.ipynb']\n" + config)
    return tmp_path


def test_a_postgresql_store_without_the_postgres_extra_exits_2_naming_the_install_command(
    tmp_path: Path, without, monkeypatch: pytest.MonkeyPatch
) -> None:
    without("psycopg", "psycopg_pool")
    monkeypatch.setenv("TEAM_DB", "postgresql://analytics:s3cret@127.0.0.1:1/orchestrate")
    project = project_with(tmp_path, "state: {url_env: TEAM_DB}\n")

    result = CliRunner().invoke(main, ["runs", "--project", str(project)])

    assert result.exit_code == 2, result.output
    assert "pip install 'orchestrate-ext[postgres]'" in result.output
    assert "state.url" in result.output and "psycopg" in result.output
    assert "s3cret" not in result.output
    assert "Traceback" not in result.output


def test_a_dask_executor_without_the_dask_extra_exits_2_naming_the_install_command(tmp_path: Path, without) -> None:
    without("distributed")
    project = project_with(tmp_path, "executor: {type: dask, address: 'tcp://127.0.0.1:1'}\n")
    (project / "load.ipynb").write_text(
        json.dumps(
            {
                "cells": [],
                "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
                "nbformat": 4,
                "nbformat_minor": 5,
            }
        )
    )

    result = CliRunner().invoke(main, ["run", "--project", str(project)])

    assert result.exit_code == 2, result.output
    assert "pip install 'orchestrate-ext[dask]'" in result.output
    assert "executor.type: dask" in result.output and str(project / "orchestrate.yaml") in result.output


@pytest.mark.slow
def test_the_base_install_has_no_postgresql_or_dask_dependency(tmp_path: Path) -> None:
    """What `pip install .` would install into a fresh environment, resolved by pip itself (nothing installed)."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    report = tmp_path / "report.json"
    pip = [str(venv / "bin" / "pip"), "install", "-q", "--dry-run", "--ignore-installed"]
    subprocess.run([*pip, "--report", str(report), str(REPO)], check=True, capture_output=True)
    installs = {
        item["metadata"]["name"].lower(): item["metadata"] for item in json.loads(report.read_text())["install"]
    }

    assert "dbt-core" in installs and "papermill" in installs
    assert not installs.keys() & {"psycopg", "psycopg-binary", "psycopg-pool", "distributed", "dask"}
    extras = {
        requirement.split(";")[0]: requirement.split("extra ==")[1].strip(" '\"")
        for requirement in installs["orchestrate-ext"]["requires_dist"]
        if "extra ==" in requirement and "'test'" not in requirement and '"test"' not in requirement
    }
    assert extras["psycopg[binary]>=3.2"] == "postgres" and extras["psycopg-pool>=3.2"] == "postgres"
    assert extras["distributed>=2024.1"] == "dask"
