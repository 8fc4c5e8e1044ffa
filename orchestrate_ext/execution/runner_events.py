"""What runner threads tell the run loop: a node started, a node finished, a batch ended.

Runners report from their own threads; the reporter puts each report on the
run loop's queue with the time it arrived, and the loop (the only writer of
the run's state) takes them off in order. The reporter redacts every error and
warning on the way in (:class:`orchestrate_ext.redact.Redactor`), so no secret a
node printed reaches the store, the listeners or the alerts.
"""

from __future__ import annotations

import queue
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

from orchestrate_ext.clock import Clock
from orchestrate_ext.interfaces import NodeOutcome


@dataclass(frozen=True, slots=True)
class Started:
    node_id: str
    at: datetime
    output_path: str | None


@dataclass(frozen=True, slots=True)
class Finished:
    node_id: str
    at: datetime
    outcome: NodeOutcome


@dataclass(frozen=True, slots=True)
class BatchDone:
    batch_id: int
    error: str | None
    """What the runner raised, if it raised."""


RunnerEvent = Started | Finished | BatchDone


class QueueReporter:
    """The :class:`~orchestrate_ext.interfaces.BatchReporter` runners get: reports go on the loop's queue."""

    def __init__(self, events: queue.Queue[RunnerEvent], clock: Clock, redact: Callable[[str], str] = str) -> None:
        self._events = events
        self._clock = clock
        self._redact = redact

    def started(self, node_id: str, output_path: str | None = None) -> None:
        self._events.put(Started(node_id, self._clock.now(), output_path))

    def finished(self, node_id: str, outcome: NodeOutcome) -> None:
        redact = self._redact
        outcome = replace(
            outcome,
            error=redact(outcome.error) if outcome.error else outcome.error,
            warning=redact(outcome.warning) if outcome.warning else outcome.warning,
        )
        self._events.put(Finished(node_id, self._clock.now(), outcome))


def log_path_for(run_dir: Path, node_id: str, try_number: int) -> Path:
    """``<run>/logs/<node id>.<try>.log``: one log file per try."""
    return run_dir / "logs" / f"{node_id.replace('/', '__')}.{try_number}.log"
