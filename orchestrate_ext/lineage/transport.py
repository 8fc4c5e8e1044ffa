"""The OpenLineage client transport events are sent through.

From ``lineage.transport`` when orchestrate.yaml sets it (through the
client's transport factory, with the client's own retries off: the outbox
retries, in the background), else the transport the client configures for
itself (``OPENLINEAGE_URL``, ``openlineage.yml``, ``OPENLINEAGE__TRANSPORT__*``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from orchestrate_ext.errors import ConfigError
from orchestrate_ext.lineage.config import FileTransport, HttpTransport, LineageConfig


def transport_settings(config: LineageConfig, environ: Mapping[str, str]) -> dict[str, Any] | None:
    """The client transport's configuration (as ``openlineage.yml`` writes it), or None for the client's own.

    Raises:
        ConfigError: ``api_key_env`` names a variable that is not set.
    """
    transport = config.transport
    if transport is None:
        return None
    if isinstance(transport, HttpTransport):
        settings: dict[str, Any] = {
            "type": "http",
            "url": transport.url,
            "endpoint": transport.endpoint,
            "timeout": transport.timeout,
            "verify": transport.verify,
            "retry": {"total": 0, "read": 0, "connect": 0},
        }
        if transport.api_key_env:
            key = environ.get(transport.api_key_env)
            if not key:
                raise ConfigError(
                    f"lineage.transport.api_key_env: the environment variable {transport.api_key_env} is not set "
                    "here; events wait in the outbox until a process that has it (the scheduler) sends them"
                )
            settings["auth"] = {"type": "api_key", "apiKey": key}
        return settings
    if isinstance(transport, FileTransport):
        return {"type": "file", "log_file_path": transport.log_file_path, "append": True}
    return {"type": transport.type}


def open_transport(config: LineageConfig, environ: Mapping[str, str]) -> Any:
    """The client's transport object; its ``emit`` takes an event (a JSON-ready mapping will do)."""
    settings = transport_settings(config, environ)
    if settings is None:
        from openlineage.client import OpenLineageClient

        return OpenLineageClient().transport
    from openlineage.client.transport import get_default_factory

    return get_default_factory().create(settings)
