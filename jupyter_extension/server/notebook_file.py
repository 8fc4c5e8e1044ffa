"""Reading a notebook's ``orchestrate`` metadata and its parameters cell; writing the metadata back.

The file is rewritten the way Jupyter writes notebooks (sorted keys, one-space
indent, UTF-8), atomically: a reader (the scheduler) sees the old file or the
new one, never half of one. Only ``metadata.orchestrate`` changes.
"""

from __future__ import annotations

import ast
import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from jupyter_extension.notebook_meta import METADATA_KEY, load_notebook_document, notebook_metadata
from orchestrate_ext.errors import ConfigError
from orchestrate_ext.parameters import RESERVED_PARAMETERS

INJECTED_PARAMETERS = RESERVED_PARAMETERS
"""Parameters orchestrate-ext sets on every run; a schedule cannot set them."""


def read_document(path: Path, label: str) -> dict[str, Any]:
    """The notebook's JSON through the engine's safe loader; ``ConfigError`` when it is no notebook."""
    return load_notebook_document(path, label)


def orchestrate_metadata(document: dict[str, Any], label: str) -> dict[str, Any]:
    value = notebook_metadata(document, label).get(METADATA_KEY) or {}
    if not isinstance(value, dict):
        raise ConfigError(
            f"notebook '{label}' metadata: 'orchestrate' must be a mapping of keys to values, "
            f"not {type(value).__name__}"
        )
    return dict(value)


def write_metadata(path: Path, document: dict[str, Any], settings: dict[str, Any]) -> None:
    """Replace ``metadata.orchestrate`` of the notebook at ``path`` (``document`` is its content)."""
    updated = dict(document)
    metadata = dict(updated.get("metadata") or {})
    if settings:
        metadata[METADATA_KEY] = settings
    else:
        metadata.pop(METADATA_KEY, None)
    updated["metadata"] = metadata
    text = json.dumps(updated, sort_keys=True, indent=1, ensure_ascii=False) + "\n"
    mode = path.stat().st_mode & 0o7777
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def parameters_cell(path: Path) -> list[dict[str, Any]]:
    """The parameters cell's variables, with their defaults as JSON where they are plain literals.

    papermill's own inspection reads the cell (no kernel is started).
    """
    from papermill import inspect_notebook

    try:
        found = inspect_notebook(str(path))
    except Exception:  # papermill raises many kinds for odd notebooks; the form then starts empty
        return []
    result = []
    for name, item in found.items():
        source = str(item.get("default") or "")
        value, plain = _literal(source)
        result.append(
            {
                "name": name,
                "source": source,
                "value": value,
                "plain": plain,
                "help": item.get("help") or "",
                "injected": name in INJECTED_PARAMETERS,
            }
        )
    return result


def _literal(source: str) -> tuple[Any, bool]:
    """The JSON value a Python literal stands for, and whether it is one."""
    try:
        value = ast.literal_eval(source)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return None, False
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        return None, False
    return value, True
