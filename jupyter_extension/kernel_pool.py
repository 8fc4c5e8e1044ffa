"""Kernels started ahead of the notebooks that need them, one fresh kernel per notebook.

Starting a kernel is most of what a short notebook costs. The pool keeps
``spares`` started kernels for each kind of kernel the run's notebooks need
(kernel name, folder, environment) and starts a replacement as soon as one is
taken, so the next notebook finds one ready. A kernel runs exactly one
notebook and is then shut down: a notebook never sees another's variables.

Each kernel is a process group of its own (``jupyter_client`` starts it in a
new session), stopped as a group; it also exits by itself when this process
dies (``JPY_PARENT_PID``). ``close`` stops every kernel the pool still holds.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import signal
import subprocess
import threading
from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported when a kernel starts: jupyter_client costs ~0.3 s to import
    from jupyter_client.manager import KernelManager

log = logging.getLogger(__name__)

_START_TIMEOUT = 60.0


@dataclass(frozen=True, slots=True)
class KernelSpec:
    """What makes two kernels interchangeable: the kernel, its folder and the secrets it may see."""

    name: str
    cwd: str
    passthrough: tuple[str, ...] = ()


class KernelPool:
    """Started kernels, ready to run one notebook each."""

    def __init__(self, spares: int = 2, starters: int = 2) -> None:
        """``starters``: how many kernels may start at once (one on a Dask worker: the try's kernel first)."""
        self.spares = spares
        self._lock = threading.Lock()
        self._ready: dict[KernelSpec, list[Future[KernelManager]]] = {}
        self._in_use: set[KernelManager] = set()
        self._starter = ThreadPoolExecutor(max_workers=starters, thread_name_prefix="kernel-start")
        self._closed = False

    def take(self, spec: KernelSpec, env: Mapping[str, str]) -> KernelManager:
        """A started kernel for ``spec`` (one started ahead when there is one); raises if it cannot start."""
        with self._lock:
            if self._closed:
                raise RuntimeError("the kernel pool is closed")
            waiting = self._ready.setdefault(spec, [])
            chosen = waiting.pop(0) if waiting else self._starter.submit(_start, spec, dict(env))
            while len(waiting) < self.spares:
                waiting.append(self._starter.submit(_start, spec, dict(env)))
        manager = chosen.result(timeout=_START_TIMEOUT)
        with self._lock:
            self._in_use.add(manager)
            closed = self._closed
        if closed:
            self.discard(manager)
            raise RuntimeError("the kernel pool is closed")
        return manager

    def prestart(self, spec: KernelSpec, env: Mapping[str, str]) -> None:
        """Start kernels for ``spec`` until ``spares`` are ready or starting (a worker filling its pool)."""
        with self._lock:
            if self._closed:
                return
            waiting = self._ready.setdefault(spec, [])
            while len(waiting) < self.spares:
                waiting.append(self._starter.submit(_start, spec, dict(env)))

    def discard(self, manager: KernelManager) -> None:
        """Stop a kernel and its process group (after its notebook, or to stop its notebook)."""
        with self._lock:
            self._in_use.discard(manager)
        _stop(manager)

    def kill(self, manager: KernelManager) -> None:
        """Stop the kernel now, while its notebook runs (timeout, cancel); ``discard`` it afterwards."""
        _stop(manager)

    def close(self) -> None:
        """Stop every kernel started ahead and every kernel still in use; the pool starts no more."""
        with self._lock:
            self._closed = True
            waiting = [future for futures in self._ready.values() for future in futures]
            self._ready.clear()
            in_use = list(self._in_use)
            self._in_use.clear()
        for future in waiting:
            future.cancel()
        self._starter.shutdown(wait=True)
        for future in waiting:
            if not future.cancelled() and future.exception() is None:
                _stop(future.result())
        for manager in in_use:
            _stop(manager)


def _start(spec: KernelSpec, env: dict[str, str]) -> KernelManager:
    from jupyter_client.manager import KernelManager

    manager = KernelManager(kernel_name=spec.name)
    # The kernel's own stdout/stderr carry no cell output (that comes over its channels); keep them off
    # the terminal.
    manager.start_kernel(cwd=spec.cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return manager


def _stop(manager: KernelManager) -> None:
    try:
        if manager.has_kernel:
            manager.shutdown_kernel(now=True)
    except Exception:  # already gone, or half started: what matters is that nothing is left running
        log.debug("stopping a kernel failed", exc_info=True)
        pgid = getattr(manager.provisioner, "pgid", None)
        if pgid:
            with contextlib.suppress(OSError):
                os.killpg(pgid, signal.SIGKILL)
    finally:
        try:
            manager.cleanup_resources()
        except Exception:
            log.debug("cleaning up a kernel's files failed", exc_info=True)


_shared: KernelPool | None = None
_shared_lock = threading.Lock()


def shared_kernel_pool(spares: int) -> KernelPool:
    """This process's pool (every project and reload of the scheduler shares it); closed at exit."""
    global _shared
    with _shared_lock:
        if _shared is None or _shared._closed:
            _shared = KernelPool(spares)
            atexit.register(_shared.close)
        _shared.spares = max(_shared.spares, spares)
        return _shared
