"""What a notebook says about itself: its ``orchestrate`` metadata and parameters cell.

The file is read by the engine's safe loader; anything that is not the shape of a
notebook (metadata that is a list, cells that are not mappings, ...) is a
``ConfigError`` naming the notebook, never a crash. What ``validate`` accepts here
runs: every cell has the shape papermill needs (:func:`check_cells`), parameter
names are those a notebook can be given (:mod:`orchestrate_ext.parameters`), and a
kernel is named as jupyter_client names kernel specs (:func:`check_kernel_name`).
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import field_validator

from orchestrate_ext.errors import ConfigError
from orchestrate_ext.node_settings import NodeSettings, parse_settings
from orchestrate_ext.parameters import check_parameter_names
from orchestrate_ext.safe_load import NOTEBOOK_LIMITS, load_json_file

METADATA_KEY = "orchestrate"
KERNEL_NAME = re.compile(r"[A-Za-z0-9._-]{1,255}")
"""A kernel spec's name, as jupyter_client accepts it: letters, digits, '-', '.' and '_'."""
CELL_TYPES = ("code", "markdown", "raw")


def check_kernel_name(name: str) -> str:
    """Refuse a kernel name that is not a plain kernel-spec name (e.g. ``../../tmp/x``, a path).

    Raises:
        ValueError: naming the value and the fix.
    """
    if not KERNEL_NAME.fullmatch(name) or not name.strip("."):
        shown = repr(name) if len(name) <= 60 else repr(name[:57] + "...")
        raise ValueError(
            f"{shown} is not a kernel name; use the name of an installed kernel spec (letters, digits, "
            "'-', '.' and '_'), e.g. 'python3'; `jupyter kernelspec list` shows them"
        )
    return name


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
    def _parameter_names(cls, value: dict[str, Any]) -> dict[str, Any]:
        check_parameter_names(value)
        return value

    @field_validator("kernel")
    @classmethod
    def _kernel_name(cls, value: str | None) -> str | None:
        return None if value is None else check_kernel_name(value)


@dataclass(frozen=True)
class NotebookInfo:
    path: Path
    settings: NotebookSettings
    kernel: str | None
    has_parameters_cell: bool
    parameter_names: tuple[str, ...] | None = None
    """The variables the parameters cell assigns; None when there is no cell or it cannot be parsed."""


def read_notebook(path: Path, label: str) -> NotebookInfo:
    """Read a notebook's metadata; ``label`` names it in errors (its project-relative path)."""
    document = load_notebook_document(path, label)
    metadata = notebook_metadata(document, label)
    settings = parse_settings(NotebookSettings, metadata.get(METADATA_KEY), f"notebook '{label}' metadata")
    kernelspec = metadata.get("kernelspec")
    kernel_name = kernelspec.get("name") if isinstance(kernelspec, dict) else None
    if settings.kernel is None and isinstance(kernel_name, str) and kernel_name:
        try:
            check_kernel_name(kernel_name)
        except ValueError as exc:
            raise ConfigError(f"notebook '{label}' metadata: key 'kernelspec.name': {exc}") from None
    check_cells(document["cells"], label)
    return NotebookInfo(
        path=path,
        settings=settings,
        kernel=settings.kernel or (kernel_name if isinstance(kernel_name, str) and kernel_name else None),
        has_parameters_cell=any(_tagged_parameters(cell) for cell in document["cells"]),
        parameter_names=parameter_names(document["cells"]),
    )


def parameter_names(cells: list[Any]) -> tuple[str, ...] | None:
    """The names the cells tagged ``parameters`` assign at top level (``top_n = 10``, ``a: int = 1``).

    None when no cell is tagged, or one is no valid Python (a cell of another kernel's language):
    then nobody can tell which parameters the notebook takes.
    """
    tagged = [cell for cell in cells if _tagged_parameters(cell)]
    if not tagged:
        return None
    names: list[str] = []
    for cell in tagged:
        source = cell.get("source", "")
        try:
            tree = ast.parse("".join(source) if isinstance(source, list) else str(source))
        except (SyntaxError, ValueError):
            return None
        for statement in tree.body:
            targets = (
                statement.targets
                if isinstance(statement, ast.Assign)
                else [statement.target]
                if isinstance(statement, ast.AnnAssign | ast.AugAssign)
                else []
            )
            for target in targets:
                elements = target.elts if isinstance(target, ast.Tuple | ast.List) else [target]
                names.extend(element.id for element in elements if isinstance(element, ast.Name))
    return tuple(dict.fromkeys(names))


def check_cells(cells: list[Any], label: str) -> None:
    """Refuse the first cell papermill cannot run: not a mapping, no known ``cell_type``, a ``source``
    that is not text (or a list of texts), ``metadata`` that is not a mapping, ``outputs`` that is not a list.

    Raises:
        ConfigError: naming the notebook, the cell (1-based) and the key, and how to repair it.
    """
    for number, cell in enumerate(cells, start=1):
        problem = _cell_problem(cell)
        if problem is not None:
            raise ConfigError(
                f"notebook '{label}': cell {number}: {problem}; repair the notebook (e.g. open and save it in "
                "JupyterLab, or fix the cell in its JSON)"
            )


def _cell_problem(cell: object) -> str | None:
    if not isinstance(cell, dict):
        return f"a cell must be a mapping of keys to values, not {type(cell).__name__}"
    kind = cell.get("cell_type")
    if kind not in CELL_TYPES:
        return f"'cell_type' must be one of {', '.join(CELL_TYPES)}, not {_shown(kind)}"
    source = cell.get("source", "")
    if not isinstance(source, str) and not (isinstance(source, list) and all(isinstance(x, str) for x in source)):
        return f"'source' must be text or a list of texts, not {_shown(source)}"
    if not isinstance(cell.get("metadata", {}), dict):
        return f"'metadata' must be a mapping of keys to values, not {type(cell['metadata']).__name__}"
    if kind == "code" and not isinstance(cell.get("outputs", []), list):
        return f"'outputs' must be a list, not {type(cell['outputs']).__name__}"
    return None


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


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
