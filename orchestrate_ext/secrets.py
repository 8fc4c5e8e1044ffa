"""Which environment variables hold secrets, and the environment a node's process gets.

orchestrate.yaml never holds a secret, only the *name* of the environment variable
that does, under a key ending in ``_env`` — ``alerts.slack.token_env``,
``alerts.email.password_env``, ``state.url_env``, or any plugin's key — at any depth.
:func:`secret_env_names` collects those names from the file as written.

Variables whose names start with ``DBT_ENV_SECRET_`` are secrets too (dbt's own
convention for credentials ``profiles.yml`` reads): a runner that needs them (dbt's)
asks for them with ``given_prefixes``; every other node goes without.

A node's process (a notebook's worker and its kernel, a dbt invocation) is started
with :func:`node_environment`: this process's environment without any of those
variables, except the ones a node of the batch lists in its ``env_passthrough``
setting. Both runners build their environment here and nowhere else; the values
themselves are only ever read to redact them (:mod:`orchestrate_ext.redact`).

A built environment is not enough on its own: any process may read
``/proc/<pid>/environ`` of its parent and other ancestors of the same user, which
is the environment the engine was *started* with, secrets included. Every process
that starts node processes (``orchestrate`` itself, the Jupyter server extension,
a Dask worker running tries) therefore calls :func:`seal_process` first: on Linux
it marks the process non-dumpable (``prctl(PR_SET_DUMPABLE, 0)``, as ssh-agent
does), so that only root can read its environment or memory. ``execve`` makes the
node processes dumpable again (they hold only what they were given), and a
process may still read its own ``/proc/self`` entries.
"""

from __future__ import annotations

import ctypes
import os
import re
import sys
from collections.abc import Iterable, Mapping
from typing import Any

from orchestrate_ext.model import Node

SECRET_KEY_SUFFIX = "_env"
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
SECRET_PREFIXES = ("DBT_ENV_SECRET_",)
"""Variables secret by their name's prefix, whether orchestrate.yaml names them or not."""
_PR_SET_DUMPABLE = 4
_PR_GET_DUMPABLE = 3


def secret_env_names(raw: Any) -> frozenset[str]:
    """Every environment variable named under a ``*_env`` key anywhere in ``raw`` (a loaded orchestrate.yaml).

    A value that is not a variable name (a secret pasted in by mistake) is not
    collected; the section's own validation refuses it without echoing it.
    """
    names: set[str] = set()
    stack: list[Any] = [raw]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            for key, value in item.items():
                if isinstance(key, str) and key.endswith(SECRET_KEY_SUFFIX):
                    candidates = value if isinstance(value, list) else [value]
                    names.update(name for name in candidates if isinstance(name, str) and ENV_NAME.fullmatch(name))
                stack.append(value)
        elif isinstance(item, list):
            stack.extend(item)
    return frozenset(names)


def prefixed_secrets(environ: Mapping[str, str] | None = None) -> frozenset[str]:
    """The variables of ``environ`` (default: this process's) that are secrets by name (:data:`SECRET_PREFIXES`)."""
    source = os.environ if environ is None else environ
    return frozenset(name for name in source if name.startswith(SECRET_PREFIXES))


def node_environment(
    secret_names: Iterable[str],
    nodes: Iterable[Node] = (),
    environ: Mapping[str, str] | None = None,
    *,
    given_prefixes: tuple[str, ...] = (),
) -> dict[str, str]:
    """The environment for one process that runs ``nodes``: ``environ`` (default: this process's) less
    every secret variable that none of ``nodes`` passes through.

    Args:
        given_prefixes: prefixes of :data:`SECRET_PREFIXES` whose variables this process gets (dbt
            gets ``DBT_ENV_SECRET_*``, which its ``profiles.yml`` reads).
    """
    source = os.environ if environ is None else environ
    allowed = {name for node in nodes for name in node.env_passthrough}
    by_prefix = {name for name in prefixed_secrets(source) if not name.startswith(given_prefixes)}
    withheld = (set(secret_names) | by_prefix) - allowed
    return {name: value for name, value in source.items() if name not in withheld}


def seal_process() -> bool:
    """Keep other processes of this user (node processes above all) from reading this process's
    environment and memory: mark it non-dumpable on Linux. True when it is (now or already).

    Idempotent and cheap; elsewhere (or when ``prctl`` is refused) it does nothing and says False.
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        prctl = libc.prctl
    except (OSError, AttributeError):
        return False
    prctl.restype = ctypes.c_int
    if prctl(_PR_GET_DUMPABLE, 0, 0, 0, 0) == 0:
        return True
    return bool(prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0) == 0)


def process_sealed() -> bool:
    """True when this process is non-dumpable (see :func:`seal_process`); False elsewhere than Linux."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return False
    prctl.restype = ctypes.c_int
    return bool(prctl(_PR_GET_DUMPABLE, 0, 0, 0, 0) == 0)
