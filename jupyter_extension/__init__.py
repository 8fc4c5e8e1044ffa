"""Notebook nodes for orchestrate-ext, and its JupyterLab face (server and lab extensions).

Kept import-light: the CLI imports this package for notebook nodes, so the
Jupyter server extension is imported only when a Jupyter server loads it.
"""

from __future__ import annotations


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    """Where Jupyter finds the server extension (``jupyter_extension.server``)."""
    return [{"module": "jupyter_extension.server"}]


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    """The built lab extension, for ``jupyter labextension develop``."""
    return [{"src": "labextension", "dest": "orchestrate-ext"}]
