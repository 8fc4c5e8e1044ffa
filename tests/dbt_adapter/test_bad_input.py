"""A dbt project that dbt itself would refuse: exit 2, one message naming the file and the fix, no run stored."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import run_cli

pytestmark = pytest.mark.slow  # real dbt loads the broken profiles and projects

BROKEN_PROFILES = {
    "missing profile": (
        "other:\n  target: dev\n  outputs:\n    dev: {type: duckdb, path: x.duckdb}\n",
        ["has no profile 'shop'", "profiles there: other", "DBT_PROFILES_DIR"],
    ),
    "unknown target": (
        "shop:\n  target: dev\n  outputs:\n    dev: {type: duckdb, path: x.duckdb}\n",
        ["profile 'shop' has no target 'qa' (target from orchestrate.yaml dbt.target)", "its targets: dev"],
    ),
    "missing env var": (
        "shop:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n      path: \"{{ env_var('NO_SUCH_DB') }}\"\n",
        ["key 'outputs.dev.path'", "NO_SUCH_DB, which is not set", "export it"],
    ),
}


def assert_refused(shop: Path, command: str, *fragments: str) -> None:
    result = run_cli(command, cwd=shop)
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert result.stderr.count("error:") == 1
    for fragment in fragments:
        assert fragment in result.stderr
    assert not (shop / ".orchestrate" / "state.db").exists()  # nothing was written


@pytest.mark.parametrize("case", sorted(BROKEN_PROFILES))
@pytest.mark.parametrize("command", ["run", "validate"])
def test_a_profile_dbt_cannot_load(shop: Path, case: str, command: str) -> None:
    text, fragments = BROKEN_PROFILES[case]
    (shop / "dbt" / "profiles.yml").write_text(text)
    config = shop / "orchestrate.yaml"
    config.write_text(config.read_text().replace("target: dev", "target: qa" if case == "unknown target" else ""))
    assert_refused(shop, command, str(shop / "dbt" / "profiles.yml"), *fragments)


def test_the_graph_shows_without_a_loadable_profile(shop: Path) -> None:
    (shop / "dbt" / "profiles.yml").write_text(BROKEN_PROFILES["missing env var"][0])
    result = run_cli("graph", cwd=shop)
    assert result.returncode == 0, result.stderr


def test_packages_declared_but_not_installed(shop: Path) -> None:
    (shop / "dbt" / "packages.yml").write_text("packages:\n  - package: dbt-labs/dbt_utils\n    version: 1.3.0\n")
    for command in ("run", "graph"):
        assert_refused(shop, command, str(shop / "dbt" / "packages.yml"), "0 are installed", "run `dbt deps`")
