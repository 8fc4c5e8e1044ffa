"""Text shared by the exported files: the header comment, the import block, the project folder line."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Sequence

from orchestrate_ext.export.spec import ExportContext, literal

_TITLES = {"airflow": "Airflow 3 DAGs", "dagster": "Dagster definitions"}


def header(context: ExportContext, unexpressed: Sequence[str]) -> list[str]:
    """A comment saying where the file comes from, and every setting the tool cannot express."""
    config = os.path.relpath(context.workspace.config_path, context.out_dir).replace(os.sep, "/")
    lines = [
        f"# {_TITLES[context.tool]} exported by `orchestrate export {context.tool}` from {config}.",
        "# Regenerate it after changing the project; edit it by hand once the platform team owns it.",
        "#",
    ]
    if unexpressed:
        lines.append(
            f"# Not expressible in {context.tool.capitalize()} (orchestrate-ext did this, this file does not):"
        )
        lines += [f"#   - {note}" for note in unexpressed]
    else:
        lines.append(f"# Everything the project configures is expressed in {context.tool.capitalize()}.")
    return [*lines, ""]


def import_block(imports: Iterable[str], *, future: bool = True) -> list[str]:
    """``from __future__`` first (unless ``future`` is False: Dagster reads annotations at definition
    time), then the standard library, then the rest; each group sorted."""
    unique = sorted(set(imports))
    stdlib = [line for line in unique if _module(line) in sys.stdlib_module_names]
    others = [line for line in unique if line not in stdlib]
    lines = ["from __future__ import annotations", ""] if future else []
    lines += stdlib
    if stdlib and others:
        lines.append("")
    return lines + others


def _module(line: str) -> str:
    return line.split()[1].split(".")[0]


def project_dir_line(context: ExportContext) -> list[str]:
    """``PROJECT_DIR``: the project folder, relative to this file, so the pair can move together."""
    relative = os.path.relpath(context.workspace.root, context.out_dir).replace(os.sep, "/")
    return [
        "# The orchestrate-ext project (orchestrate.yaml, the dbt project, the notebooks), relative to this file.",
        f"{context.project_expr} = (Path(__file__).resolve().parent / {literal(relative)}).resolve()",
    ]
