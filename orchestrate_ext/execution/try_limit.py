"""A try's time limit with the time it takes to stop inside it: the same rule for notebooks and dbt nodes."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class TryLimit:
    """When a try must be over: ``timeout`` seconds after it began, the time it takes to stop inside that limit.

    A notebook's try begins when the runner reports it started (before a kernel is taken or a worker
    started); a dbt node's when dbt says it started the node. The try is asked to stop ``grace`` seconds
    before the end (a quarter of the timeout at most), so that stopping it is over by the end.
    """

    begun: float
    timeout: float | None
    grace: float

    @classmethod
    def starting(cls, now: float, timeout: float | None, stop_grace: float) -> TryLimit:
        grace = 0.0 if timeout is None else min(stop_grace, timeout / 4)
        return cls(now, timeout, grace)

    def stop_due(self, now: float) -> bool:
        """Time to ask the try to stop (``grace`` before the end)."""
        return self.timeout is not None and now >= self.begun + self.timeout - self.grace

    def left(self, now: float) -> float | None:
        """Seconds until the end (None: no limit)."""
        return None if self.timeout is None else max(0.0, self.begun + self.timeout - now)
