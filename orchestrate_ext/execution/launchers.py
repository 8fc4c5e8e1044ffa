"""The launcher that ``executor:`` in orchestrate.yaml asks for: local, or a Dask cluster."""

from __future__ import annotations

import os
from pathlib import Path

from orchestrate_ext import extras
from orchestrate_ext.config import ExecutorConfig
from orchestrate_ext.errors import ConfigError
from orchestrate_ext.launcher import Launcher, LocalLauncher


def open_launcher(config: ExecutorConfig, config_path: Path) -> Launcher:
    """The launcher ``executor:`` asks for (a Dask one connects to, or starts, its cluster now)."""
    if config.type == "local":
        return LocalLauncher()
    extras.require("dask", ("distributed",), f"{config_path}: key 'executor.type: dask'")
    from orchestrate_ext.execution.dask_launcher import DaskLauncher

    address = config.address
    if config.address_env is not None:
        address = os.environ.get(config.address_env)
        if not address:
            raise ConfigError(
                f"{config_path}: key 'executor.address_env' names the environment variable {config.address_env}, "
                "which is not set here; set it to the Dask scheduler's address (tcp://host:8786)"
            )
    workers = config.local.workers if config.local is not None else 0
    return DaskLauncher(address, workers=workers, worker_resources=config.worker_resources)
