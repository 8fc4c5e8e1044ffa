"""State stores: where runs, node states and attempts are kept."""

from __future__ import annotations

from pathlib import Path

from orchestrate_ext.store.base import StateStore
from orchestrate_ext.store.sqlite import SQLiteStore


def open_store(path: Path) -> StateStore:
    """Open (creating and migrating as needed) the store at ``path``."""
    return SQLiteStore(path)


__all__ = ["SQLiteStore", "StateStore", "open_store"]
