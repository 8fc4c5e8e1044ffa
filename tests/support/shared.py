"""Expensive test set-ups (a real ``dbt parse``) made once per test run, shared by every pytest-xdist worker.

A session fixture runs once per process; with ``pytest -n 3`` that is three ``dbt parse`` of the same
project. :func:`prepared_once` builds the tree once in the folder all workers of the run share (the
parent of each worker's base temporary folder), under a file lock; the other workers wait for it and
use the finished tree. Without xdist it is an ordinary session-temporary folder. The trees are
templates: tests copy them and never change them.
"""

from __future__ import annotations

import fcntl
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest


def prepared_once(factory: pytest.TempPathFactory, name: str, build: Callable[[Path], None]) -> Path:
    """The folder ``name``, filled by ``build(folder)`` once per test run (also across xdist workers)."""
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        folder = factory.mktemp(name)
        build(folder)
        return folder
    shared = factory.getbasetemp().parent  # pytest-of-<user>/pytest-<n>/, above each worker's gw<i>/
    folder = shared / f"shared-{name}"
    with open(shared / f"shared-{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not folder.exists():
            building = shared / f"shared-{name}.building"
            shutil.rmtree(building, ignore_errors=True)
            building.mkdir()
            build(building)
            building.rename(folder)  # complete or absent: a failed build leaves nothing to reuse
    return folder
