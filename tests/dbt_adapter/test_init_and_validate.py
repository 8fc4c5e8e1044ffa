"""`orchestrate init` writes only what dbt would not find itself; `validate` says what it resolved."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import run_cli

pytestmark = pytest.mark.slow  # `orchestrate init`/`validate` processes with real dbt

PROFILE = "shop:\n  target: dev\n  outputs:\n    dev: {type: duckdb, path: shop.duckdb}\n"


def init(folder: Path, **env: str) -> subprocess.CompletedProcess[str]:
    orchestrate = Path(sys.executable).with_name("orchestrate")
    environ = {key: value for key, value in os.environ.items() if not key.startswith("DBT_")} | env
    return subprocess.run(
        [str(orchestrate), "init"], cwd=folder, env=environ, capture_output=True, text=True, timeout=120, check=False
    )


def dbt_project(folder: Path, profile: bool = True) -> Path:
    project = folder / "warehouse"
    (project / "models").mkdir(parents=True)
    (project / "dbt_project.yml").write_text("name: shop\nprofile: shop\nversion: '1.0'\n")
    if profile:
        (project / "profiles.yml").write_text(PROFILE)
    return project


def test_init_names_the_project_and_says_what_dbt_will_use(tmp_path: Path) -> None:
    project = dbt_project(tmp_path)
    result = init(tmp_path)
    assert result.returncode == 0, result.stderr
    config = (tmp_path / "orchestrate.yaml").read_text()
    settings = [
        line.strip() for line in config.splitlines() if line.startswith("  ") and not line.strip().startswith("#")
    ]
    assert settings[:1] == ["project_dir: warehouse"]
    assert not any(line.startswith(("profiles_dir:", "profile:", "target:")) for line in settings)
    assert "dbt profile 'shop' (from dbt_project.yml), target 'dev' (from the default target of profile 'shop')" in (
        result.stdout
    )
    assert f"in {project / 'profiles.yml'} (from the dbt project folder)" in result.stdout
    assert (project / ".dbtignore").read_text() == ".ipynb_checkpoints/\n"


def test_init_adds_the_checkpoints_to_an_existing_dbtignore_once(tmp_path: Path) -> None:
    project = dbt_project(tmp_path)
    (project / ".dbtignore").write_text("scratch/")
    assert init(tmp_path).returncode == 0
    assert (project / ".dbtignore").read_text() == "scratch/\n.ipynb_checkpoints/\n"
    (tmp_path / "orchestrate.yaml").unlink()
    result = init(tmp_path)
    assert "already ignores .ipynb_checkpoints/" in result.stdout
    assert (project / ".dbtignore").read_text() == "scratch/\n.ipynb_checkpoints/\n"


def test_init_warns_when_dbt_cannot_load_a_profile_yet(tmp_path: Path) -> None:
    dbt_project(tmp_path, profile=False)
    result = init(tmp_path, HOME=str(tmp_path / "home"))
    assert result.returncode == 0
    assert "warning: dbt cannot load its profile here yet" in result.stdout
    assert str(tmp_path / "home" / ".dbt" / "profiles.yml") in result.stdout


def test_validate_prints_the_profile_target_and_manifest(shop: Path) -> None:
    result = run_cli("validate", cwd=shop)
    assert result.returncode == 0, result.stderr
    assert "dbt profile 'shop' (from dbt_project.yml), target 'dev' (from orchestrate.yaml dbt.target)" in result.stdout
    assert f"dbt manifest: {shop / 'dbt' / 'target' / 'manifest.json'}" in result.stdout


@pytest.mark.slow
def test_validate_warns_of_checkpoints_read_as_models_until_init_ignores_them(shop: Path) -> None:
    (shop / "dbt" / ".dbtignore").unlink()  # the example ships one; a project as users have them has none
    checkpoints = shop / "dbt" / "models" / "marts" / ".ipynb_checkpoints"
    checkpoints.mkdir()
    (checkpoints / "daily_revenue-checkpoint.sql").write_text("select 1 as id")
    result = run_cli("validate", cwd=shop)
    assert result.returncode == 0, result.stderr
    assert "dbt reads dbt/models/marts/.ipynb_checkpoints/daily_revenue-checkpoint.sql" in result.stderr
    assert "add `.ipynb_checkpoints/` to .dbtignore" in result.stderr
    (shop / "orchestrate.yaml").unlink()
    assert run_cli("init", cwd=shop).returncode == 0
    result = run_cli("validate", cwd=shop)  # .dbtignore changed what dbt reads: parsed again
    assert result.returncode == 0, result.stderr
    assert "checkpoint" not in result.stderr


def test_init_with_notebooks_in_the_folder_itself_writes_valid_yaml(tmp_path: Path) -> None:
    """`- *.ipynb` unquoted is a YAML alias: the file `init` wrote could not be read."""
    from orchestrate_ext.config import find_config, load_config
    from orchestrate_ext.project import load_plugins
    from orchestrate_ext.scaffold import write_initial_config

    (tmp_path / "report.ipynb").write_text("{}", encoding="utf-8")
    (tmp_path / "it's here").mkdir()
    (tmp_path / "it's here" / "a.ipynb").write_text("{}", encoding="utf-8")
    path, _ = write_initial_config(tmp_path, plugins=load_plugins().values())
    config = load_config(find_config(tmp_path), load_plugins())
    assert list(config.sections["notebooks"].include) == ["*.ipynb", "it's here/*.ipynb"]
    assert path == tmp_path / "orchestrate.yaml"
