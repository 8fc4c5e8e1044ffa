"""Notebook tries inside a Dask worker, on that worker's own warm kernel pool.

The runner sends a try to the Dask launcher as a call (not a command):
:func:`run_notebook` runs in the worker process, takes a kernel started ahead
from the worker's :class:`~jupyter_extension.kernel_pool.KernelPool` (one per
worker, kept by the worker's orchestrate-ext service and closed with it),
executes the notebook with papermill and writes the try's result file, as a
local try does. :func:`warm_kernels` starts a worker's spares before its first
try, and again on a worker that joins (or rejoins) the cluster.

No kernel outlives its worker: a kernel in use is a process group the
worker's reaper kills when the worker dies, and every kernel exits by itself
when its parent (the worker) is gone (``JPY_PARENT_PID``).
"""

from __future__ import annotations

import json
import logging
import signal
import threading
import time
from pathlib import Path
from typing import IO, Any, cast

from jupyter_extension.kernel_pool import KernelPool, KernelSpec

_DEAD_KERNEL_SECONDS = 10.0
"""How long a notebook whose kernel was stopped may take to notice it."""
RUN = "jupyter_extension.dask_kernels:run_notebook"
WARM = "jupyter_extension.dask_kernels:warm_kernels"


def _pool(service: Any, spares: int) -> KernelPool:
    pool: KernelPool = service.resource("kernel-pool", lambda: KernelPool(spares, starters=1))
    pool.spares = max(pool.spares, spares)
    return pool


def _kernel(payload: dict[str, Any]) -> KernelSpec:
    return KernelSpec(payload["kernel"], payload["cwd"], tuple(payload["passthrough"]))


def warm_payload(
    spec: dict[str, Any], passthrough: tuple[str, ...], env: dict[str, str], spares: int
) -> dict[str, Any]:
    return {
        "kernel": spec["kernel"],
        "cwd": spec["cwd"],
        "passthrough": list(passthrough),
        "env": env,
        "spares": spares,
    }


def warm_kernels(payload: dict[str, Any], service: Any) -> None:
    """Start the worker's spare kernels for one kind of kernel (run by the launcher on every worker)."""
    _pool(service, int(payload["spares"])).prestart(_kernel(payload), payload["env"])


def run_notebook(payload: dict[str, Any], io: Any) -> int:
    """Execute the notebook ``payload['spec']`` on a warm kernel of this worker; 0, or the stop signal's negative."""
    from jupyter_extension.runner import _pid

    spec = payload["spec"]
    if io.stop_requested.is_set():
        return -int(io.stop_request.get("first_signal", signal.SIGTERM))
    pool = _pool(io.service, int(payload["spares"]))
    try:
        manager = pool.take(_kernel(payload), payload["env"])
    except Exception as exc:
        error = f"kernel '{spec['kernel']}' did not start: {exc}"
        Path(spec["result"]).parent.mkdir(parents=True, exist_ok=True)
        Path(spec["result"]).write_text(json.dumps({"status": "failed", "error": error}), encoding="utf-8")
        return 1
    pgid = getattr(manager.provisioner, "pgid", None)
    if pgid:
        io.guard(pgid)
    try:
        io.write(f"executing {spec['input']} on kernel {spec['kernel']} (pid {_pid(manager)}) on a Dask worker\n")
        execution = threading.Thread(
            target=_execute_quietly, args=(spec, manager, io), name=f"notebook {spec['input']}", daemon=True
        )
        execution.start()
        io.on_stop(lambda: pool.kill(manager))
        stopped_at: float | None = None
        while execution.is_alive():
            execution.join(0.1)
            if stopped_at is None and io.stop_requested.is_set():
                stopped_at = time.monotonic()
            if stopped_at is not None and time.monotonic() - stopped_at > _DEAD_KERNEL_SECONDS:
                break  # its kernel is gone; papermill notices late: the try is over
    finally:
        pool.discard(manager)
        if pgid:
            io.unguard(pgid)
    if io.stop_requested.is_set():
        return -int(io.stop_request.get("first_signal", signal.SIGTERM))
    return 0


def _execute_quietly(spec: dict[str, Any], manager: Any, io: Any) -> None:
    from jupyter_extension.worker import execute

    try:
        execute(spec, kernel_manager=manager, log=cast(IO[str], io))
    except Exception:  # the result file is missing then; the runner reports the notebook failed
        logging.getLogger(__name__).exception("executing %s failed", spec["input"])
