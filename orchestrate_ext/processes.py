"""Child processes in their own process group, stopped as a whole tree.

Runners start every node's work through :func:`start` so that a timeout or a
cancel can stop the process and everything it spawned (a notebook's kernel,
dbt's threads' connections) with :func:`stop`.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO


def start(
    argv: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str] | None = None,
    stdout: int | IO[bytes] | None = subprocess.PIPE,
    stderr: int | IO[bytes] | None = subprocess.STDOUT,
) -> subprocess.Popen[bytes]:
    """Start ``argv`` (never through a shell) as the leader of a new process group."""
    return subprocess.Popen(
        list(argv),
        cwd=cwd,
        env=dict(env) if env is not None else None,
        stdin=subprocess.DEVNULL,
        stdout=stdout,
        stderr=stderr,
        start_new_session=True,
    )


def stop(process: subprocess.Popen[bytes], *, first_signal: int = signal.SIGTERM, grace: float = 10.0) -> None:
    """Stop the process group: ``first_signal``, then SIGTERM, then SIGKILL.

    dbt is given SIGINT first so that it cancels its warehouse queries.
    Each step waits up to ``grace`` seconds for the leader to exit; the
    whole group is killed at the end whatever happened, so no grandchild
    (e.g. a kernel) outlives its node.
    """
    signals = [first_signal] + ([signal.SIGTERM] if first_signal != signal.SIGTERM else [])
    for signum in signals:
        _signal_group(process.pid, signum)
        try:
            process.wait(timeout=grace)
            break
        except subprocess.TimeoutExpired:
            continue
    _signal_group(process.pid, signal.SIGKILL)
    process.wait()


def _signal_group(pgid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)
