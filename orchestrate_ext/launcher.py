"""Where a try runs: one small protocol for starting a node's process, here or on a cluster.

Runners decide *what* a try runs (dbt's argv and its JSON events, papermill's
parameters); a :class:`Launcher` decides *where*. Both runners use it the same
way::

    handle = context.launcher.start(Command(argv, cwd=folder, env=env, outputs=(result,)))
    while (lines := handle.read(0.2)) is not None:      # its output, as it comes
        ...                                             # and, when a timeout or cancel says so:
        handle.stop(first_signal=signal.SIGINT, grace=10)
    returncode = handle.wait()                          # WorkerLost when the machine running it died

:class:`LocalLauncher` starts the process here, in a process group of its own
(the default), and the process dies with the engine. :mod:`orchestrate_ext.execution.dask_launcher` runs the same
command on a worker of a Dask cluster, streams its output back and brings
its ``outputs`` files home.
"""

from __future__ import annotations

import queue
import signal
import subprocess
import sys
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from orchestrate_ext import processes
from orchestrate_ext.errors import OrchestrateError

WORKER_PYTHON = "{worker-python}"
"""An argv item that each launcher replaces with the Python interpreter of the machine that runs the try."""
LOCAL = "local"
"""The ``worker`` of a try that ran in this process's machine."""


class WorkerLost(OrchestrateError, RuntimeError):
    """The machine (a Dask worker) running a try died or left; the try is ``crashed``."""


@dataclass(frozen=True)
class Command:
    """One try's process.

    Attributes:
        argv: the program and its arguments (never run through a shell); ``WORKER_PYTHON``
            stands for the interpreter where it runs.
        cwd: its working folder.
        env: its whole environment (None: this process's).
        outputs: files it writes that must exist here afterwards (a remote worker's copy is
            brought back when the path is not shared).
        resources: the exclusive resources of its nodes; a cluster launcher may map them to
            worker resources (``executor.worker_resources``).
    """

    argv: Sequence[str]
    cwd: Path
    env: Mapping[str, str] | None = None
    outputs: Sequence[Path] = ()
    resources: Sequence[str] = ()


@dataclass(frozen=True)
class WorkerNeeds:
    """What the machines running tries must have: Python modules, and Jupyter kernels by name."""

    modules: tuple[str, ...] = ()
    kernels: tuple[str, ...] = ()

    def __or__(self, other: WorkerNeeds) -> WorkerNeeds:
        return WorkerNeeds(
            tuple(dict.fromkeys(self.modules + other.modules)), tuple(dict.fromkeys(self.kernels + other.kernels))
        )


def for_this_machine(argv: Sequence[str]) -> list[str]:
    """``argv`` with :data:`WORKER_PYTHON` replaced by this machine's Python (where the try runs)."""
    return [sys.executable if item == WORKER_PYTHON else item for item in argv]


def missing_here(needs: WorkerNeeds) -> list[str]:
    """What of ``needs`` this Python lacks: ``module dbt``, ``kernel ir`` (runs on each worker)."""
    import importlib.util

    missing = []
    for module in needs.modules:
        try:
            found = importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            missing.append(f"module {module}")
    if needs.kernels:
        try:
            from jupyter_client.kernelspec import find_kernel_specs

            kernels = set(find_kernel_specs())
        except ImportError:
            kernels = set()
        missing += [f"kernel {name}" for name in needs.kernels if name not in kernels]
    return missing


class Handle(Protocol):
    """A started try's process."""

    worker: str
    """Where it runs: ``local``, or a Dask worker's address."""

    def read(self, timeout: float) -> list[str] | None:
        """Lines it printed since the last call (waiting up to ``timeout`` for some; maybe none);
        None once it has ended and everything was read."""
        ...

    def stop(self, *, first_signal: int = signal.SIGTERM, grace: float = 10.0) -> None:
        """Ask it to stop: ``first_signal`` to its process group, SIGTERM and SIGKILL after ``grace`` each.
        Returns at once."""
        ...

    def wait(self, timeout: float | None = None) -> int | None:
        """Its exit code (None if still running after ``timeout``); raises :class:`WorkerLost`."""
        ...


class Launcher(Protocol):
    """Starts tries' processes somewhere."""

    name: str

    def start(self, command: Command) -> Handle: ...

    def check(self, needs: WorkerNeeds) -> list[str]:
        """Problems that stop tries from running (a worker without a module or kernel), each a sentence."""
        ...

    def workers(self) -> list[str]:
        """Where tries may run now (``local``, or the cluster's worker addresses)."""
        ...

    def close(self) -> None: ...


class LineBuffer:
    """Output lines handed from a reading thread to :meth:`Handle.read`, then the end."""

    def __init__(self) -> None:
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._ended = False

    def put(self, line: str) -> None:
        self._lines.put(line)

    def end(self) -> None:
        self._lines.put(None)

    def read(self, timeout: float) -> list[str] | None:
        """The lines waiting (for up to ``timeout``); None once the end was reached and reported."""
        if self._ended:
            return None
        found: list[str] = []
        try:
            item = self._lines.get(timeout=timeout)
            while item is not None:
                found.append(item)
                item = self._lines.get_nowait()
            self._ended = True
        except queue.Empty:
            pass
        return found if found or not self._ended else None


class LocalLauncher:
    """Runs each try as a child process here, the leader of a process group of its own.

    The child dies with this process (``PR_SET_PDEATHSIG`` on Linux, see :mod:`orchestrate_ext.processes`):
    a killed engine leaves no dbt writing to the warehouse behind it.
    """

    name = LOCAL

    def start(self, command: Command) -> LocalHandle:
        process = processes.start(
            for_this_machine(command.argv), cwd=command.cwd, env=command.env, die_with_parent=True
        )
        return LocalHandle(process)

    def check(self, needs: WorkerNeeds) -> list[str]:
        missing = missing_here(needs)
        if not missing:
            return []
        return [f"this machine's Python ({sys.executable}) lacks {', '.join(missing)}; install it there"]

    def workers(self) -> list[str]:
        return [LOCAL]

    def close(self) -> None:
        pass


class LocalHandle:
    """A local child process; its output is read by a thread of its own."""

    worker = LOCAL

    def __init__(self, process: subprocess.Popen[bytes]) -> None:
        self.process = process
        self._lines = LineBuffer()
        self._stopper: threading.Thread | None = None
        threading.Thread(target=self._pump, name=f"output-{process.pid}", daemon=True).start()

    def _pump(self) -> None:
        assert self.process.stdout is not None
        for raw in iter(self.process.stdout.readline, b""):
            self._lines.put(raw.decode("utf-8", errors="replace"))
        self._lines.end()

    def read(self, timeout: float) -> list[str] | None:
        return self._lines.read(timeout)

    def stop(self, *, first_signal: int = signal.SIGTERM, grace: float = 10.0) -> None:
        if self._stopper is None:
            self._stopper = threading.Thread(
                target=processes.stop,
                args=(self.process,),
                kwargs={"first_signal": first_signal, "grace": grace},
                daemon=True,
            )
            self._stopper.start()

    def wait(self, timeout: float | None = None) -> int | None:
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            return None
