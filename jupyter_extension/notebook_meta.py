"""What a notebook says about itself: its ``orchestrate`` metadata and parameters cell."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import field_validator

from orchestrate_ext.errors import ConfigError
from orchestrate_ext.node_settings import NodeSettings, parse_settings

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
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"notebook '{label}' cannot be read as JSON: {exc}") from exc
    if not isinstance(document, dict) or not isinstance(document.get("cells"), list):
        raise ConfigError(f"notebook '{label}' is not a Jupyter notebook (no list of cells)")
    metadata = document.get("metadata") or {}
    settings = parse_settings(NotebookSettings, metadata.get(METADATA_KEY), f"notebook '{label}' metadata")
    kernelspec = metadata.get("kernelspec") or {}
    return NotebookInfo(
        path=path,
        settings=settings,
        kernel=settings.kernel or kernelspec.get("name"),
        has_parameters_cell=any(
            "parameters" in ((cell.get("metadata") or {}).get("tags") or []) for cell in document["cells"]
        ),
    )
