"""Which process executes a run, whether it still lives, and cleaning up after it.

Every process that executes runs (the scheduler, ``orchestrate run``, a backfill)
has an *owner* identity ``host:pid:start-time``. It is stamped on the runs it
claims and exported to its children as ``ORCHESTRATE_OWNER``, so that after the
process dies (kill -9, OOM, reboot) another process on the same host can tell
it is gone (the pid is free or belongs to a younger process) and kill the
process groups its node processes left behind, which every runner starts in a
session of their own.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

OWNER_ENV = "ORCHESTRATE_OWNER"
"""Environment variable naming the owner that started a process; inherited by node processes."""
HOST_ENV = "ORCHESTRATE_HOST"
"""Names this machine in owner identities instead of its host name (containers get random ones)."""


def host_name() -> str:
    """This machine's name as owners record it: ``ORCHESTRATE_HOST``, else the host name."""
    return os.environ.get(HOST_ENV) or socket.gethostname()


@dataclass(frozen=True, slots=True)
class ProcessIdentity:
    """One process, told apart from a later process that reuses its pid by its start time."""

    host: str
    pid: int
    started: float

    @property
    def owner(self) -> str:
        return f"{self.host}:{self.pid}:{self.started:.2f}"

    @classmethod
    def current(cls) -> ProcessIdentity:
        import psutil  # here, not at import: reading commands import this module and rarely ask

        return cls(host_name(), os.getpid(), psutil.Process().create_time())

    @classmethod
    def parse(cls, owner: str | None) -> ProcessIdentity | None:
        """The identity in an owner text, or None when it is not of the ``host:pid:start`` form."""
        if not owner:
            return None
        host, _, rest = owner.rpartition(":")
        host, _, pid = host.rpartition(":")
        try:
            return cls(host, int(pid), float(rest))
        except ValueError:
            return None


def process_alive(pid: int, started: float) -> bool:
    """True when the process ``pid`` runs and is the one that started at ``started``."""
    import psutil

    try:
        process = psutil.Process(pid)
        return abs(process.create_time() - started) < 0.5 and process.status() != psutil.STATUS_ZOMBIE
    except (psutil.NoSuchProcess, psutil.AccessDenied, ProcessLookupError):
        return False


class Liveness(Protocol):
    """Decides whether the owner of a run or of the scheduler lease still lives."""

    def is_alive(self, owner: str | None, heartbeat_at: datetime | None, now: datetime) -> bool: ...


class ProcessLiveness:
    """Owners on this host live while their process does; others while they heartbeat.

    Args:
        stale_after: seconds without a heartbeat after which an owner on another
            host (or of unknown form) counts as dead.
    """

    def __init__(self, stale_after: float = 60.0, host: str | None = None) -> None:
        self.stale_after = stale_after
        self.host = host or host_name()

    def is_alive(self, owner: str | None, heartbeat_at: datetime | None, now: datetime) -> bool:
        identity = ProcessIdentity.parse(owner)
        if identity is not None and identity.host == self.host:
            return process_alive(identity.pid, identity.started)
        return heartbeat_at is not None and (now - heartbeat_at).total_seconds() < self.stale_after


def export_owner(identity: ProcessIdentity) -> None:
    """Mark the children this process starts from now on as started by ``identity``."""
    os.environ[OWNER_ENV] = identity.owner


def kill_leftovers(owner: str, wait: float = 10.0) -> list[int]:
    """Kill (SIGKILL) every process group on this host holding a process started by ``owner``, and wait.

    Only groups of processes whose inherited ``ORCHESTRATE_OWNER`` is exactly
    ``owner`` are touched, never this process's own group. Returns once no
    process of those groups is left (a zombie counts as gone), or after ``wait``
    seconds, so that a caller releases the dead owner's resources (a DuckDB file)
    only after nothing of it can write any more. Returns the killed process group ids.
    """
    import psutil

    own_group = os.getpgid(0)
    groups: set[int] = set()
    for process in psutil.process_iter():
        try:
            if process.pid == os.getpid() or process.environ().get(OWNER_ENV) != owner:
                continue
            groups.add(os.getpgid(process.pid))
        except (psutil.Error, ProcessLookupError, PermissionError, OSError):
            continue
    groups.discard(own_group)
    for group in sorted(groups):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(group, signal.SIGKILL)
    deadline = time.monotonic() + wait
    while groups and _group_members(groups) and time.monotonic() < deadline:
        time.sleep(0.05)
    return sorted(groups)


def _group_members(groups: set[int]) -> list[int]:
    """The live (not zombie) processes of ``groups``."""
    import psutil

    found = []
    for process in psutil.process_iter():
        try:
            if os.getpgid(process.pid) in groups and process.status() != psutil.STATUS_ZOMBIE:
                found.append(process.pid)
        except (psutil.Error, ProcessLookupError, PermissionError, OSError):
            continue
    return found
