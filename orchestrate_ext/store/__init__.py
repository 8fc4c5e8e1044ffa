"""The state store: every run, node state, attempt, tick, lease and plugin table (see :mod:`.protocol`)."""

from __future__ import annotations

from orchestrate_ext import extras
from orchestrate_ext.model import StateLocation
from orchestrate_ext.store.protocol import StateStore, StoreInfo, StoreTx
from orchestrate_ext.store.sql import Component


def open_store(location: StateLocation, *, read_only: bool = False) -> StateStore:
    """Open the store at ``location`` (creating and migrating it, unless ``read_only``)."""
    if location.url is not None:
        extras.require("postgres", ("psycopg", "psycopg_pool"), "a PostgreSQL state store (state.url or state.url_env)")
        from orchestrate_ext.store.postgres import PostgresStore  # the driver loads only when used

        return PostgresStore(location.url, read_only=read_only, outage_wait=location.outage_wait)
    from orchestrate_ext.store.sqlite import SQLiteStore

    assert location.path is not None
    return SQLiteStore(location.path, read_only=read_only)


__all__ = ["Component", "StateStore", "StoreInfo", "StoreTx", "open_store"]
