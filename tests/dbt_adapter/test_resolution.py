"""Resolving a dbt project as dbt does: precedence of flags, DBT_* variables, dbt_project.yml and defaults."""

from __future__ import annotations

from pathlib import Path

import pytest

from dbt_adapter.resolution import resolve
from orchestrate_ext.errors import ConfigError

PROFILE = """
shop:
  target: "{{ env_var('SHOP_TARGET', 'dev') }}"
  outputs:
    dev: {type: duckdb, path: dev.duckdb}
    prod:
      type: duckdb
      path: "{{ env_var('PROD_DB') }}"
"""


def project(folder: Path, extra: str = "", profile: str | None = PROFILE) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "dbt_project.yml").write_text(f"name: shop\nprofile: shop\nversion: '1.0'\n{extra}")
    if profile is not None:
        (folder / "profiles.yml").write_text(profile)
    return folder


def test_dbt_s_defaults(tmp_path: Path) -> None:
    root = project(tmp_path / "p")
    settings = resolve(root, environ={}, home=tmp_path / "home")
    assert settings.profiles_dir is not None and settings.profiles_dir.value == str(root)
    assert settings.profiles_dir.source == "the dbt project folder"
    assert (settings.profile and settings.profile.value, settings.target and settings.target.value) == ("shop", "dev")
    assert settings.manifest_path == root / "target" / "manifest.json"
    assert settings.log_path.value == str(root / "logs")
    assert settings.packages_install_path == root / "dbt_packages"
    assert settings.profile_problem is None


def test_dbt_profiles_dir_beats_the_profiles_yml_in_the_project(tmp_path: Path) -> None:
    root = project(
        tmp_path / "p", profile="shop:\n  target: ci\n  outputs:\n    ci:\n      path: \"{{ env_var('CI_DB') }}\"\n"
    )
    elsewhere = tmp_path / "real"
    elsewhere.mkdir()
    (elsewhere / "profiles.yml").write_text(PROFILE)
    settings = resolve(root, environ={"DBT_PROFILES_DIR": str(elsewhere)}, home=tmp_path / "home")
    assert settings.profiles_dir is not None and settings.profiles_dir.value == str(elsewhere)
    assert settings.profiles_dir.source == "DBT_PROFILES_DIR"
    assert settings.profile_problem is None  # the CI profile, and its CI_DB, are not read
    assert settings.target is not None and settings.target.value == "dev"


def test_orchestrate_yaml_beats_dbt_profiles_dir(tmp_path: Path) -> None:
    root = project(tmp_path / "p")
    configured = tmp_path / "configured"
    configured.mkdir()
    (configured / "profiles.yml").write_text(PROFILE)
    settings = resolve(root, profiles_dir=configured, environ={"DBT_PROFILES_DIR": str(tmp_path)})
    assert settings.profiles_dir is not None and settings.profiles_dir.value == str(configured)


def test_home_dbt_when_the_project_has_no_profiles(tmp_path: Path) -> None:
    root = project(tmp_path / "p", profile=None)
    home = tmp_path / "home"
    (home / ".dbt").mkdir(parents=True)
    (home / ".dbt" / "profiles.yml").write_text(PROFILE)
    settings = resolve(root, environ={}, home=home)
    assert settings.profiles_file == home / ".dbt" / "profiles.yml"
    assert settings.profile_problem is None


def test_target_precedence(tmp_path: Path) -> None:
    root = project(tmp_path / "p")
    env = {"SHOP_TARGET": "prod", "PROD_DB": "/x.duckdb"}
    assert resolve(root, environ=env).target.value == "prod"  # type: ignore[union-attr]
    assert resolve(root, environ={**env, "DBT_TARGET": "dev"}).target.value == "dev"  # type: ignore[union-attr]
    chosen = resolve(root, target="prod", environ={**env, "DBT_TARGET": "dev"}).target
    assert chosen is not None and (chosen.value, chosen.source) == ("prod", "orchestrate.yaml dbt.target")


def test_profile_from_dbt_profile_and_from_jinja(tmp_path: Path) -> None:
    root = project(tmp_path / "p", profile="other:\n  target: t\n  outputs:\n    t: {type: duckdb}\n" + PROFILE)
    assert resolve(root, environ={"DBT_PROFILE": "other"}).profile.value == "other"  # type: ignore[union-attr]
    (root / "dbt_project.yml").write_text(
        "name: shop\nversion: '1'\nprofile: \"{{ env_var('WHICH_PROFILE', 'shop') }}\"\n"
    )
    assert resolve(root, environ={}).profile.value == "shop"  # type: ignore[union-attr]
    assert resolve(root, environ={"WHICH_PROFILE": "other"}).profile.value == "other"  # type: ignore[union-attr]


def test_target_path_precedence(tmp_path: Path) -> None:
    root = project(tmp_path / "p", extra="target-path: \"{{ env_var('WHERE', '../docs') }}\"\n")
    assert resolve(root, environ={}).manifest_path == tmp_path / "docs" / "manifest.json"
    assert resolve(root, environ={"WHERE": "out"}).manifest_path == root / "out" / "manifest.json"
    from_env = resolve(root, environ={"DBT_TARGET_PATH": "elsewhere"})
    assert from_env.manifest_path == root / "elsewhere" / "manifest.json"
    assert from_env.target_path.source == "DBT_TARGET_PATH"
    configured = resolve(root, target_path=tmp_path / "conf", environ={"DBT_TARGET_PATH": "elsewhere"})
    assert configured.manifest_path == tmp_path / "conf" / "manifest.json"


def test_target_path_may_use_the_target(tmp_path: Path) -> None:
    root = project(tmp_path / "p", extra='target-path: "target/{{ target.name }}"\n')
    assert resolve(root, environ={}).manifest_path == root / "target" / "dev" / "manifest.json"


def test_paths_and_packages(tmp_path: Path) -> None:
    root = project(
        tmp_path / "p",
        extra="model-paths: [sql]\nseed-paths: [data]\npackages-install-path: deps\nlog-path: dbt_logs\n",
    )
    (root / "packages.yml").write_text("packages:\n  - package: dbt-labs/dbt_utils\n    version: 1.1.1\n")
    settings = resolve(root, environ={"DBT_LOG_PATH": "/var/log/dbt"})
    assert settings.source_paths[:2] == ("sql", "data")
    assert settings.packages_install_path == root / "deps"
    assert settings.packages_declared == 1 and settings.packages_file == root / "packages.yml"
    assert settings.log_path.value == "/var/log/dbt"
    assert resolve(root, environ={}).log_path.value == str(root / "dbt_logs")


@pytest.mark.parametrize(
    ("environ", "config", "fragments"),
    [
        ({"DBT_PROFILE": "nope"}, {}, ["has no profile 'nope'", "profiles there: shop", "DBT_PROFILES_DIR"]),
        ({"DBT_TARGET": "qa"}, {}, ["profile 'shop' has no target 'qa'", "its targets: dev, prod", "DBT_TARGET"]),
        ({}, {"target": "prod"}, ["outputs.prod.path", "PROD_DB, which is not set", "export it"]),
    ],
)
def test_profile_problems_name_the_file_and_the_fix(
    tmp_path: Path, environ: dict[str, str], config: dict[str, str], fragments: list[str]
) -> None:
    root = project(tmp_path / "p")
    settings = resolve(root, environ=environ, **config)  # type: ignore[arg-type]
    assert settings.profile_problem is not None
    assert str(root / "profiles.yml") in settings.profile_problem
    for fragment in fragments:
        assert fragment in settings.profile_problem
    with pytest.raises(ConfigError):
        settings.require_profile()


def test_a_profile_problem_never_shows_a_value(tmp_path: Path) -> None:
    root = project(
        tmp_path / "p",
        profile="shop:\n  target: dev\n  outputs:\n    dev:\n      password: \"hunter2{{ env_var('PW_SUFFIX') }}\"\n",
    )
    problem = resolve(root, environ={}).profile_problem
    assert problem is not None and "PW_SUFFIX" in problem and "hunter2" not in problem


def test_no_profiles_yml_anywhere(tmp_path: Path) -> None:
    root = project(tmp_path / "p", profile=None)
    problem = resolve(root, environ={}, home=tmp_path / "home").profile_problem
    assert problem is not None and str(tmp_path / "home" / ".dbt" / "profiles.yml") in problem
    assert "DBT_PROFILES_DIR" in problem


def test_a_missing_env_var_in_dbt_project_yml_is_an_error(tmp_path: Path) -> None:
    root = project(tmp_path / "p", extra="models:\n  shop:\n    +schema: \"{{ env_var('SCHEMA_NAME') }}\"\n")
    with pytest.raises(ConfigError, match=r"dbt_project.yml: key 'models' reads the environment variable SCHEMA_NAME"):
        resolve(root, environ={})


def test_secret_env_vars_are_refused_in_dbt_project_yml(tmp_path: Path) -> None:
    root = project(tmp_path / "p", extra="target-path: \"{{ env_var('DBT_ENV_SECRET_X', 't') }}\"\n")
    with pytest.raises(ConfigError, match=r"Secret env vars are allowed only in profiles\.yml"):
        resolve(root, environ={})


def test_hooks_and_vars_are_not_rendered(tmp_path: Path) -> None:
    root = project(
        tmp_path / "p",
        extra=(
            "vars:\n  x: \"{{ env_var('UNSET_A') }}\"\n"
            "on-run-start: [\"{{ env_var('UNSET_B') }}\"]\n"
            "models:\n  shop:\n    +post-hook: \"{{ env_var('UNSET_C') }}\"\n"
        ),
    )
    assert resolve(root, environ={}).profile_problem is None


def test_profiles_may_use_dbt_s_filters(tmp_path: Path) -> None:
    profile = (
        "shop:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n"
        "      threads: \"{{ env_var('THREADS', '4') | as_number }}\"\n"
        "      path: \"{{ env_var('DB_PATH', 'x.duckdb') | as_text }}\"\n"
    )
    root = project(tmp_path / "p", profile=profile)
    assert resolve(root, environ={}).profile_problem is None
    problem = resolve(root, environ={"THREADS": "many"}).profile_problem
    assert problem is not None and "Could not convert value 'many' into type 'number'" in problem


RENDERED = [
    "{{ 4 }}",
    "{{ env_var('N') }}",
    "{{ env_var('N') | as_number }}",
    "{{ env_var('N') | as_native }}",
    "{{ env_var('N') | as_text }}",
    "{{ 'True' | as_bool }}",
    "a{{ 4 }}",
    "{{ [1, 2] }}",
    "{% if env_var('N') == '4' %}yes{% endif %}",
    "{{ env_var('MISSING', 'fallback') }}",
]


@pytest.mark.slow  # imports dbt-core's renderer (seconds)
@pytest.mark.parametrize("template", RENDERED)
def test_values_render_as_dbt_renders_them(template: str) -> None:
    from dbt.clients.jinja import get_rendered

    from dbt_adapter.rendering import Renderer

    environ = {"N": "4"}
    context = {"env_var": lambda name, default=None: environ.get(name, default)}
    expected = get_rendered(template, context, native=True)
    found = Renderer(environ).render(template)
    assert (found, type(found)) == (expected, type(expected))
