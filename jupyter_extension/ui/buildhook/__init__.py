"""Building the lab extension while the wheel is built, and going on without it where Node.js is missing.

hatch-jupyter-builder calls :func:`build` (``build-function`` in
pyproject.toml). A release wheel needs the lab extension: without Node.js
and npm the build fails. An editable install (``pip install -e .``) is
marked ``optional-editable-build``: the error below becomes a warning, and the
command line, the scheduler and the Jupyter server extension are installed
without the JupyterLab panel. This module is not part of the wheel.
"""

from __future__ import annotations

import shutil
from typing import Any

MISSING_NODE = (
    "orchestrate-ext: Node.js and npm were not found, so the JupyterLab extension (the Schedule dialog and "
    "the Orchestrate panel) was NOT built. The `orchestrate` command, the scheduler and the REST API work "
    "without it. To get the JupyterLab panel, install Node.js 20 or later (with npm) and run `pip install -e .` "
    "again."
)


def build(target_name: str, version: str, **kwargs: Any) -> None:
    """Build the lab extension with npm, or fail with :data:`MISSING_NODE` when Node.js is not installed."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        raise RuntimeError(MISSING_NODE)
    from hatch_jupyter_builder import npm_builder

    npm_builder(target_name, version, **kwargs)
