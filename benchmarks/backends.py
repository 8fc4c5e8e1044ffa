"""Where the benchmarks keep their state: a SQLite file, or a schema of a PostgreSQL database.

``--postgres-url`` names a server to use; without it, a throwaway cluster is
started for the benchmark (Debian's ``postgresql`` package, as in the tests).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from orchestrate_ext.model import StateLocation

BACKENDS = ("sqlite", "postgresql")


def add_backend_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--backend", choices=[*BACKENDS, "both"], default="both")
    parser.add_argument("--postgres-url", default=None, help="A PostgreSQL database to use (default: start one).")


def chosen(args: argparse.Namespace) -> list[str]:
    return list(BACKENDS) if args.backend == "both" else [args.backend]


@contextmanager
def postgres_server(args: argparse.Namespace) -> Iterator[str | None]:
    """The PostgreSQL server the chosen backends need: ``--postgres-url``, or a throwaway cluster started here."""
    if "postgresql" not in chosen(args):
        yield None
        return
    if args.postgres_url:
        yield args.postgres_url
        return
    from tests.support import postgres

    folder = Path(tempfile.mkdtemp(prefix="orchestrate-bench-pg-"))
    try:
        yield postgres.start(folder)
    finally:
        postgres.stop(folder)
        shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def location(backend: str, server: str | None) -> Iterator[StateLocation]:
    """A fresh, empty store location on ``backend`` (a new schema on the server for PostgreSQL)."""
    if backend == "sqlite":
        with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as folder:
            yield StateLocation(path=Path(folder) / "state.db")
        return
    import psycopg

    assert server is not None
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(server, autocommit=True) as connection:
        connection.execute(f"CREATE SCHEMA {schema}")
    try:
        yield StateLocation(url=f"{server}?options=-csearch_path%3D{schema}")
    finally:
        with psycopg.connect(server, autocommit=True) as connection:
            connection.execute(f"DROP SCHEMA {schema} CASCADE")
