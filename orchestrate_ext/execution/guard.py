"""Keeps a try's process tree from outliving the process that started it.

A Dask worker that dies (killed, out of memory) would leave the try it ran
behind: a notebook and its kernel still writing to the warehouse while the
engine retries the node elsewhere. The guard runs the try's command as its
child, in the process group it leads (the launcher starts it in a session of
its own), and kills the whole group once its parent is gone (it looks every
0.2 s; the local launcher relies on ``PR_SET_PDEATHSIG`` instead, see
:mod:`orchestrate_ext.processes`). A stop
signals the whole group, so the child gets SIGINT or SIGTERM directly; the
guard outlives it and then ends the way the child did (same exit code, or the
same signal).

It is started as ``python -I -S -c SOURCE PARENT_PID -- ARGV...``: an
interpreter without site packages starts in a few milliseconds, which matters
when every try on a cluster pays for it.
"""

from __future__ import annotations

import sys

SOURCE = """
import os, signal, subprocess, sys
parent = int(sys.argv[1])
child = subprocess.Popen(sys.argv[3:])
signal.signal(signal.SIGINT, lambda signum, frame: None)  # the child got it too: outlive it
signal.signal(signal.SIGTERM, lambda signum, frame: None)
while True:
    try:
        code = child.wait(timeout=0.2)
        break
    except subprocess.TimeoutExpired:
        if os.getppid() != parent:  # the worker died: nothing of this try may go on without it
            os.killpg(os.getpgid(0), signal.SIGKILL)
if code < 0:  # the child died of a signal: die of it too, so the exit status says so
    signal.signal(-code, signal.SIG_DFL)
    os.kill(os.getpid(), -code)
sys.exit(code)
"""


def guarded(argv: list[str], parent: int) -> list[str]:
    """``argv`` run under the guard, which watches ``parent`` (the process starting it)."""
    return [sys.executable, "-I", "-S", "-c", SOURCE, str(parent), "--", *argv]
