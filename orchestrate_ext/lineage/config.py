"""The ``lineage:`` section of orchestrate.yaml, and OpenLineage's own configuration.

Lineage is on when orchestrate.yaml has a ``lineage:`` key (unless it says
``enabled: false``), or when the OpenLineage client would find a transport by
itself: ``OPENLINEAGE_URL``, ``OPENLINEAGE_CONFIG``, ``OPENLINEAGE__TRANSPORT__*``
variables, or an ``openlineage.yml`` in the current folder or
``~/.openlineage/``. ``OPENLINEAGE_DISABLED=true`` turns it off whatever is set.
Finding out reads only the environment and two file paths: the client is not
imported when lineage is off.

The API key of an HTTP collector is never written in the file: ``api_key_env``
names the variable that holds it (and, like every ``*_env`` key, keeps it from
node processes).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field

from orchestrate_ext.config import Duration, StrictModel

TRANSPORT_ENV_PREFIX = "OPENLINEAGE__TRANSPORT__"
DEFAULT_NAMESPACE = "orchestrate"


class HttpTransport(StrictModel):
    """An OpenLineage HTTP collector (Marquez, a catalog's lineage endpoint)."""

    type: Literal["http"]
    url: str = Field(min_length=1)
    endpoint: str = "api/v1/lineage"
    timeout: Duration = 5.0
    """Seconds one POST may take; delivery runs in the background, so this never slows a run."""
    api_key_env: str | None = Field(default=None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    """The environment variable holding the collector's API key (sent as a bearer token)."""
    verify: bool = True


class ConsoleTransport(StrictModel):
    """Events logged by the client (for trying lineage out)."""

    type: Literal["console"]


class FileTransport(StrictModel):
    """Events appended to a file, one JSON document per line."""

    type: Literal["file"]
    log_file_path: str = Field(min_length=1)


Transport = Annotated[HttpTransport | ConsoleTransport | FileTransport, Field(discriminator="type")]


class LineageDelivery(StrictModel):
    retry_base: Duration = 5.0
    """The first wait after a failed delivery; doubled after each further failure."""
    retry_max: Duration = 300.0
    give_up_after: Duration = 7 * 86400.0
    """An event still undelivered after this long is marked failed (``orchestrate lineage status`` shows it)."""
    exit_wait: Duration = 2.0
    """How long ``orchestrate run`` waits at most, before it exits, for events being delivered; it stops at
    the first failure (the collector is down), and the events wait in the outbox."""


class LineageConfig(StrictModel):
    """The ``lineage:`` section of orchestrate.yaml."""

    enabled: bool = True
    namespace: str | None = Field(default=None, min_length=1)
    """The jobs' namespace (default: ``OPENLINEAGE_NAMESPACE``, else ``orchestrate``)."""
    job_name: str | None = Field(default=None, min_length=1)
    """The name of the job a run stands for (default: the project folder's name); each node's job is
    ``<job_name>.<node id>``."""
    transport: Transport | None = None
    """Where events go; without it, where the OpenLineage client's own configuration says."""
    delivery: LineageDelivery = LineageDelivery()

    def job_namespace(self, environ: Mapping[str, str] | None = None) -> str:
        env = os.environ if environ is None else environ
        return self.namespace or env.get("OPENLINEAGE_NAMESPACE") or DEFAULT_NAMESPACE


def client_configured(environ: Mapping[str, str] | None = None, cwd: Path | None = None) -> bool:
    """True when the OpenLineage client would find a transport by itself (see the module docstring)."""
    env = os.environ if environ is None else environ
    if disabled(env):
        return False
    if env.get("OPENLINEAGE_URL") or env.get("OPENLINEAGE_CONFIG"):
        return True
    if any(name.startswith(TRANSPORT_ENV_PREFIX) for name in env):
        return True
    folder = cwd if cwd is not None else Path.cwd()
    home = Path(env.get("HOME") or Path.home())
    return (folder / "openlineage.yml").is_file() or (home / ".openlineage" / "openlineage.yml").is_file()


def disabled(environ: Mapping[str, str]) -> bool:
    return environ.get("OPENLINEAGE_DISABLED", "").strip().lower() in ("true", "1", "yes")
