"""Child processes in their own process group, stopped as a whole tree.

Runners start every node's work through :func:`start` so that a timeout or a
cancel can stop the process and everything it spawned (a notebook's kernel,
dbt's threads' connections) with :func:`stop`.

With ``die_with_parent`` (the local launcher's tries) the child also dies with
this process: on Linux it asks the kernel for SIGKILL when its parent dies
(``prctl(PR_SET_PDEATHSIG)``), set between fork and exec, and then checks that
its parent is still this process, which closes the race of a parent dying
before the request was made. Only the direct child is guarded; a notebook's
kernel, its grandchild, exits by itself once its parent is gone
(``JPY_PARENT_PID``), and ``orchestrate retry`` or the scheduler's takeover kill
whatever is left of a dead owner's process groups.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO

_PR_SET_PDEATHSIG = 1


def _pdeathsig_setter() -> Callable[[int, int, int, int, int], int] | None:
    """libc's ``prctl``, looked up once here (never in a forked child), or None off Linux."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    try:
        prctl: Callable[[int, int, int, int, int], int] = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    return prctl


_prctl = _pdeathsig_setter()


def _die_with(parent: int) -> Callable[[], None] | None:
    """The child's pre-exec step: SIGKILL when ``parent`` dies; die now if it already did."""
    prctl = _prctl
    if prctl is None:
        return None

    def guard() -> None:  # runs in the forked child: only a system call and two os calls
        prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent:  # the parent died before the request took effect
            os.kill(os.getpid(), signal.SIGKILL)

    return guard


def start(
    argv: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str] | None = None,
    stdout: int | IO[bytes] | None = subprocess.PIPE,
    stderr: int | IO[bytes] | None = subprocess.STDOUT,
    die_with_parent: bool = False,
) -> subprocess.Popen[bytes]:
    """Start ``argv`` (never through a shell) as the leader of a new process group.

    ``die_with_parent``: the child is killed when this process dies (see the module docstring).
    """
    return subprocess.Popen(
        list(argv),
        cwd=cwd,
        env=dict(env) if env is not None else None,
        stdin=subprocess.DEVNULL,
        stdout=stdout,
        stderr=stderr,
        start_new_session=True,
        preexec_fn=_die_with(os.getpid()) if die_with_parent else None,
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
