"""``orchestrate init``: a first orchestrate.yaml for the project in a folder.

Plugins that implement :class:`~orchestrate_ext.interfaces.InitPlugin` write
their own sections (the dbt plugin finds the dbt project and writes only what
differs from what dbt does on its own); this module adds the notebooks and
the engine's defaults.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from orchestrate_ext.config import CONFIG_FILE
from orchestrate_ext.errors import ConfigError
from orchestrate_ext.interfaces import InitPlugin, Plugin

_IGNORED = {".venv", "venv", "node_modules", ".git", "dbt_packages", "target", ".orchestrate", ".ipynb_checkpoints"}


def write_initial_config(
    folder: Path, *, force: bool = False, plugins: Iterable[Plugin] = ()
) -> tuple[Path, list[str]]:
    """Write ``orchestrate.yaml`` in ``folder`` for what the plugins and the notebooks found there.

    Returns the file and the notes the plugins made (what they found, what they wrote).
    """
    folder = folder.resolve()
    path = folder / CONFIG_FILE
    if path.exists() and not force:
        raise ConfigError(f"{path} already exists; edit it, or pass --force to overwrite it")
    lines = ["# orchestrate-ext workspace: see the README for every key"]
    notes: list[str] = []
    for plugin in plugins:
        if isinstance(plugin, InitPlugin):
            section = plugin.initial_config(folder)
            if section is not None:
                lines += section.lines
                notes += section.notes
    notebooks = sorted({p.parent.relative_to(folder).as_posix() for p in _walk(folder, "*.ipynb")})
    if notebooks:
        lines += ["notebooks:", "  include:"]
        # Quoted (JSON is YAML): a glob starting with `*` (notebooks in the folder itself) would be a YAML alias.
        lines += [f"    - {json.dumps(('' if d == '.' else d + '/') + '*.ipynb')}" for d in notebooks]
    lines += [
        "concurrency: 4",
        "defaults:",
        "  retries: 0",
        "  retry_backoff: 10s",
        "  timeout: 1h",
        "state:",
        "  path: .orchestrate/state.db",
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path, notes


def _walk(folder: Path, pattern: str) -> list[Path]:
    return [p for p in folder.rglob(pattern) if not (_IGNORED & set(p.relative_to(folder).parts))]
