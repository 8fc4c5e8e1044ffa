"""The state store: one unit-of-work protocol for every run, tick, lease, claim and plugin table.

Everything orchestrate-ext persists goes through a :class:`StateStore`::

    with store.transaction() as tx:     # one atomic unit of work; rolled back if the block raises
        epoch = tx.claim_run(run_id, owner, now)
        tx.start_attempt(attempt, state, epoch, host=host, pid=pid)

    with store.read() as tx:            # one snapshot, read-only
        runs = tx.find_runs(RunQuery(statuses=frozenset({RunStatus.FAILED}), limit=20))

:class:`StoreTx` holds every operation (runs and history queries, claims and
fenced writes, ticks and schedule state, the scheduler lease, resource holds);
its statements are written once (:mod:`orchestrate_ext.store.sql`) and run on
either backend: SQLite (:mod:`~orchestrate_ext.store.sqlite`, the default: one
file, nothing to run) or PostgreSQL (:mod:`~orchestrate_ext.store.postgres`,
for a team). Only those two modules import a database driver.

Contract (``tests/orchestrate_ext/store/`` runs it against both):

* a unit of work is atomic, and units from several threads and processes may
  run at once; the fenced writes (claims, the lease, resources, deletes) hold
  under PostgreSQL's READ COMMITTED as well as under SQLite's single writer;
* a read (:meth:`StateStore.read`) sees one snapshot for all its statements
  (PostgreSQL ``REPEATABLE READ READ ONLY``; SQLite's read transaction);
* datetimes are timezone-aware UTC on the way in and out;
* a plugin's tables form a :class:`~orchestrate_ext.store.sql.Component`,
  registered (and migrated) with :meth:`StateStore.register` and reached with
  ``tx.component_sql(component)`` inside a unit of work;
* a store opened read-only never writes, never migrates and never creates
  anything; a store whose schema is newer than this code is refused.

Outages (PostgreSQL): a unit of work that loses its connection raises
:class:`~orchestrate_ext.errors.StoreUnreachable`. Code that must ride out an
outage (a run in flight) goes through :meth:`StateStore.retrying` and
:meth:`StateStore.reading`: they wait until the server answers again (up to
:attr:`StateStore.outage_wait` seconds, one log line when the wait starts and one
when it ends) and run the unit of work again, whole. A unit of work whose
``COMMIT`` was on its way when the connection went may have been applied: it is
run again only when running it twice is harmless (the fenced writes that set a
value), or after its ``applied`` check found it not applied.
"""

from __future__ import annotations

import logging
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import TypeVar

from orchestrate_ext.errors import StoreError, StoreUnreachable
from orchestrate_ext.store.files import StateFiles
from orchestrate_ext.store.queue_sql import QueueStatements
from orchestrate_ext.store.resources_sql import ResourceStatements
from orchestrate_ext.store.schema import CORE_COMPONENTS
from orchestrate_ext.store.sql import Component, Sql, migration_statements, one

_CREATION_SECONDS = 2.0
"""How long a read-only open waits for a store another process is creating (its tables not there yet)."""

T = TypeVar("T")
log = logging.getLogger(__name__)

SCHEMA_TABLE = "CREATE TABLE IF NOT EXISTS schema_versions (component TEXT PRIMARY KEY, version INTEGER NOT NULL)"


class StoreTx(QueueStatements, ResourceStatements):
    """One unit of work on the store: every operation, on one open transaction."""

    def __init__(self, sql: Sql, components: Mapping[str, Component], files: StateFiles | None = None) -> None:
        self.sql = sql
        self._components = components
        self.files = files
        """Resolves the file paths attempts record (relative to the state folder); None: as recorded."""

    def component_sql(self, component: Component) -> Sql:
        """The transaction's statements, for the tables of a registered plugin component."""
        if self._components.get(component.name) is not component:
            raise StoreError(f"the store component '{component.name}' is not registered; call store.register() first")
        return self.sql


@dataclass(frozen=True)
class StoreInfo:
    """What ``orchestrate state info`` shows."""

    backend: str
    location: str
    read_only: bool
    versions: Mapping[str, int]
    rows: Mapping[str, int]


class StateStore(ABC):
    """A state store on one backend (see the module docstring).

    Attributes:
        backend: ``sqlite`` or ``postgresql``.
        location: where it is, fit to show: a file path, or a URL without its password.
        read_only: opened only to read (read-only commands).
    """

    backend: str
    location: str
    read_only: bool
    _scratch = False
    """A read-only store that does not exist yet: an empty schema in memory, migrated there."""
    files: StateFiles | None = None
    """The project's state folder, which attempts' log and output paths are read against (set by the project)."""
    outage_wait: float = 0.0
    """How long :meth:`retrying` and :meth:`reading` wait for an unreachable store (``state.outage_wait``)."""

    def __init__(self) -> None:
        self._components: dict[str, Component] = {}
        self._outage_lock = threading.Lock()
        self._outage_deadline: float | None = None
        """When the outage going on (None: none) stops being waited for (``time.monotonic()``)."""

    # -- what the backends provide

    @abstractmethod
    def _session(self, *, write: bool) -> AbstractContextManager[Sql]:
        """One transaction (a write one, or a read-only one) as a :class:`Sql` session."""

    @abstractmethod
    def close(self) -> None: ...

    # -- the protocol

    @contextmanager
    def transaction(self) -> Iterator[StoreTx]:
        """One atomic unit of work that may write; rolled back if the block raises."""
        if self.read_only:
            raise StoreError(f"the state store {self.location} was opened read-only; this command cannot write")
        with self._session(write=True) as sql:
            yield StoreTx(sql, self._components, self.files)

    @contextmanager
    def read(self) -> Iterator[StoreTx]:
        """A read-only unit of work whose statements all see one snapshot (writes through it fail)."""
        with self._session(write=False) as sql:
            yield StoreTx(sql, self._components, self.files)

    def retrying(self, work: Callable[[StoreTx], T], *, applied: Callable[[StoreTx], T | None] | None = None) -> T:
        """``work`` in one unit of work that may write, run again whole after the store was unreachable.

        When the connection is lost while the unit of work's ``COMMIT`` was on its way, it may have been
        applied: ``applied`` (a read) then says so by returning what ``work`` returned (None: not applied,
        run it again); without ``applied``, ``work`` must be harmless to run twice (a fenced write that sets
        values). Raises :class:`StoreUnreachable` when the store stays away longer than :attr:`outage_wait`.
        """
        while True:
            try:
                with self.transaction() as tx:
                    return work(tx)
            except StoreUnreachable as exc:
                self._wait_out(exc)
                if exc.commit_unknown and applied is not None:
                    done = self.reading(applied)
                    if done is not None:
                        return done

    def reading(self, work: Callable[[StoreTx], T]) -> T:
        """``work`` in one read, run again after the store was unreachable (see :meth:`retrying`)."""
        while True:
            try:
                with self.read() as tx:
                    return work(tx)
            except StoreUnreachable as exc:
                self._wait_out(exc)

    def _wait_out(self, exc: StoreUnreachable) -> None:
        """Wait until the store answers again; the threads that meet one outage share its deadline and log."""
        if self.outage_wait <= 0:
            raise exc
        with self._outage_lock:
            if self._outage_deadline is None:
                self._outage_deadline = time.monotonic() + self.outage_wait
                log.warning(
                    "state store unreachable, waiting up to %g s: %s (%s)", self.outage_wait, exc.reason, self.location
                )
            deadline = self._outage_deadline
        if not self._wait_until_reachable(deadline):
            raise StoreUnreachable(
                f"the state store {self.location} stayed unreachable for {self.outage_wait:g} s: {exc.reason}; "
                "start the database server again (state.outage_wait sets how long a run waits for it)",
                reason=exc.reason,
            ) from exc
        with self._outage_lock:
            if self._outage_deadline is not None:
                self._outage_deadline = None
                log.warning("state store %s reachable again; continuing", self.location)

    def _wait_until_reachable(self, deadline: float) -> bool:
        """Block until the store answers (True) or ``deadline`` (``time.monotonic()``) passes (False)."""
        return False

    def register(self, component: Component) -> None:
        """Make a component's tables usable: migrate them (or, read-only, check their version)."""
        if self.read_only and not self._scratch:
            self._check_version(component)
        else:
            self._migrate(component)
        self._components[component.name] = component

    def schema_versions(self) -> dict[str, int]:
        with self._session(write=False) as sql:
            if not self._has_schema_table(sql):
                return {}
            found = sql.execute("SELECT component, version FROM schema_versions").fetchall()
            return {row[0]: int(row[1]) for row in found}

    def info(self, tables: tuple[str, ...] = ("runs", "run_nodes", "attempts", "ticks")) -> StoreInfo:
        with self.read() as tx:
            counts = tx.table_counts(tables)
        return StoreInfo(self.backend, self.location, self.read_only, self.schema_versions(), counts)

    def _open_core(self) -> None:
        for component in CORE_COMPONENTS:
            self.register(component)

    # -- schema versions

    def _migrate(self, component: Component) -> None:
        with self._session(write=True) as sql:
            sql.serialize("schema")
            sql.execute(SCHEMA_TABLE)
            version = self._version(sql, component.name)
            self._refuse_newer(component, version)
            for step in component.migrations[version:]:
                for statement in migration_statements(step, self.backend):
                    sql.execute(statement)
            if version < component.version:
                sql.execute(
                    "INSERT INTO schema_versions (component, version) VALUES (?, ?) "
                    "ON CONFLICT (component) DO UPDATE SET version = excluded.version",
                    (component.name, component.version),
                )

    def _check_version(self, component: Component) -> None:
        version = self._read_version(component)
        deadline = time.monotonic() + _CREATION_SECONDS
        while version == 0 and time.monotonic() < deadline:  # another process may be creating the store now
            time.sleep(0.05)
            version = self._read_version(component)
        self._refuse_newer(component, version)
        if version < component.version:
            raise StoreError(
                f"the state store {self.location} has {component.name} schema version {version}, older than this "
                f"orchestrate-ext ({component.version}); run a command that writes (e.g. `orchestrate run`) "
                "once to upgrade it"
            )

    def _read_version(self, component: Component) -> int:
        with self._session(write=False) as sql:
            return self._version(sql, component.name) if self._has_schema_table(sql) else 0

    def _refuse_newer(self, component: Component, version: int) -> None:
        if version > component.version:
            raise StoreError(
                f"the state store {self.location} has {component.name} schema version {version}, newer than this "
                f"orchestrate-ext understands ({component.version}); upgrade orchestrate-ext"
            )

    @staticmethod
    def _version(sql: Sql, name: str) -> int:
        row = one(sql, "SELECT version FROM schema_versions WHERE component = ?", (name,))
        return int(row[0]) if row else 0

    @abstractmethod
    def _has_schema_table(self, sql: Sql) -> bool: ...
