"""The worker side of the Dask launcher: one long-lived service per worker, and the task each try is.

:class:`WorkerService` is a Dask worker plugin (``orchestrate``), registered by
the launcher once per cluster (idempotently: a second engine on the same
cluster shares it). It holds, for the life of the worker process:

- the *reaper*: one small child process per worker (``python -I -S``) that is
  told the process group of every try (and of every kernel a try runs on) and
  kills them all the moment the worker is gone: its stdin is a pipe from the
  worker, so the worker's death is its end of file. One reaper per worker
  replaces a guard process per try.
- the tries running here, by token, so that a stop request (sent to every
  worker with ``Client.run``) reaches the one that runs it, or waits for it.
- long-lived objects other packages keep here (:meth:`WorkerService.resource`),
  such as a warm kernel pool; closed when the worker closes.

:func:`run_try` is the task of one try. It sends its output back in batches
with ``Worker.log_event`` (one-way messages through the worker's existing
stream to the scheduler, which forwards them to the launcher's subscription):
no round trip per line or per batch. What is left when the try ends comes back
with the task's result, which says how many batches went before it.

The launcher pins each try to one worker, so a try never runs a second time
on another worker after its worker died.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from distributed.diagnostics.plugin import WorkerPlugin

from orchestrate_ext import processes
from orchestrate_ext.launcher import for_this_machine
from orchestrate_ext.secrets import seal_process

PLUGIN = "orchestrate"
"""The name the service is registered under on every worker."""
BATCH_SECONDS = 0.2
"""How often a worker sends the output its tries printed."""

REAPER = """
import os, signal, sys
groups = set()
for line in sys.stdin:
    word = line.strip()
    if word.startswith("+"):
        groups.add(int(word[1:]))
    elif word.startswith("-"):
        groups.discard(int(word[1:]))
for group in groups:  # the worker is gone (or closed): nothing it started may go on without it
    try:
        os.killpg(group, signal.SIGKILL)
    except OSError:
        pass
"""


class TryIO:
    """What a try running in the worker process gets: its output, its stop request, the worker's service."""

    def __init__(self, service: WorkerService, token: str, topic: str) -> None:
        self.service = service
        self.token = token
        self.topic = topic
        self.stop_requested = threading.Event()
        self.stop_request: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._pending: list[str] = []
        self.batches = 0
        self._on_stop: list[Callable[[], None]] = []

    def write(self, text: str) -> int:
        if text:
            with self._lock:
                self._pending.append(text)
        return len(text)

    def flush(self) -> None:
        pass

    def guard(self, pgid: int) -> None:
        """Have the reaper kill this process group if the worker dies; call :meth:`unguard` once it ended."""
        self.service.reaper_send(f"+{pgid}")

    def unguard(self, pgid: int) -> None:
        self.service.reaper_send(f"-{pgid}")

    def on_stop(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` (in a thread of its own) when the launcher asks this try to stop."""
        with self._lock:
            self._on_stop.append(callback)
            stopping = self.stop_requested.is_set()
        if stopping:
            threading.Thread(target=callback, daemon=True).start()

    def request_stop(self, request: dict[str, Any]) -> None:
        with self._lock:
            if self.stop_requested.is_set():
                return
            self.stop_request = request
            self.stop_requested.set()
            callbacks = list(self._on_stop)
        for callback in callbacks:
            threading.Thread(target=callback, daemon=True).start()

    def take(self) -> list[str]:
        with self._lock:
            found, self._pending = self._pending, []
        return found

    def send(self, worker: Any) -> None:
        """Send what was printed since the last batch (a one-way message)."""
        found = self.take()
        if found:
            worker.log_event(self.topic, {"token": self.token, "seq": self.batches, "lines": found})
            self.batches += 1


class WorkerService(WorkerPlugin):
    """The per-worker service (a Dask ``WorkerPlugin``; see the module docstring)."""

    name = PLUGIN
    idempotent = True

    def __init__(self) -> None:
        self.worker: Any = None
        self._tries: dict[str, TryIO] = {}
        self._stops: dict[str, dict[str, Any]] = {}
        self._resources: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._reaper: subprocess.Popen[bytes] | None = None
        self._sender: threading.Thread | None = None
        self._closed = threading.Event()

    def __getstate__(self) -> dict[str, Any]:
        return {}  # sent to the workers empty; each builds its own state in setup

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__()  # type: ignore[misc]

    def setup(self, worker: Any) -> None:
        self.worker = worker
        seal_process()  # tries are this worker's children: they may not read the worker's environment
        self._reaper = subprocess.Popen(
            [sys.executable, "-I", "-S", "-c", REAPER],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        self._sender = threading.Thread(target=self._send_batches, name="orchestrate-output", daemon=True)
        self._sender.start()

    def teardown(self, worker: Any) -> None:
        self._closed.set()
        with self._lock:
            resources = list(self._resources.values())
            self._resources.clear()
        for resource in resources:
            with contextlib.suppress(Exception):
                resource.close()
        if self._reaper is not None and self._reaper.stdin is not None:
            with contextlib.suppress(OSError):
                self._reaper.stdin.close()  # the reaper kills what is left and exits
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._reaper.wait(5)

    def reaper_send(self, word: str) -> None:
        if self._reaper is None or self._reaper.stdin is None:
            return
        with self._lock, contextlib.suppress(OSError, ValueError):
            self._reaper.stdin.write(f"{word}\n".encode())
            self._reaper.stdin.flush()

    def resource(self, name: str, factory: Callable[[], Any]) -> Any:
        """The worker's long-lived ``name`` (made by ``factory`` the first time; ``close()``d with the worker)."""
        with self._lock:
            if name not in self._resources:
                self._resources[name] = factory()
            return self._resources[name]

    def begin(self, token: str, topic: str) -> TryIO:
        io = TryIO(self, token, topic)
        with self._lock:
            self._tries[token] = io
            early = self._stops.pop(token, None)
        if early is not None:
            io.request_stop(early)
        return io

    def end(self, token: str) -> None:
        with self._lock:
            self._tries.pop(token, None)

    def request_stop(self, token: str, request: dict[str, Any]) -> None:
        with self._lock:
            io = self._tries.get(token)
            if io is None:
                self._stops[token] = request  # not started here (yet): it stops as it starts
                if len(self._stops) > 10_000:
                    self._stops.pop(next(iter(self._stops)))
        if io is not None:
            io.request_stop(request)

    def _send_batches(self) -> None:
        while not self._closed.wait(BATCH_SECONDS):
            with self._lock:
                tries = list(self._tries.values())
            for io in tries:
                with contextlib.suppress(Exception):
                    io.send(self.worker)


def service_here(worker: Any) -> WorkerService:
    service = worker.plugins.get(PLUGIN)
    if not isinstance(service, WorkerService):
        raise RuntimeError(f"the Dask worker {worker.address} has no orchestrate-ext service; restart the engine")
    return service


def run_try(spec: dict[str, Any], token: str, topic: str) -> dict[str, Any]:
    """The task of one try: a command (``argv``) or a call (``call``: ``module:function``) in this worker."""
    from distributed import get_worker

    worker = get_worker()
    service = service_here(worker)
    io = service.begin(token, topic)
    worker.log_event(topic, {"token": token, "worker": worker.address})
    try:
        if spec.get("call"):
            module, _, name = spec["call"].partition(":")
            returncode = int(getattr(importlib.import_module(module), name)(spec["payload"], io))
        else:
            returncode = _run_command(spec, io)
    finally:
        service.end(token)
    files = {path: Path(path).read_bytes() for path in spec["outputs"] if Path(path).is_file()}
    return {
        "returncode": returncode,
        "worker": worker.address,
        "files": files,
        "tail": io.take(),
        "batches": io.batches,
    }


def _run_command(spec: dict[str, Any], io: TryIO) -> int:
    if io.stop_requested.is_set():
        return -int(io.stop_request.get("first_signal", signal.SIGTERM))
    process = processes.start(for_this_machine(spec["argv"]), cwd=Path(spec["cwd"]), env=spec["env"])
    io.guard(process.pid)
    io.on_stop(lambda: processes.stop(process, **io.stop_request))
    try:
        assert process.stdout is not None
        for raw in iter(process.stdout.readline, b""):
            io.write(raw.decode("utf-8", errors="replace"))
        return process.wait()
    finally:
        io.unguard(process.pid)


def request_stop(token: str, request: dict[str, Any], dask_worker: Any = None) -> None:
    """Run on every worker by ``Client.run``: stop the try ``token`` if it runs (or starts) here."""
    service = dask_worker.plugins.get(PLUGIN) if dask_worker is not None else None
    if isinstance(service, WorkerService):
        service.request_stop(token, request)


async def warm(call: str, payload: dict[str, Any], dask_worker: Any = None) -> None:
    """Run on a worker by ``Client.run``: ``call(payload, service)`` once the service is set up there."""
    give_up = time.monotonic() + 30
    while not isinstance(dask_worker.plugins.get(PLUGIN), WorkerService):
        if time.monotonic() > give_up:
            return
        await asyncio.sleep(0.1)
    module, _, name = call.partition(":")
    function = getattr(importlib.import_module(module), name)
    await asyncio.to_thread(function, payload, dask_worker.plugins[PLUGIN])


def worker_pid(dask_worker: Any = None) -> int:
    return os.getpid()
