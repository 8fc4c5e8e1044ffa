"""Which environment variables hold secrets, and the environment a node's process gets.

orchestrate.yaml never holds a secret, only the *name* of the environment variable
that does, under a key ending in ``_env`` — ``alerts.slack.token_env``,
``alerts.email.password_env``, ``state.url_env``, or any plugin's key — at any depth.
:func:`secret_env_names` collects those names from the file as written.

A node's process (a notebook's worker and its kernel, a dbt invocation) is started
with :func:`node_environment`: this process's environment without any of those
variables, except the ones a node of the batch lists in its ``env_passthrough``
setting. Both runners build their environment here and nowhere else; the values
themselves are only ever read to redact them (:mod:`orchestrate_ext.redact`).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from typing import Any

from orchestrate_ext.model import Node

SECRET_KEY_SUFFIX = "_env"
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


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


def node_environment(
    secret_names: Iterable[str],
    nodes: Iterable[Node] = (),
    environ: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The environment for one process that runs ``nodes``: ``environ`` (default: this process's) less
    every secret variable that none of ``nodes`` passes through."""
    source = os.environ if environ is None else environ
    allowed = {name for node in nodes for name in node.env_passthrough}
    withheld = set(secret_names) - allowed
    return {name: value for name, value in source.items() if name not in withheld}
