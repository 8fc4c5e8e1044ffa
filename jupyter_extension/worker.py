"""Executes one notebook with papermill: ``python -m jupyter_extension.worker SPEC``.

SPEC is the JSON the runner passes as the only argument (input, output, cwd,
kernel, parameters, result), so a worker on another machine needs no file of
the engine's to start. The outcome is written to ``result`` as JSON, with the
failing cell and exception when the notebook raised. This is how a try runs
with ``notebooks.warm_kernels: 0``; otherwise the runner executes notebooks on
warm kernels (:mod:`jupyter_extension.kernel_pool`), here or inside a Dask
worker (:mod:`jupyter_extension.dask_kernels`).
"""

from __future__ import annotations

import json
import logging
import re
import sys
import threading
from pathlib import Path
from typing import IO, Any

_NOTEBOOK = threading.local()
"""The node a thread executes (notebooks run in threads of one process on warm kernels)."""


class _NodeName(logging.Filter):
    """Puts the node's id before papermill's messages ("Passed unknown parameter: top_n"), which name none."""

    def filter(self, record: logging.LogRecord) -> bool:
        node = getattr(_NOTEBOOK, "node", None)
        if node and not getattr(record, "orchestrate_node", None):
            record.msg = f"{node}: {record.msg}"
            setattr(record, "orchestrate_node", node)  # noqa: B010 (a LogRecord takes extra attributes)
        return True


def _name_papermill_messages() -> None:
    """Add :class:`_NodeName` to papermill's logger, once."""
    papermill_log = logging.getLogger("papermill")
    if not any(isinstance(item, _NodeName) for item in papermill_log.filters):
        papermill_log.addFilter(_NodeName())


def execute(spec: dict[str, Any], *, kernel_manager: Any = None, log: IO[str] | None = None) -> dict[str, Any]:
    """Run the notebook ``spec`` names with papermill and write its result file; return the result.

    Args:
        kernel_manager: a started ``jupyter_client`` kernel manager to run on (its kernel is
            left running; the caller shuts it down); None starts a kernel of ``spec['kernel']``.
        log: where the cells' printed output goes as they run (default: papermill's logger).
    """
    import papermill

    Path(spec["output"]).parent.mkdir(parents=True, exist_ok=True)
    Path(spec["result"]).parent.mkdir(parents=True, exist_ok=True)
    streams: dict[str, Any] = {"log_output": True} if log is None else {"stdout_file": log, "stderr_file": log}
    result: dict[str, Any]
    _name_papermill_messages()
    _NOTEBOOK.node = spec.get("node") or Path(spec["input"]).name
    try:
        papermill.execute_notebook(
            spec["input"],
            spec["output"],
            parameters=spec["parameters"],
            kernel_name=spec["kernel"],
            cwd=spec["cwd"] if kernel_manager is None else None,  # a started kernel has its folder; never chdir
            progress_bar=False,
            km=kernel_manager,
            **streams,
        )
        result = {"status": "success", "output": spec["output"]}
    except Exception as exc:
        result = {"status": "failed", "error": describe_failure(exc, spec["output"]), "output": spec["output"]}
        failure = f"the notebook failed: {result['error']}\n{_traceback_text(exc)}"
        if log is None:
            logging.error("%s", failure)
        else:
            log.write(failure + "\n")
    finally:
        _NOTEBOOK.node = None
    Path(spec["result"]).write_text(json.dumps(result), encoding="utf-8")
    return result


def describe_failure(exc: BaseException, output_path: str) -> str:
    """``cell 3 (execution 2): ValueError: no rows`` for papermill's error, else the exception.

    The cell number is 1-based and counts the cells of the user's own notebook,
    not the parameters cell papermill injects into the output.
    """
    from papermill.exceptions import PapermillExecutionError

    if isinstance(exc, PapermillExecutionError):
        cell = _input_cell_number(output_path, exc.cell_index)
        return f"cell {cell} (execution {exc.exec_count}): {exc.ename}: {exc.evalue}"
    return f"{type(exc).__name__}: {exc}"


def _traceback_text(exc: BaseException) -> str:
    """The kernel's traceback (papermill keeps it on the error), without terminal colours."""
    lines = getattr(exc, "traceback", None) or [str(exc)]
    return re.sub(r"\x1b\[[0-9;]*m", "", "\n".join(lines))


def _input_cell_number(output_path: str, output_index: int) -> int:
    import nbformat

    try:
        cells = nbformat.read(output_path, as_version=4).cells[:output_index]
    except (OSError, ValueError):
        return output_index + 1
    injected = sum("injected-parameters" in cell.metadata.get("tags", []) for cell in cells)
    return output_index - injected + 1


def main(spec_text: str) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", stream=sys.stdout)
    result = execute(json.loads(spec_text))
    return 0 if result["status"] == "success" else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
