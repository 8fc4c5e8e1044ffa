"""Keeps a try's process tree from outliving the process that started it: ``python -m ...guard PARENT -- ARGV``.

A Dask worker that dies (killed, out of memory) would leave the try it ran
behind: a notebook and its kernel still writing to the warehouse while the
engine retries the node elsewhere. The guard runs ``ARGV`` as its child, in
the process group it leads (the launcher starts it in a session of its own),
and kills the whole group the moment its parent ``PARENT`` is gone. A stop
signals the whole group, so the child gets SIGINT or SIGTERM directly; the
guard outlives it to exit with the child's exit code.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from types import FrameType

POLL_SECONDS = 0.2


def main(arguments: list[str]) -> int:
    if len(arguments) < 3 or arguments[1] != "--":
        print("usage: python -m orchestrate_ext.execution.guard PARENT_PID -- ARGV...", file=sys.stderr)
        return 2
    parent = int(arguments[0])
    child = subprocess.Popen(arguments[2:])

    def outlive_the_child(signum: int, frame: FrameType | None) -> None:
        """The group got a stop signal: the child has it too; stay to report its exit code."""

    signal.signal(signal.SIGINT, outlive_the_child)
    signal.signal(signal.SIGTERM, outlive_the_child)
    while (code := child.poll()) is None:
        if os.getppid() != parent:  # the worker died: nothing of this try may go on without it
            os.killpg(os.getpgid(0), signal.SIGKILL)
        time.sleep(POLL_SECONDS)
    if code < 0:  # the child died of a signal: die of it too, so the exit status says so
        signal.signal(-code, signal.SIG_DFL)
        os.kill(os.getpid(), -code)
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
