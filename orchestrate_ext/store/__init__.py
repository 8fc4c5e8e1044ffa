"""State stores: where runs, node states and attempts are kept."""

from __future__ import annotations

from pathlib import Path

from orchestrate_ext.store.base import StateStore
from orchestrate_ext.store.database import SQLiteDatabase
from orchestrate_ext.store.sqlite import SQLiteStore


def open_store(path: Path) -> SQLiteStore:
    """Open (creating and migrating as needed) the SQLite store at ``path``."""
    return SQLiteStore(SQLiteDatabase(path))


__all__ = ["SQLiteDatabase", "SQLiteStore", "StateStore", "open_store"]
