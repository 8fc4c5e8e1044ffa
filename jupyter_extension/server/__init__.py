"""The Jupyter server extension: orchestrate-ext's REST API under ``/orchestrate/api/``.

Enabled on install by ``jupyter-config/server-config/jupyter_extension.json``
(installed to ``etc/jupyter/jupyter_server_config.d``). Importing this package
is cheap; Jupyter and tornado are imported when the server loads it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from jupyter_server.serverapp import ServerApp


def _load_jupyter_server_extension(serverapp: ServerApp) -> None:
    from jupyter_extension.server.app import setup

    setup(serverapp)


def _unload_jupyter_server_extension(serverapp: ServerApp) -> None:
    from jupyter_extension.server.app import teardown

    teardown(serverapp)
