"""A thread that repeats one pass of work, woken early on demand: how the outbox senders run.

The alerts delivery worker and the lineage sender both take due rows from an outbox in passes. This
class owns their thread: a pass every ``poll_seconds``, :meth:`wake` starts the next pass at once,
:meth:`flush` waits for a pass that began after the call, :meth:`stop` ends the thread. A pass that
raises is logged (redacted) and the thread goes on: a broken collector or channel never stops it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from orchestrate_ext.errors import OrchestrateError

log = logging.getLogger(__name__)


def retry_wait(attempts: int, base: float, maximum: float) -> float:
    """Seconds before the next try after ``attempts`` tries: ``base`` doubled per further try, at most ``maximum``."""
    return float(min(base * 2 ** max(0, attempts - 1), maximum))


@contextmanager
def logged_not_raised(lock: threading.RLock, what: str, redact: Callable[[str], str]) -> Iterator[None]:
    """Hold ``lock``; log an error as ``what failed: ...`` (redacted) instead of raising it.

    For the run observers of alerts and lineage: their problems must never fail a run or the scheduler.
    """
    try:
        with lock:
            yield
    except Exception as exc:
        kind = "" if isinstance(exc, OrchestrateError) else f"{type(exc).__name__}: "
        log.error("%s failed: %s%s", what, kind, redact(str(exc)))


class PassThread:
    """Runs ``one_pass`` in a daemon thread named ``name``; ``label`` starts its log lines."""

    def __init__(
        self,
        name: str,
        label: str,
        one_pass: Callable[[], object],
        redact: Callable[[str], str],
        *,
        poll_seconds: float = 1.0,
    ) -> None:
        self.name = name
        self.label = label
        self._one_pass = one_pass
        self._redact = redact
        self.poll_seconds = poll_seconds
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._idle = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name=self.name, daemon=True)
            self._thread.start()

    def wake(self) -> None:
        self._idle.clear()
        self._wake.set()

    def flush(self, timeout: float) -> None:
        """Wait at most ``timeout`` seconds for a pass that began after this call to end."""
        if self._thread is None:
            return
        self.wake()
        self._idle.wait(timeout)

    def stop(self, timeout: float) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            try:
                self._one_pass()
            except OrchestrateError as exc:
                log.error("%s paused: %s", self.label, self._redact(str(exc)))
            except Exception as exc:
                log.error("%s failed unexpectedly: %s: %s", self.label, type(exc).__name__, self._redact(str(exc)))
            if not self._wake.is_set():
                self._idle.set()
            self._wake.wait(self.poll_seconds)
