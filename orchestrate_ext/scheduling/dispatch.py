"""The runs a scheduler process executes, each on a thread of its own.

A run's executor is the engine's :class:`~orchestrate_ext.execution.executor.Executor`;
the pool adds what a long-running process needs: reused threads, a cancel and a drain switch
per run for a graceful stop, and knowing which runs are alive here, so that
crash recovery never takes a run this process is still executing.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from orchestrate_ext.events import NodeChanged, RunListener
from orchestrate_ext.execution.executor import Executor
from orchestrate_ext.model import RunRecord

log = logging.getLogger(__name__)


@dataclass
class _Active:
    cancel: threading.Event
    drain: threading.Event
    done: threading.Event


class RunPool:
    """Executes runs on up to ``workers`` threads (more wait their turn).

    ``start`` returns at once: a thread of the pool's own hands the runs to the
    worker threads, so a scheduler step that starts hundreds of runs does not
    wait for as many threads to come up. ``on_finished`` hears of each run that
    ends, from its thread.
    """

    def __init__(self, workers: int = 8, on_finished: Callable[[RunRecord], None] | None = None) -> None:
        self._active: dict[str, _Active] = {}
        self._lock = threading.Lock()
        self._on_finished = on_finished
        self._threads = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="run")
        self._handing: queue.Queue[tuple[Any, ...]] = queue.Queue()
        self._hander: threading.Thread | None = None

    def start(self, executor: Executor, run_id: str, *, resume: bool = False) -> None:
        """Execute ``run_id`` on a thread of the pool (no-op when it already executes here)."""
        with self._lock:
            if run_id in self._active:
                return
            cancel, drain = threading.Event(), threading.Event()
            self._active[run_id] = _Active(cancel, drain, threading.Event())
            if self._hander is None:
                self._hander = threading.Thread(target=self._hand_over, name="run-starter", daemon=True)
                self._hander.start()
        self._handing.put((executor, run_id, cancel, drain, resume))

    def _hand_over(self) -> None:
        while True:
            self._threads.submit(self._execute, *self._handing.get())

    def _execute(
        self, executor: Executor, run_id: str, cancel: threading.Event, drain: threading.Event, resume: bool
    ) -> None:
        try:
            finished = executor.execute(run_id, cancel, drain=drain, resume=resume)
            log.info("run %s %s", run_id, finished.status.value)
            if self._on_finished is not None:
                self._on_finished(finished)
        except Exception:  # recovery picks the run up: it is ours but no longer executing
            log.exception("run %s stopped with an error", run_id)
        finally:
            with self._lock:
                active = self._active.pop(run_id, None)
            if active is not None:
                active.done.set()

    def running(self) -> set[str]:
        with self._lock:
            return set(self._active)

    def __len__(self) -> int:
        with self._lock:
            return len(self._active)

    def drain(self) -> None:
        """Start no further node in any run; running nodes go on."""
        with self._lock:
            for active in self._active.values():
                active.drain.set()

    def cancel(self) -> None:
        """Stop every running node now and cancel the rest."""
        with self._lock:
            for active in self._active.values():
                active.cancel.set()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for every run to end, at most ``timeout`` seconds in all; True when none is left."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            with self._lock:
                waiting = [active.done for active in self._active.values()]
            if not waiting:
                return True
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                return False
            waiting[0].wait(timeout=0.5 if remaining is None else min(remaining, 0.5))


class SerializedListener:
    """Passes one listener's calls on one at a time: runs execute on several threads at once."""

    def __init__(self, listener: RunListener, lock: threading.Lock) -> None:
        self.listener = listener
        self.lock = lock

    def run_started(self, run: RunRecord, node_ids: list[str]) -> None:
        with self.lock:
            self.listener.run_started(run, node_ids)

    def node_changed(self, change: NodeChanged) -> None:
        with self.lock:
            self.listener.node_changed(change)

    def run_finished(self, run: RunRecord) -> None:
        with self.lock:
            self.listener.run_finished(run)
