"""Shared fixtures: copies of the example project, parsed once per session."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from orchestrate_ext.model import StateLocation
from orchestrate_ext.store import StateStore, open_store
from tests.support import postgres
from tests.support.shared import prepared_once

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
    """dbt's manifest.json for the example, made by a real `dbt parse` once per test run (shared by xdist workers)."""

    def build(folder: Path) -> None:
        project = copy_example(folder / "shop")
        dbt = Path(sys.executable).with_name("dbt")
        subprocess.run(
            [str(dbt), "parse", "--project-dir", "dbt", "--profiles-dir", "dbt"],
            cwd=project,
            check=True,
            capture_output=True,
            env={**os.environ, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"},
        )

    return prepared_once(tmp_path_factory, "parsed", build) / "shop" / "dbt" / "target" / "manifest.json"


def copy_parsed(parsed_manifest: Path, target: Path) -> None:
    """The parse's manifest.json and dbt's record of its inputs (partial_parse.msgpack) into ``target``.

    Both are newer than the copied sources, and the record tells the parse's vars, target and env
    vars (see dbt_adapter.parse_inputs): no parse is needed.
    """
    target.mkdir(parents=True, exist_ok=True)
    shutil.copy(parsed_manifest, target / "manifest.json")
    shutil.copy(parsed_manifest.with_name("partial_parse.msgpack"), target / "partial_parse.msgpack")


@pytest.fixture
def shop(tmp_path: Path, parsed_manifest: Path) -> Path:
    """A fresh copy of the example project with an up-to-date manifest (no parse needed)."""
    project = copy_example(tmp_path / "shop")
    copy_parsed(parsed_manifest, project / "dbt" / "target")
    return project


def run_cli(*args: str, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Run the installed `orchestrate` command as a user would."""
    orchestrate = Path(sys.executable).with_name("orchestrate")
    return subprocess.run(
        [str(orchestrate), *args], cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False
    )


# -- state stores on both backends

REQUIRE_POSTGRES_ENV = "ORCHESTRATE_REQUIRE_POSTGRES"
"""Set by `.ci/run`: a missing PostgreSQL fails the tests that need it instead of skipping them."""


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A real PostgreSQL server's test database: the one `.ci/run` started, else one started here."""
    url = os.environ.get(postgres.URL_ENV)
    if url:
        yield url
        return
    if postgres.binary("initdb") is None:
        message = "PostgreSQL is not installed (no initdb); `.ci/run` installs Debian's postgresql package"
        if os.environ.get(REQUIRE_POSTGRES_ENV):
            pytest.fail(message)
        pytest.skip(message)
    folder = Path(tempfile.mkdtemp(prefix="orchestrate-pg-"))
    try:
        yield postgres.start(folder)
    finally:
        postgres.stop(folder)
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def postgres_schema_url(postgres_url: str) -> Iterator[str]:
    """The test database's URL with a fresh schema of its own on the search path (dropped afterwards)."""
    import psycopg

    schema = f"test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_url, autocommit=True) as connection:
        connection.execute(f"CREATE SCHEMA {schema}")
    yield f"{postgres_url}?options=-csearch_path%3D{schema}"
    with psycopg.connect(postgres_url, autocommit=True) as connection:
        connection.execute(f"DROP SCHEMA {schema} CASCADE")


BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture(params=BACKENDS)
def state_location(request: pytest.FixtureRequest, tmp_path: Path) -> StateLocation:
    """Where a test's state store lives, once per backend: a SQLite file, or a PostgreSQL schema."""
    if request.param == "sqlite":
        return StateLocation(path=tmp_path / ".orchestrate" / "state.db")
    return StateLocation(url=request.getfixturevalue("postgres_schema_url"))


@pytest.fixture
def store(state_location: StateLocation) -> Iterator[StateStore]:
    """A fresh state store, once per backend."""
    opened = open_store(state_location)
    yield opened
    opened.close()


@pytest.fixture
def open_more(state_location: StateLocation) -> Iterator[Callable[[], StateStore]]:
    """Opens more stores on the test's location (another process's view); all closed afterwards."""
    opened: list[StateStore] = []

    def make() -> StateStore:
        opened.append(open_store(state_location))
        return opened[-1]

    yield make
    for store in opened:
        store.close()


def state_yaml(location: StateLocation, root: Path) -> str:
    """The `state:` section of orchestrate.yaml for ``location`` (a project under ``root``)."""
    if location.url is not None:
        return f"state:\n  url: {location.url}\n"
    assert location.path is not None
    return f"state:\n  path: {os.path.relpath(location.path, root)}\n"
