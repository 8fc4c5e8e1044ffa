"""Long blocking work under way in this process (a plugin's ``dbt parse``), so that a UI can say what it waits for.

A plugin wraps such work in :func:`doing`; :func:`under_way` lists what is under way now, from any thread
(the JupyterLab server answers ``GET loading`` with it while another thread builds the graph). Invariant:
an activity is listed exactly while its ``with doing(...)`` block runs, including when the block raises.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

DBT_PARSE = "dbt_parse"
"""The key of a ``dbt parse`` the dbt plugin runs to bring the manifest up to date."""


@dataclass(frozen=True)
class Activity:
    key: str
    since: float
    """``time.monotonic()`` when it started."""


_lock = threading.Lock()
_numbers = itertools.count()
_under_way: dict[int, Activity] = {}


@contextmanager
def doing(key: str) -> Iterator[None]:
    """List the activity ``key`` as under way for as long as the block runs."""
    number = next(_numbers)
    with _lock:
        _under_way[number] = Activity(key, time.monotonic())
    try:
        yield
    finally:
        with _lock:
            del _under_way[number]


def under_way(key: str) -> Activity | None:
    """The longest-running activity ``key`` under way now, or None."""
    with _lock:
        found = [activity for activity in _under_way.values() if activity.key == key]
    return min(found, key=lambda activity: activity.since) if found else None
