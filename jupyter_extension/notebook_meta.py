"""What a notebook says about itself: its ``orchestrate`` metadata and parameters cell.

The file is read by the engine's safe loader; anything that is not the shape of a
notebook (metadata that is a list, cells that are not mappings, ...) is a
``ConfigError`` naming the notebook, never a crash.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import field_validator

from orchestrate_ext.errors import ConfigError
from orchestrate_ext.node_settings import NodeSettings, parse_settings
from orchestrate_ext.safe_load import NOTEBOOK_LIMITS, load_json_file

METADATA_KEY = "orchestrate"


class NotebookSettings(NodeSettings):
    """The ``orchestrate`` key of a notebook's metadata."""

    depends_on: list[str] = []
    produces: list[str] = []
    parameters: dict[str, Any] = {}
    kernel: str | None = None
    scheduled_as: str | None = None
    """The notebook path the schedule was saved for (written by the JupyterLab dialog). A copy of the
    notebook (or the notebook moved) has another path: its schedule is held, not fired, until it is
    saved again for the new path, so a duplicated notebook never starts firing unnoticed."""

    def schedule_held_for(self, relative: str) -> str | None:
        """The path this notebook's schedule belongs to when it is not ``relative`` (a copy); else None."""
        if self.schedule is None or self.scheduled_as is None or self.scheduled_as == relative:
            return None
        return self.scheduled_as

    @field_validator("parameters")
    @classmethod
    def _identifier_names(cls, value: dict[str, Any]) -> dict[str, Any]:
        bad = [name for name in value if not name.isidentifier()]
        if bad:
            raise ValueError(f"parameter names must be Python identifiers: {', '.join(map(repr, bad))}")
        return value


@dataclass(frozen=True)
class NotebookInfo:
    path: Path
    settings: NotebookSettings
    kernel: str | None
    has_parameters_cell: bool


def read_notebook(path: Path, label: str) -> NotebookInfo:
    """Read a notebook's metadata; ``label`` names it in errors (its project-relative path)."""
    document = load_notebook_document(path, label)
    metadata = notebook_metadata(document, label)
    settings = parse_settings(NotebookSettings, metadata.get(METADATA_KEY), f"notebook '{label}' metadata")
    kernelspec = metadata.get("kernelspec")
    kernel_name = kernelspec.get("name") if isinstance(kernelspec, dict) else None
    return NotebookInfo(
        path=path,
        settings=settings,
        kernel=settings.kernel or (kernel_name if isinstance(kernel_name, str) and kernel_name else None),
        has_parameters_cell=any(_tagged_parameters(cell) for cell in document["cells"]),
    )


def load_notebook_document(path: Path, label: str) -> dict[str, Any]:
    """The notebook's JSON, checked to be a mapping with a list of cells."""
    try:
        document = load_json_file(path, NOTEBOOK_LIMITS)
    except ConfigError as exc:
        raise ConfigError(f"notebook '{label}' cannot be read as JSON: {exc}") from exc
    if not isinstance(document, dict) or not isinstance(document.get("cells"), list):
        raise ConfigError(f"notebook '{label}' is not a Jupyter notebook (no list of cells)")
    return document


def notebook_metadata(document: dict[str, Any], label: str) -> dict[str, Any]:
    """The notebook's ``metadata`` mapping (empty when absent); anything else is a ``ConfigError``."""
    metadata = document.get("metadata")
    if metadata is None:
        return {}
    if not isinstance(metadata, dict):
        raise ConfigError(
            f"notebook '{label}': 'metadata' must be a mapping of keys to values, not {type(metadata).__name__}; "
            "repair the notebook (e.g. open and save it in JupyterLab)"
        )
    return metadata


def _tagged_parameters(cell: object) -> bool:
    if not isinstance(cell, dict):
        return False
    metadata = cell.get("metadata")
    tags = metadata.get("tags") if isinstance(metadata, dict) else None
    return isinstance(tags, list) and "parameters" in tags
