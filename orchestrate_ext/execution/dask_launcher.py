"""Tries on a Dask cluster: one task per try, its output streamed back in batches.

``executor: {type: dask, address: tcp://scheduler:8786}`` (or ``address_env``,
or ``local: {workers: 2}`` for a ``LocalCluster`` of worker processes). Each
try is one task (never retried by Dask itself) that runs either the try's
command as a child of its worker, or a Python call inside the worker process
(:meth:`DaskLauncher.start_call`: a notebook on the worker's warm kernel pool).
The worker side is :mod:`orchestrate_ext.execution.dask_worker`: a per-worker
service (a Dask worker plugin) that keeps long-lived things such as kernel
pools, and a reaper that kills a try's process tree the moment its worker
dies.

Messages per try: the submission; the worker's output as one-way event
batches (``Worker.log_event``, forwarded by the scheduler to this client's
subscription: no round trip per line or per batch); the result (exit code, the
``outputs`` files, written back here unless the path is shared, and the last
lines). A stop request goes to every worker with ``Client.run`` (rare).
Calls a runner wants ready on every worker (:meth:`DaskLauncher.keep_warm`,
e.g. starting kernels ahead) run on every worker now and on each worker that
joins later: a restarted worker refills its pool.

Each try is pinned to one worker (``workers=[address]``,
``allow_other_workers=False``), chosen here: the live worker with the needed
worker resources that runs the fewest of this launcher's tries. So Dask never
runs a try a second time elsewhere: a worker that dies mid-try makes the
scheduler say so (a ``remove-worker`` event), the handle raises
:class:`~orchestrate_ext.launcher.WorkerLost` and cancels the task,
the runner reports the try ``crashed`` and the engine retries the node as its
``retries`` allow, on another worker (whose pool is warm).
"""

from __future__ import annotations

import contextlib
import queue
import secrets
import signal
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from orchestrate_ext.errors import ConfigError
from orchestrate_ext.launcher import Command, WorkerLost, WorkerNeeds, missing_here

LAST_BATCHES_SECONDS = 5.0
"""How long a finished try's handle waits for output batches still on their way."""

_GONE = object()
_DONE = object()


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

        from orchestrate_ext.execution.dask_worker import WorkerService

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
        self._lock = threading.Lock()
        self._handles: dict[str, DaskHandle] = {}
        self._workers: dict[str, dict[str, float]] = {}
        self._refresh_workers()
        self._warm: dict[str, tuple[str, dict[str, Any]]] = {}
        self.topic = f"orchestrate-output-{self.client.id}"
        self.client.subscribe_topic(self.topic, self._on_output)
        self.client.subscribe_topic("all", self._on_cluster_event)
        try:
            self.client.register_plugin(WorkerService(), name="orchestrate")  # idempotent: see WorkerService
        except Exception as exc:  # a worker cannot unpickle it: orchestrate-ext is missing there
            raise ConfigError(
                f"the Dask workers at {address or 'the local cluster'} cannot set up orchestrate-ext ({exc}); "
                "install orchestrate-ext with the project's dbt adapter and kernels in the workers' environment"
            ) from exc

    def start(self, command: Command) -> DaskHandle:
        spec = {
            "argv": list(command.argv),
            "cwd": str(command.cwd),
            "env": dict(command.env) if command.env is not None else None,
            "outputs": [str(path) for path in command.outputs],
        }
        return self._submit(spec, command.resources)

    def start_call(
        self,
        call: str,
        payload: Mapping[str, Any],
        *,
        outputs: tuple[Path, ...] = (),
        resources: tuple[str, ...] = (),
    ) -> DaskHandle:
        """Run ``call`` (``module:function``, taking the payload and a
        :class:`~orchestrate_ext.execution.dask_worker.TryIO`, returning an exit code) inside a worker."""
        spec = {"call": call, "payload": dict(payload), "outputs": [str(path) for path in outputs]}
        return self._submit(spec, resources)

    def keep_warm(self, key: str, call: str, payload: Mapping[str, Any]) -> None:
        """Run ``call(payload, service)`` on every worker now and on every worker that joins later."""
        with self._lock:
            if key in self._warm:
                return
            self._warm[key] = (call, dict(payload))
        self._warm_on(None, [(call, dict(payload))])

    def _warm_on(self, worker: str | None, calls: list[tuple[str, dict[str, Any]]]) -> None:
        from orchestrate_ext.execution.dask_worker import warm

        def go() -> None:
            for call, payload in calls:
                with contextlib.suppress(Exception):  # a worker that went away meanwhile
                    self.client.run(warm, call, payload, workers=[worker] if worker else None, wait=False)

        threading.Thread(target=go, name="dask-warm", daemon=True).start()

    def _submit(self, spec: dict[str, Any], resources: tuple[str, ...] | Any) -> DaskHandle:
        from orchestrate_ext.execution.dask_worker import run_try

        token = f"orchestrate-{secrets.token_hex(8)}"
        needs = {self.worker_resources[name]: 1.0 for name in resources if name in self.worker_resources}
        handle = DaskHandle(self, token)
        with self._lock:
            handle.worker = self._choose(needs)
            self._handles[token] = handle
        pinned = {"workers": [handle.worker], "allow_other_workers": False} if handle.worker else {}
        handle.future = self.client.submit(
            run_try, spec, token, self.topic, key=token, pure=False, retries=0, resources=needs or None, **pinned
        )
        handle.future.add_done_callback(lambda _: handle.inbox.put(_DONE))
        return handle

    def _choose(self, needs: Mapping[str, float]) -> str:
        """The live worker with ``needs`` running the fewest of our tries ("" when none has them yet)."""
        busy: dict[str, int] = {}
        for handle in self._handles.values():
            busy[handle.worker] = busy.get(handle.worker, 0) + 1
        able = [
            address
            for address, has in self._workers.items()
            if all(has.get(name, 0.0) >= amount for name, amount in needs.items())
        ]
        return min(able, key=lambda address: (busy.get(address, 0), address), default="")

    def _refresh_workers(self) -> None:
        """The workers and their resources, from the scheduler."""
        try:
            workers = self.client.scheduler_info(n_workers=-1).get("workers", {})
        except Exception:  # closing, or the scheduler is gone: the events keep the list
            return
        found = {address: dict(info.get("resources") or {}) for address, info in workers.items()}
        with self._lock:
            self._workers = found

    def _on_output(self, event: tuple[float, dict[str, Any]]) -> None:
        message = event[1]
        with self._lock:
            handle = self._handles.get(message.get("token", ""))
        if handle is not None:
            handle.inbox.put(message)

    def _on_cluster_event(self, event: tuple[float, dict[str, Any]]) -> None:
        message = event[1]
        if message.get("action") == "remove-worker":
            with self._lock:
                self._workers.pop(str(message.get("worker")), None)
                on_it = [handle for handle in self._handles.values() if handle.worker == message.get("worker")]
            for handle in on_it:
                handle.inbox.put(_GONE)
        elif message.get("action") == "add-worker":
            with self._lock:
                self._workers.setdefault(str(message["worker"]), {})
                calls = list(self._warm.values())
            threading.Thread(target=self._refresh_workers, name="dask-workers", daemon=True).start()
            if calls:
                self._warm_on(str(message["worker"]), calls)

    def forget(self, token: str) -> None:
        with self._lock:
            self._handles.pop(token, None)

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
        with contextlib.suppress(Exception):
            self.client.unsubscribe_topic("all")
            self.client.unsubscribe_topic(self.topic)
        self.client.close()
        if self._cluster is not None:
            self._cluster.close()


class DaskHandle:
    """A try running as a Dask task; its output arrives in :attr:`inbox` from the launcher's subscription."""

    def __init__(self, launcher: DaskLauncher, token: str) -> None:
        self.launcher = launcher
        self.client = launcher.client
        self.token = token
        self.future: Any = None
        self.worker = ""
        self.inbox: queue.Queue[Any] = queue.Queue()
        self._received: dict[int, list[str]] = {}
        self._next = 0
        self._done = False
        self._gone = False
        self._ended = False
        self._result: dict[str, Any] | None = None
        self._stopped_as: int | None = None
        self._started = False

    def _absorb(self, item: Any) -> None:
        if item is _DONE:
            self._done = True
        elif item is _GONE:
            self._gone = True
        elif "seq" in item:
            self._received[int(item["seq"])] = list(item["lines"])
        else:  # the first message: it started (the scheduler adds the worker's address to every event)
            self.worker = str(item.get("worker") or self.worker)
            self._started = True

    def _ready_lines(self) -> list[str]:
        found: list[str] = []
        while self._next in self._received:
            found += self._received.pop(self._next)
            self._next += 1
        return found

    def read(self, timeout: float) -> list[str] | None:
        if self._ended:
            return None
        give_up = time.monotonic() + timeout
        found: list[str] = []
        while not found and not self._ended:
            with contextlib.suppress(queue.Empty):
                self._absorb(self.inbox.get(timeout=max(0.0, give_up - time.monotonic())))
                while True:
                    self._absorb(self.inbox.get_nowait())
            found = self._ready_lines()
            if self._gone:
                self._ended = True
            elif self._done:
                found += self._finish_lines()
                self._ended = True
            elif time.monotonic() >= give_up:
                break
        return found if found or not self._ended else None

    def _finish_lines(self) -> list[str]:
        """The batches still on their way and the last lines, which came with the result."""
        result = self._fetch()
        if result is None:
            return []
        found: list[str] = []
        batches = int(result["batches"])
        give_up = LAST_BATCHES_SECONDS
        while self._next < batches and give_up > 0:
            with contextlib.suppress(queue.Empty):
                self._absorb(self.inbox.get(timeout=0.05))
            give_up -= 0.05
            found += self._ready_lines()
        return found + list(result["tail"])

    def _fetch(self) -> dict[str, Any] | None:
        """The task's result (None when it erred or was cancelled)."""
        if self._result is None:
            try:
                self._result = self.future.result()
            except Exception:  # KilledWorker, cancelled: wait() says which
                return None
        return self._result

    def stop(self, *, first_signal: int = signal.SIGTERM, grace: float = 10.0) -> None:
        from orchestrate_ext.execution.dask_worker import request_stop

        if self._stopped_as is not None:
            return
        self._stopped_as = int(first_signal)
        request = {"first_signal": int(first_signal), "grace": float(grace)}
        if not self._started:  # still waiting for its worker: it need not start at all
            self.future.cancel()

        def send() -> None:
            with contextlib.suppress(Exception):
                self.client.run(request_stop, self.token, request)

        threading.Thread(target=send, name=f"stop-{self.token}", daemon=True).start()

    def wait(self, timeout: float | None = None) -> int | None:
        from distributed import TimeoutError as DaskTimeout

        while not (self._done or self._gone):
            try:
                self._absorb(self.inbox.get(timeout=timeout))
            except queue.Empty:
                return None
        if self._gone and not self._done:
            raise self._lost()
        try:
            result = self._result if self._result is not None else self.future.result(timeout=timeout)
        except (TimeoutError, DaskTimeout):
            return None
        except Exception as exc:  # erred (KilledWorker: its worker died), or cancelled before it started
            if self.future.cancelled() and self._stopped_as is not None:
                self._forget()
                return -self._stopped_as
            raise self._lost() from exc
        self._result = result
        self.worker = str(result["worker"])
        for path, content in result["files"].items():
            target = Path(path)
            if not target.exists():  # not shared with the worker: bring its copy home
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(content)
        self._forget()
        return int(result["returncode"])

    def _lost(self) -> WorkerLost:
        self._forget()
        with contextlib.suppress(Exception):
            self.future.cancel()  # pinned to the dead worker: it would wait for it for ever
        where = f"the Dask worker {self.worker}" if self.worker else "its Dask worker"
        return WorkerLost(f"crashed: {where} died or left while running this try")

    def _forget(self) -> None:
        """Drop the try's task from the scheduler, without waiting."""
        self.launcher.forget(self.token)
        with contextlib.suppress(Exception):
            self.future.release()
