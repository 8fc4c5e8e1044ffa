"""What determines a notebook's result, for ``--only-changed`` runs (see :mod:`orchestrate_ext.execution.reuse`).

* code: the source of its code cells, in order, and its kernel; markdown, raw cells and
  outputs do not count, so documenting a notebook never makes it run again;
* inputs: the parameters it gets (its own, then the run's), without ``run_id`` (new in every
  run), and the logical date when its code reads ``logical_date``.

The notebook is read from disk when a run asks, so the fingerprint is of the file that runs.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from jupyter_extension.notebook_meta import load_notebook_document
from orchestrate_ext.interfaces import NodeFingerprint, RunContext
from orchestrate_ext.model import Node

_READS_LOGICAL_DATE = re.compile(r"\blogical_date\b")
_PER_RUN = frozenset({"run_id", "logical_date"})
"""Parameters every run injects; the logical date counts only where the code reads it."""


def notebook_fingerprint(node: Node, path: Path, context: RunContext) -> NodeFingerprint:
    """The fingerprint of the notebook at ``path`` as ``node`` of the run ``context``."""
    document = load_notebook_document(path, node.path)
    cells = [cell for cell in document["cells"] if isinstance(cell, dict) and cell.get("cell_type") == "code"]
    sources = [_source(cell) for cell in cells]
    code = hashlib.sha256()
    code.update(f"kernel={node.settings.get('kernel')}".encode())
    for source in sources:
        code.update(b"\0" + source.encode())
    parameters: dict[str, Any] = {
        key: value for key, value in {**node.parameters, **context.parameters}.items() if key not in _PER_RUN
    }
    if any(_READS_LOGICAL_DATE.search(source) for source in sources):
        parameters["logical_date"] = context.logical_date.isoformat()
    return NodeFingerprint(code=code.hexdigest()[:16], inputs=_canonical(parameters))


def _source(cell: Mapping[str, Any]) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else str(source)


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str, separators=(",", ":"))
