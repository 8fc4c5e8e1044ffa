"""Moving a history from SQLite to PostgreSQL: ``orchestrate state migrate``.

Every table of every component is copied row by row, in the order the
components list their tables (so a row comes after the rows it references),
from one consistent read of the source. Times are turned from SQLite's text
into PostgreSQL's ``timestamptz``; identity counters (tick and message ids)
are moved past the copied ids. The target must be empty unless ``append`` is
given; then rows whose key is there already are skipped, so a copy that
stopped halfway can simply be run again. The counts returned are the rows
the target gained, never the rows read.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from orchestrate_ext.errors import BadInput
from orchestrate_ext.store.protocol import StateStore
from orchestrate_ext.store.sql import POSTGRESQL, SQLITE, Component, Sql, marks, one, rows

BATCH = 2000
"""Rows written per transaction of the target."""


def copy_history(
    source: StateStore,
    target: StateStore,
    components: Sequence[Component],
    *,
    append: bool = False,
    progress: Callable[[str, int, int], None] = lambda table, done, total: None,
) -> dict[str, tuple[int, int]]:
    """Copy ``components``' tables from ``source`` (SQLite) into ``target`` (PostgreSQL).

    Returns, per table, ``(added, read)``: the rows the target gained and the rows the source holds (with
    ``append``, ``read - added`` rows were there already and were left alone).

    ``progress(table, rows_done, rows_in_table)`` is called as the copy goes.
    Raises :class:`BadInput` when the backends are not SQLite → PostgreSQL, or
    when the target has rows and ``append`` is not set.
    """
    if source.backend != SQLITE or target.backend != POSTGRESQL:
        raise BadInput(
            f"orchestrate state migrate copies a SQLite history into PostgreSQL, not {source.backend} into "
            f"{target.backend}"
        )
    present = source.schema_versions()
    copying = [component for component in components if present.get(component.name)]
    for component in components:
        target.register(component)  # the target gets every table, even of parts the source never used
    for component in copying:
        source.register(component)  # brings an older source schema up to date first
    tables = [table for component in copying for table in component.tables]
    if not append:
        filled = _tables_with_rows(target, tables)
        if filled:
            raise BadInput(
                f"the state store {target.location} already holds rows ({', '.join(filled)}); copy into an empty "
                "database, or pass --append to add the rows it lacks"
            )
    copied: dict[str, tuple[int, int]] = {}
    with source.read() as reading:
        for table in tables:
            copied[table] = _copy_table(reading.sql, target, table, append, progress)
    return copied


def _tables_with_rows(store: StateStore, tables: Sequence[str]) -> list[str]:
    with store.read() as tx:
        return [table for table in tables if one(tx.sql, f"SELECT 1 FROM {table} LIMIT 1") is not None]


def _copy_table(
    source: Sql, target: StateStore, table: str, append: bool, progress: Callable[[str, int, int], None]
) -> tuple[int, int]:
    total = int(one(source, f"SELECT COUNT(*) FROM {table}")[0])
    cursor = source.execute(f"SELECT * FROM {table}")
    columns = [column[0] for column in cursor.description]
    with target.read() as tx:
        times = _time_columns(tx.sql, table)
        identities = _identity_columns(tx.sql, table)
    converting = [index for index, column in enumerate(columns) if column in times]
    statement = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks(columns)})"
    if append:
        statement += " ON CONFLICT DO NOTHING"
    done = added = 0
    progress(table, done, total)
    while batch := cursor.fetchmany(BATCH):
        with target.transaction() as tx:
            rows = [list(row) for row in batch]
            for row in rows:
                for index in converting:
                    row[index] = tx.sql.time(source.read_time(row[index]))
            added += tx.sql.executemany(statement, rows)
        done += len(batch)
        progress(table, done, total)
    if identities:
        with target.transaction() as tx:
            for column in identities:
                tx.sql.execute(
                    f"SELECT setval(pg_get_serial_sequence(?, ?), COALESCE(MAX({column}), 0) + 1, false) FROM {table}",
                    (table, column),
                )
    return added, done


def _time_columns(sql: Sql, table: str) -> set[str]:
    found = rows(
        sql,
        "SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() "
        "AND table_name = ? AND data_type = 'timestamp with time zone'",
        (table,),
    )
    return {row[0] for row in found}


def _identity_columns(sql: Sql, table: str) -> list[str]:
    found = rows(
        sql,
        "SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() "
        "AND table_name = ? AND is_identity = 'YES'",
        (table,),
    )
    return [row[0] for row in found]
