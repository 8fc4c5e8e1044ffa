"""The manifest is re-parsed exactly when dbt would re-parse: vars, target, env vars, not only files.

Real dbt-core with dbt-duckdb. ``run_parse`` is wrapped (still run) to count the ``dbt parse``
processes: a check that finds the manifest current starts none.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from dbt_adapter import parse
from dbt_adapter.manifest import Manifest
from dbt_adapter.parse import _inputs_changed, ensure_manifest
from dbt_adapter.parse_inputs import PARTIAL_PARSE_FILE, STAMP_FILE, dbt_state, dbt_version, vars_hash
from dbt_adapter.project import DbtConfig, DbtProject
from orchestrate_ext.interfaces import Workspace
from tests.dbt_adapter.test_build_parity import dbt, dbt_outcomes, outcomes, run_json

pytestmark = pytest.mark.slow

PROFILE = """small:
  target: dev
  outputs:
    dev: {{type: duckdb, path: '{db}', threads: 1}}
    other: {{type: duckdb, path: '{db}', threads: 1}}
"""
ENV_PROJECT = """name: small
profile: small
version: '1.0'
models:
  small:
    +tags: ["{{ env_var('SMALL_TAG', 'plain') }}"]
"""
VARS_PROJECT = """name: small
profile: small
version: '1.0'
seeds:
  small:
    extra:
      +enabled: "{{ var('enable_extra', false) }}"
models:
  small:
    extra:
      +enabled: "{{ var('enable_extra', false) }}"
"""


def write(root: Path, files: dict[str, str]) -> Path:
    for relative, text in files.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_text(text)
    return root


@pytest.fixture
def parses(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Each ``dbt parse`` orchestrate-ext starts (the real one still runs)."""
    started: list[Path] = []
    real: Callable[[DbtProject], None] = parse.run_parse

    def counted(project: DbtProject) -> None:
        started.append(project.project_dir)
        real(project)

    monkeypatch.setattr(parse, "run_parse", counted)
    return started


def load(root: Path) -> tuple[DbtProject, Manifest]:
    """The project as orchestrate-ext resolves it now (environment included), and its current manifest."""
    workspace = Workspace(root, root / "orchestrate.yaml", root / ".orchestrate")
    raw = yaml.safe_load((root / "orchestrate.yaml").read_text())["dbt"]
    project = DbtProject.from_config(workspace, DbtConfig.model_validate(raw))
    return project, ensure_manifest(project)


def test_env_vars_and_target_read_at_parse_time_make_it_stale_and_nothing_else_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, parses: list[Path]
) -> None:
    for name in ("SMALL_TAG", "SMALL_REGION", "DBT_TARGET"):
        monkeypatch.delenv(name, raising=False)
    root = write(
        tmp_path / "work",
        {
            "orchestrate.yaml": "dbt:\n  project_dir: .\n",
            "dbt_project.yml": ENV_PROJECT,
            "profiles.yml": PROFILE.format(db=tmp_path / "db.duckdb"),
            "models/events.sql": 'select \'{{ env_var("SMALL_REGION", "eu") }}\' as region',
        },
    )
    project, manifest = load(root)
    assert len(parses) == 1 and manifest.nodes["model.small.events"].tags == ("plain",)
    assert json.loads((root / "target" / STAMP_FILE).read_text())["inputs"]["env_vars"].keys() == {"SMALL_REGION"}
    load(root)
    assert len(parses) == 1  # nothing changed: no dbt process

    monkeypatch.setenv("SMALL_REGION", "us")  # read by a model
    project, _ = load(root)
    assert len(parses) == 2
    load(root)
    assert len(parses) == 2
    monkeypatch.setenv("SMALL_REGION", "us")
    monkeypatch.delenv("SMALL_REGION")  # back to its default
    assert _inputs_changed(project, project.manifest_path) == (
        "the environment variable SMALL_REGION, read by the project's files, changed"
    )

    monkeypatch.setenv("SMALL_TAG", "gold")  # read by dbt_project.yml
    _, manifest = load(root)
    assert len(parses) == 3 and manifest.nodes["model.small.events"].tags == ("gold",)

    monkeypatch.setenv("DBT_TARGET", "other")
    project, _ = load(root)
    assert len(parses) == 4
    load(root)
    assert len(parses) == 4
    monkeypatch.setenv("UNRELATED", "1")  # a variable no file reads
    assert _inputs_changed(project, project.manifest_path) is None


def test_a_manifest_another_dbt_command_wrote_is_judged_by_dbts_own_state_check(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, parses: list[Path]
) -> None:
    monkeypatch.delenv("SMALL_TAG", raising=False)
    monkeypatch.delenv("DBT_TARGET", raising=False)
    root = write(
        tmp_path / "work",
        {
            "orchestrate.yaml": "dbt:\n  project_dir: .\n",
            "dbt_project.yml": ENV_PROJECT,
            "profiles.yml": PROFILE.format(db=tmp_path / "db.duckdb"),
            "models/events.sql": "select 1 as id",
        },
    )
    assert dbt("parse", cwd=root).returncode == 0  # the user's own parse, with the same inputs
    load(root)
    assert parses == []  # adopted: dbt would not parse again
    assert (root / "target" / STAMP_FILE).is_file()
    assert dbt("parse", "--target", "other", cwd=root).returncode == 0
    load(root)
    assert len(parses) == 1  # dbt's vars_hash names another target
    assert dbt("parse", cwd=root).returncode == 0
    (root / "target" / PARTIAL_PARSE_FILE).unlink()  # unknown provenance: stale once
    load(root)
    load(root)
    assert len(parses) == 2

    (root / "orchestrate.yaml").write_text("dbt:\n  project_dir: .\n  target: dev\n")  # the default target
    assert dbt("parse", cwd=root).returncode == 0  # no --target: dbt's hash differs, the parse does not
    load(root)
    assert len(parses) == 2
    (root / "orchestrate.yaml").write_text("dbt:\n  project_dir: .\n  target: other\n")
    load(root)
    assert len(parses) == 3


def test_seeds_enabled_by_an_earlier_dbt_seed_vars_are_not_in_a_run_without_vars(tmp_path: Path) -> None:
    files = {
        "orchestrate.yaml": "dbt:\n  project_dir: .\n",
        "dbt_project.yml": VARS_PROJECT,
        "seeds/base.csv": "id\n1\n2\n",
        "seeds/extra/extra_rows.csv": "id\n3\n",
        "models/from_base.sql": "select * from {{ ref('base') }}",
        "models/extra/from_extra.sql": "select * from {{ ref('extra_rows') }}",
    }
    plain = write(tmp_path / "plain", {**files, "profiles.yml": PROFILE.format(db=tmp_path / "plain.duckdb")})
    ours = write(tmp_path / "ours", {**files, "profiles.yml": PROFILE.format(db=tmp_path / "ours.duckdb")})
    for root in (plain, ours):
        seeded = dbt("seed", "--vars", "{enable_extra: true}", cwd=root)
        assert seeded.returncode == 0, seeded.stdout
        assert "seed.small.extra_rows" in (root / "target" / "manifest.json").read_text()
    built = dbt("build", cwd=plain)
    assert built.returncode == 0, built.stdout
    document = run_json(cwd=ours)
    expected = dbt_outcomes(plain / "target" / "run_results.json")
    assert outcomes(document) == expected == {"seed.small.base": "success", "model.small.from_base": "success"}


def test_a_manifest_a_run_wrote_with_its_logical_date_is_current_but_one_a_user_wrote_with_it_is_not(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, parses: list[Path]
) -> None:
    monkeypatch.delenv("SMALL_TAG", raising=False)
    monkeypatch.delenv("DBT_TARGET", raising=False)
    root = write(
        tmp_path / "work",
        {
            "orchestrate.yaml": "dbt:\n  project_dir: .\n",
            "dbt_project.yml": ENV_PROJECT,
            "profiles.yml": PROFILE.format(db=tmp_path / "db.duckdb"),
            "models/stamped.sql": 'select \'{{ var("logical_date", "none") }}\' as logical_date',
        },
    )
    project, _ = load(root)
    assert len(parses) == 1
    document = run_json("--logical-date", "2024-01-31", cwd=root)
    assert document["status"] == "success", document
    state = dbt_state(root / "target")
    assert state is not None
    assert state[0].vars_hash != vars_hash(project, project.env(), dbt_version(project))  # dbt parsed with the date
    load(root)
    assert len(parses) == 1  # a run's own build: not parsed again
    user = dbt("parse", "--vars", '{logical_date: "2024-01-31"}', cwd=root)
    assert user.returncode == 0, user.stdout
    load(root)
    assert len(parses) == 2


def test_a_manifest_cut_short_by_a_killed_dbt_is_parsed_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, parses: list[Path]
) -> None:
    monkeypatch.delenv("SMALL_TAG", raising=False)
    root = write(
        tmp_path / "work",
        {
            "orchestrate.yaml": "dbt:\n  project_dir: .\n",
            "dbt_project.yml": ENV_PROJECT,
            "profiles.yml": PROFILE.format(db=tmp_path / "db.duckdb"),
            "models/events.sql": "select 1 as id",
        },
    )
    project, _ = load(root)
    assert len(parses) == 1
    text = project.manifest_path.read_text()
    project.manifest_path.write_text(text[: len(text) // 2])  # what a dbt killed mid-write leaves
    _, manifest = load(root)
    assert len(parses) == 2, "parsed again instead of refusing the project"
    assert "model.small.events" in manifest.nodes
