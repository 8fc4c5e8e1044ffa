"""Optional parts of orchestrate-ext that need a package the base install leaves out.

The base install is what a solo analyst needs (SQLite, local processes). A team adds what it uses:

========== ======================================= ==================================
extra      what it enables                         packages
========== ======================================= ==================================
postgres   ``state: {url: ...}`` / ``url_env``      psycopg, psycopg_pool
dask       ``executor: {type: dask}``              distributed
lineage    ``lineage:`` / ``OPENLINEAGE_URL``      openlineage-python
========== ======================================= ==================================

:func:`require` is called where such a feature is first used; when its package is missing it raises a
:class:`~orchestrate_ext.errors.MissingExtra` (exit 2, HTTP 400) naming the setting and the ``pip install``
command, instead of an ``ImportError`` from deep inside.
"""

from __future__ import annotations

import importlib

from orchestrate_ext.errors import MissingExtra


def require(extra: str, modules: tuple[str, ...], needed_by: str) -> None:
    """Raise :class:`MissingExtra` unless every module in ``modules`` imports.

    Args:
        extra: the name of the extra that installs the modules (``postgres``).
        modules: the top-level modules to try (``("psycopg", "psycopg_pool")``).
        needed_by: the setting or command that needs them, as the user wrote it
            (``"state.url_env in /p/orchestrate.yaml"``).
    """
    for module in modules:
        try:
            importlib.import_module(module)
        except ImportError as exc:
            raise MissingExtra(extra, module, needed_by) from exc
