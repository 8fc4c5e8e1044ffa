"""Tries on a Dask cluster: the same command as locally, run as a subprocess on a worker.

``executor: {type: dask, address: tcp://scheduler:8786}`` (or ``address_env``,
or ``local: {workers: 2}`` for a ``LocalCluster`` of worker processes). Each
try is one task (never retried by Dask itself) that starts the command on its
worker under :mod:`orchestrate_ext.execution.guard` (so the try's process tree
dies with the worker), sends its output back in batches through a Dask
``Queue``, watches an ``Event`` for a stop request (cancel, timeout; its
signal and grace in a ``Variable``) and returns the exit code with the
``outputs`` files (an output notebook, a result), written back here unless the
path is shared. Queues and events are read without waiting: a Dask scheduler
logs every wait that times out.

A worker that dies mid-try: Dask hands the task to another worker, which
finds the try marked started and returns at once; the handle then raises
:class:`~orchestrate_ext.execution.launch.WorkerLost`, the runner reports the
try ``crashed`` and the engine retries the node as its ``retries`` allow. No
home-made protocol: every message goes through the Dask scheduler.
"""

from __future__ import annotations

import os
import secrets
import signal
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from orchestrate_ext import processes
from orchestrate_ext.errors import ConfigError
from orchestrate_ext.execution.guard import guarded
from orchestrate_ext.execution.launch import (
    Command,
    LineBuffer,
    WorkerLost,
    WorkerNeeds,
    for_this_machine,
    missing_here,
)
from orchestrate_ext.secrets import seal_process

BATCH_SECONDS = 0.2
"""How often a worker sends output lines and looks for a stop request."""
POLL_SECONDS = 0.02
"""How often a handle looks for output (the queue is asked its size: waiting on it would log at the scheduler)."""
PRESENCE_SECONDS = 2.0
"""How often a waiting handle checks that the worker running its try is still there."""


class DaskLauncher:
    """Runs tries on the workers of a Dask cluster (see the module docstring).

    Args:
        address: the scheduler's address; None starts a ``LocalCluster`` of ``workers`` processes.
        worker_resources: node resource name -> Dask worker resource name a try needs one of.
    """

    name = "dask"

    def __init__(
        self, address: str | None, *, workers: int = 2, worker_resources: Mapping[str, str] | None = None
    ) -> None:
        from distributed import Client, LocalCluster

        self.worker_resources = dict(worker_resources or {})
        self._cluster = None
        try:
            if address is None:
                self._cluster = LocalCluster(
                    n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None
                )
                self.client = Client(self._cluster)
            else:
                self.client = Client(address, timeout=10)
        except (OSError, TimeoutError) as exc:
            raise ConfigError(
                f"cannot reach the Dask scheduler at {address}: {exc}; start it (`dask scheduler`) or fix "
                "`executor.address` in orchestrate.yaml"
            ) from exc

    def start(self, command: Command) -> DaskHandle:
        token = f"orchestrate-{secrets.token_hex(8)}"
        needs = {self.worker_resources[name]: 1.0 for name in command.resources if name in self.worker_resources}
        spec = {
            "argv": list(command.argv),
            "cwd": str(command.cwd),
            "env": dict(command.env) if command.env is not None else None,
            "outputs": [str(path) for path in command.outputs],
        }
        future = self.client.submit(
            run_on_worker, spec, token, key=token, pure=False, retries=0, resources=needs or None
        )
        return DaskHandle(self.client, future, token)

    def workers(self) -> list[str]:
        return sorted(self.client.scheduler_info()["workers"])

    def check(self, needs: WorkerNeeds) -> list[str]:
        """Ask every worker what of ``needs`` it lacks (orchestrate-ext itself included)."""
        if not self.workers():
            return ["the Dask cluster has no workers; start some (`dask worker <scheduler address>`)"]
        try:
            found = self.client.run(missing_here, needs, wait=True)
        except ImportError as exc:
            return [
                f"the Dask workers cannot import orchestrate-ext ({exc}); install orchestrate-ext with the "
                "project's dbt adapter and kernels in the workers' environment"
            ]
        return [
            f"worker {worker} lacks {', '.join(missing)}; install it in that worker's environment"
            for worker, missing in sorted(found.items())
            if missing
        ]

    def close(self) -> None:
        self.client.close()
        if self._cluster is not None:
            self._cluster.close()


class DaskHandle:
    """A try running as a Dask task."""

    def __init__(self, client: Any, future: Any, token: str) -> None:
        self.client = client
        self.future = future
        self.token = token
        self.worker = ""
        self._names = _Names(token, client)
        self._ended = False
        self._last_presence = time.monotonic()

    def read(self, timeout: float) -> list[str] | None:
        if self._ended:
            return None
        give_up = time.monotonic() + timeout
        found: list[str] = []
        while not found and not self._ended:
            if self._names.lines.qsize():
                found = self._take()
            elif (self.future.done() and not self._names.lines.qsize()) or self._worker_gone():
                self._ended = True  # it ended without its last batch: its worker died
            elif time.monotonic() >= give_up:
                break
            else:
                time.sleep(POLL_SECONDS)
        return found if found or not self._ended else None

    def _take(self) -> list[str]:
        """The lines waiting in the queue (noting where the try runs, and its end)."""
        found: list[str] = []
        for batch in self._names.lines.get(batch=True):
            if batch is None:
                self._ended = True
                break
            if isinstance(batch, dict):  # the first item: where it runs
                self.worker = str(batch["worker"])
                continue
            found += batch
        return found

    def stop(self, *, first_signal: int = signal.SIGTERM, grace: float = 10.0) -> None:
        self._names.how_to_stop.set({"first_signal": int(first_signal), "grace": float(grace)})
        self._names.stopping = True
        self._names.stop.set()

    def wait(self, timeout: float | None = None) -> int | None:
        from distributed import TimeoutError as DaskTimeout

        try:
            result = self.future.result(timeout=timeout)
        except (TimeoutError, DaskTimeout):
            if self._worker_gone():
                raise self._lost() from None
            return None
        except Exception as exc:  # the task erred: Dask gave up on it (KilledWorker) or the worker left
            raise self._lost() from exc
        if "lost" in result:
            raise self._lost()
        self.worker = str(result["worker"])
        for path, content in result["files"].items():
            target = Path(path)
            if not target.exists():  # not shared with the worker: bring its copy home
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(content)
        self._forget()
        return int(result["returncode"])

    def _worker_gone(self) -> bool:
        """True once the worker that started the try has left the cluster (checked every few seconds)."""
        if not self.worker or time.monotonic() - self._last_presence < PRESENCE_SECONDS:
            return False  # not started yet (waiting for a free worker), or asked a moment ago
        self._last_presence = time.monotonic()
        return self.worker not in self.client.scheduler_info()["workers"]

    def _lost(self) -> WorkerLost:
        self._forget()
        where = f"the Dask worker {self.worker}" if self.worker else "its Dask worker"
        return WorkerLost(f"crashed: {where} died or left while running this try")

    def _forget(self) -> None:
        """Drop the try's queue, events and variables from the scheduler."""
        self._names.forget()
        self.future.release()


class _Names:
    """The Dask queue, events and variables of one try, named after its token."""

    def __init__(self, token: str, client: Any = None) -> None:
        from distributed import Event, Queue, Variable

        self.lines = Queue(f"{token}:lines", client=client)
        """The worker's address first, then batches of output lines, then None."""
        self.started = Event(f"{token}:started", client=client)
        self.stop = Event(f"{token}:stop", client=client)
        self.how_to_stop = Variable(f"{token}:how-to-stop", client=client)
        self.stopping = False

    def forget(self) -> None:
        self.lines.close()
        for event in (self.started, self.stop):
            event.clear()
        if self.stopping:
            self.how_to_stop.delete()


def run_on_worker(spec: dict[str, Any], token: str) -> dict[str, Any]:
    """The task: run the try's command on this worker (see the module docstring)."""
    from distributed import get_worker

    address = get_worker().address
    seal_process()  # the try is this worker's child: it may not read the worker's environment
    names = _Names(token)
    if names.started.is_set():
        return {"lost": ""}  # a second run: the worker that ran it first died
    names.started.set()
    names.lines.put({"worker": address})
    argv = for_this_machine(spec["argv"])
    process = processes.start(guarded(argv, os.getpid()), cwd=Path(spec["cwd"]), env=spec["env"])
    output = LineBuffer()
    threading.Thread(target=_pump, args=(process, output), daemon=True).start()
    stopping = False
    while (batch := output.read(BATCH_SECONDS)) is not None:
        if batch:
            names.lines.put(batch)
        if not stopping and names.stop.is_set():
            stopping = True
            request = names.how_to_stop.get()
            threading.Thread(target=processes.stop, args=(process,), kwargs=request, daemon=True).start()
    returncode = process.wait()
    names.lines.put(None)
    files = {path: Path(path).read_bytes() for path in spec["outputs"] if Path(path).is_file()}
    return {"returncode": returncode, "worker": address, "files": files}


def _pump(process: Any, output: LineBuffer) -> None:
    for raw in iter(process.stdout.readline, b""):
        output.put(raw.decode("utf-8", errors="replace"))
    output.end()
