"""When the manifest is stale: new, edited, deleted and renamed files dbt reads; never files it does not."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from dbt_adapter.manifest import Manifest
from dbt_adapter.parse import check_packages, stale_reason
from dbt_adapter.resolution import DbtSettings, resolve
from orchestrate_ext.errors import ConfigError
from tests.dbt_adapter.manifests import ManifestDoc

PROFILE = "shop:\n  target: dev\n  outputs:\n    dev: {type: duckdb, path: x.duckdb}\n"
EARLIER = time.time() - 3600


def make_project(root: Path) -> tuple[DbtSettings, Manifest, float]:
    """A dbt project whose manifest was written after every file, and the manifest's mtime."""
    project = root / "dbt"
    (project / "models" / "staging").mkdir(parents=True)
    (project / "dbt_project.yml").write_text("name: shop\nprofile: shop\nversion: '1'\n")
    (project / "profiles.yml").write_text(PROFILE)
    (project / "models" / "staging" / "stg.sql").write_text("select 1 as id")
    (project / "models" / "mart.sql").write_text("select * from {{ ref('stg') }}")
    (project / "models" / "schema.yml").write_text("version: 2\n")
    (root / "orchestrate.yaml").write_text("dbt: {project_dir: dbt}\n")
    for path in [*project.rglob("*"), root / "orchestrate.yaml"]:
        os.utime(path, (EARLIER, EARLIER))
    doc = ManifestDoc()
    doc.add("model", "stg", path="models/staging/stg.sql", patch_path="shop://models/schema.yml")
    doc.add("model", "mart", ["model.shop.stg"], path="models/mart.sql")
    (project / "target").mkdir()
    manifest = doc.read(project / "target")
    written = EARLIER + 60
    return resolve(project, environ={}), manifest, written


def test_a_fresh_manifest_is_not_stale(tmp_path: Path) -> None:
    settings, manifest, written = make_project(tmp_path)
    assert stale_reason(settings, manifest, written) is None


def test_files_dbt_does_not_read_never_make_it_stale(tmp_path: Path) -> None:
    settings, manifest, written = make_project(tmp_path)
    (tmp_path / "orchestrate.yaml").write_text("dbt: {project_dir: dbt}\nconcurrency: 2\n")
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "notebooks" / "report.py").write_text("print(1)")
    (settings.project_dir / "x.duckdb.wal").write_text("")
    (settings.project_dir / "logs").mkdir()
    (settings.project_dir / "logs" / "dbt.log").write_text("")
    assert stale_reason(settings, manifest, written) is None


def test_an_edited_or_new_file_makes_it_stale(tmp_path: Path) -> None:
    settings, manifest, written = make_project(tmp_path)
    (settings.project_dir / "models" / "new.sql").write_text("select 2")
    assert stale_reason(settings, manifest, written) == "models/new.sql changed"


def test_a_deleted_file_makes_it_stale(tmp_path: Path) -> None:
    settings, manifest, written = make_project(tmp_path)
    (settings.project_dir / "models" / "mart.sql").unlink()
    assert stale_reason(settings, manifest, written) == "models/mart.sql is gone"


def test_a_renamed_file_makes_it_stale_though_its_mtime_is_old(tmp_path: Path) -> None:
    settings, manifest, written = make_project(tmp_path)
    models = settings.project_dir / "models"
    (models / "staging" / "stg.sql").rename(models / "staging" / "stg_renamed.sql")
    assert (models / "staging" / "stg_renamed.sql").stat().st_mtime < written
    assert stale_reason(settings, manifest, written) == "models/staging/stg.sql is gone"


def test_a_deleted_properties_file_makes_it_stale(tmp_path: Path) -> None:
    settings, manifest, written = make_project(tmp_path)
    (settings.project_dir / "models" / "schema.yml").unlink()
    assert stale_reason(settings, manifest, written) == "models/schema.yml is gone"


def test_dbt_project_yml_makes_it_stale(tmp_path: Path) -> None:
    settings, manifest, written = make_project(tmp_path)
    (settings.project_dir / "dbt_project.yml").write_text("name: shop\nprofile: shop\nversion: '2'\n")
    assert stale_reason(settings, manifest, written) == "dbt_project.yml changed"


def test_a_new_dbtignore_counts_only_when_it_changes_what_dbt_reads(tmp_path: Path) -> None:
    settings, manifest, written = make_project(tmp_path)
    (settings.project_dir / ".dbtignore").write_text(".ipynb_checkpoints/\n")
    assert stale_reason(settings, manifest, written) is None
    (settings.project_dir / ".dbtignore").write_text("models/staging/\n")
    assert stale_reason(settings, manifest, written) == ".dbtignore changed which files dbt reads"


def test_ignored_checkpoints_never_make_it_stale(tmp_path: Path) -> None:
    settings, manifest, written = make_project(tmp_path)
    checkpoints = settings.project_dir / "models" / ".ipynb_checkpoints"
    checkpoints.mkdir()
    (checkpoints / "mart-checkpoint.sql").write_text("select 1")
    assert stale_reason(settings, manifest, written) == "models/.ipynb_checkpoints/mart-checkpoint.sql changed"
    (settings.project_dir / ".dbtignore").write_text(".ipynb_checkpoints/\n")
    os.utime(settings.project_dir / ".dbtignore", (EARLIER, EARLIER))
    assert stale_reason(settings, manifest, written) is None


def test_packages_declared_but_not_installed(tmp_path: Path) -> None:
    settings, _, _ = make_project(tmp_path)
    (settings.project_dir / "packages.yml").write_text(
        "packages:\n  - package: dbt-labs/dbt_utils\n    version: 1.3.0\n"
    )
    settings = resolve(settings.project_dir, environ={})
    with pytest.raises(ConfigError) as caught:
        check_packages(settings)
    message = str(caught.value)
    assert str(settings.project_dir / "packages.yml") in message and "run `dbt deps`" in message
    (settings.packages_install_path / "dbt_utils").mkdir(parents=True)
    check_packages(settings)


def test_installed_packages_changing_makes_it_stale(tmp_path: Path) -> None:
    settings, manifest, written = make_project(tmp_path)
    (settings.project_dir / "dbt_packages" / "dbt_utils").mkdir(parents=True)
    assert stale_reason(settings, manifest, written) == "the installed packages changed"


@pytest.mark.slow  # a real `dbt parse`
def test_a_file_saved_while_dbt_parses_makes_the_manifest_it_wrote_stale(
    shop: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """JupyterLab writes a model's checkpoint while the server's `dbt parse` runs: the next load parses it."""
    import subprocess

    from dbt_adapter.manifest import read_manifest
    from orchestrate_ext.project import Project

    real_run = subprocess.run
    late = shop / "dbt" / "models" / "marts" / "late.sql"

    def parse_then_save(*args: object, **kwargs: object) -> object:
        started = time.time()
        done = real_run(*args, **kwargs)  # type: ignore[call-overload]
        late.write_text("select 1 as id\n", encoding="utf-8")  # saved after dbt read the folder, before it ended
        middle = (started + time.time()) / 2
        os.utime(late, (middle, middle))
        return done

    os.utime(shop / "dbt" / "models" / "marts" / "daily_revenue.sql")  # newer than the manifest: parse
    monkeypatch.setattr(subprocess, "run", parse_then_save)
    assert "model.shop.late" not in Project.load(shop).partial_graph.graph.nodes
    monkeypatch.setattr(subprocess, "run", real_run)
    settings = resolve(shop / "dbt", environ=dict(os.environ))
    path = settings.manifest_path
    assert stale_reason(settings, read_manifest(path), path.stat().st_mtime) is not None
    assert "model.shop.late" in Project.load(shop).partial_graph.graph.nodes
