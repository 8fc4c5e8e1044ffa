"""Wiring the API into a Jupyter server: configuration, routes and the backend."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from jupyter_server.utils import url_path_join
from traitlets import Float, Unicode
from traitlets.config import Configurable

from jupyter_extension.server import problems
from jupyter_extension.server.backend import Backend
from jupyter_extension.server.handlers import BACKEND_SETTING, ROUTES
from orchestrate_ext.secrets import seal_process

if TYPE_CHECKING:
    from jupyter_server.serverapp import ServerApp

API_PREFIX = "orchestrate/api"
API_ROUTES = [*ROUTES, *problems.ROUTES]
"""Every route of the API, relative to :data:`API_PREFIX`."""


class OrchestrateExtension(Configurable):
    """Settings of the orchestrate-ext server extension (``c.OrchestrateExtension.project_dir = ...``)."""

    project_dir = Unicode(
        "",
        help="The folder holding orchestrate.yaml, absolute or relative to the server's root directory; "
        "default: the root directory itself.",
    ).tag(config=True)

    cache_seconds = Float(
        5.0, help="How long a loaded project (configuration and graph) is reused before it is read again."
    ).tag(config=True)


def setup(serverapp: ServerApp) -> Backend:
    """Register the routes under ``<base_url>orchestrate/api`` and return the backend they share.

    Seals the server's process first: the runs it starts are its children, their notebooks its
    descendants, and none may read the server's environment (:func:`orchestrate_ext.secrets.seal_process`).
    """
    seal_process()
    settings = OrchestrateExtension(parent=serverapp)
    root = Path(serverapp.root_dir).expanduser().resolve()
    project_dir = root / Path(settings.project_dir).expanduser() if settings.project_dir else root
    backend = Backend(root, project_dir, cache_seconds=settings.cache_seconds)
    web_app = serverapp.web_app
    web_app.settings[BACKEND_SETTING] = backend
    base_url = web_app.settings["base_url"]
    web_app.add_handlers(
        ".*$",
        [(url_path_join(base_url, API_PREFIX, pattern), handler) for pattern, handler in API_ROUTES],
    )
    serverapp.log.info(
        "orchestrate-ext: REST API at %s for the project in %s", url_path_join(base_url, API_PREFIX), project_dir
    )
    if not lab_extension_installed():
        serverapp.log.warning(LAB_EXTENSION_MISSING)
    return backend


LAB_EXTENSION_MISSING = (
    "orchestrate-ext: the JupyterLab extension (Schedule dialog, Orchestrate panel) is not installed; it is built "
    "with Node.js when the package is installed. Install Node.js 20 or later and run `pip install -e .` again."
)


def lab_extension_installed() -> bool:
    """Whether JupyterLab finds the built lab extension (``pip install`` without Node.js skips it)."""
    from jupyter_core.paths import jupyter_path

    return any(Path(folder, "package.json").is_file() for folder in jupyter_path("labextensions", "orchestrate-ext"))


def teardown(serverapp: ServerApp) -> None:
    backend = serverapp.web_app.settings.pop(BACKEND_SETTING, None)
    if isinstance(backend, Backend):
        backend.close()
