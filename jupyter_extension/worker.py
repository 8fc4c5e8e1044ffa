"""Executes one notebook with papermill: ``python -m jupyter_extension.worker SPEC``.

SPEC is a JSON file written by the runner (input, output, cwd, kernel,
parameters, result). The outcome is written to ``result`` as JSON, with the
failing cell and exception when the notebook raised.
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Any


def describe_failure(exc: BaseException) -> str:
    """``cell 3 (execution 2): ValueError: no rows`` for papermill's error, else the exception."""
    from papermill.exceptions import PapermillExecutionError

    if isinstance(exc, PapermillExecutionError):
        return f"cell {exc.cell_index} (execution {exc.exec_count}): {exc.ename}: {exc.evalue}"
    return f"{type(exc).__name__}: {exc}"


def main(spec_path: str) -> int:
    spec: dict[str, Any] = json.loads(Path(spec_path).read_text(encoding="utf-8"))
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", stream=sys.stdout)
    result: dict[str, Any]
    try:
        import papermill

        papermill.execute_notebook(
            spec["input"],
            spec["output"],
            parameters=spec["parameters"],
            kernel_name=spec["kernel"],
            cwd=spec["cwd"],
            log_output=True,
            progress_bar=False,
        )
        result = {"status": "success"}
    except Exception as exc:
        result = {"status": "failed", "error": describe_failure(exc)}
    Path(spec["result"]).write_text(json.dumps(result), encoding="utf-8")
    return 0 if result["status"] == "success" else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
