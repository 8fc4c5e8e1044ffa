"""One broken notebook beside good ones: `run`, `backfill` and `retry` run the rest and record what they left out.

Real notebooks (papermill, ipykernel) and the installed `orchestrate` command: ``report`` depends on a
typo, ``summary`` waits for ``report``; ``load`` and ``flaky`` (which fails until a file exists) are good.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import nbformat
import pytest

from tests.conftest import run_cli

pytestmark = pytest.mark.slow

LOAD = "notebook.load"
FLAKY = "notebook.flaky"
REPORT = "notebook.report"
SUMMARY = "notebook.summary"
TYPO = "notebook 'report.ipynb' depends on 'lod', which is no dbt node, source or notebook; did you mean 'load'?"
WAITS = f"it waits for {REPORT}, which is broken"
LEFT_OUT = [{"id": REPORT, "reason": TYPO}, {"id": SUMMARY, "reason": WAITS}]
TAIL = "notebook.tail"
FLAKY_TYPO = "notebook 'flaky.ipynb' depends on 'laod', which is no dbt node, source or notebook; did you mean 'load'?"
TAIL_TYPO = (
    "notebook 'tail.ipynb' depends on 'reprot', which is no dbt node, source or notebook; did you mean 'report'?"
)


def write_notebook(path: Path, source: str, orchestrate: dict[str, Any] | None = None) -> None:
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    if orchestrate is not None:
        notebook.metadata["orchestrate"] = orchestrate
    notebook.cells.append(nbformat.v4.new_code_cell(source))
    nbformat.write(notebook, path)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "orchestrate.yaml").write_text(
        "notebooks:\n  include: ['*.ipynb']\n"
        "defaults: {retries: 0}\n"
        "schedules:\n  - {name: daily, cron: '0 6 * * *', timezone: UTC}\n"
    )
    write_notebook(tmp_path / "load.ipynb", "print('loaded')")
    ok = tmp_path / "ok"
    write_notebook(
        tmp_path / "flaky.ipynb", f"from pathlib import Path\nassert Path({str(ok)!r}).exists(), 'no ok file'", {}
    )
    _depend(tmp_path, "flaky", ["load"])
    write_notebook(tmp_path / "report.ipynb", "print('report')", {"depends_on": ["lod"]})
    write_notebook(tmp_path / "summary.ipynb", "print('summary')", {"depends_on": ["report"]})
    return tmp_path


def _depend(project: Path, name: str, depends_on: list[str]) -> None:
    path = project / f"{name}.ipynb"
    notebook = nbformat.read(path, as_version=4)
    notebook.metadata["orchestrate"] = {"depends_on": depends_on}
    nbformat.write(notebook, path)


def _json(project: Path, *args: str) -> Any:
    result = run_cli(*args, "--json", cwd=project)
    assert result.returncode in (0, 1), result.stderr
    return json.loads(result.stdout)


def _warnings(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("warning: ")]


def test_run_leaves_the_broken_notebook_out_runs_the_rest_and_records_why(project: Path) -> None:
    (project / "ok").touch()
    result = run_cli("run", "--json", cwd=project)
    assert result.returncode == 0, result.stderr
    assert _warnings(result.stderr) == [
        f"warning: {REPORT} is left out: {TYPO}",
        f"warning: {SUMMARY} is left out: {WAITS}",
    ], "each left-out node once, with why"
    document = json.loads(result.stdout)
    assert document["status"] == "success"
    assert [(node["id"], node["status"]) for node in document["nodes"]] == [(LOAD, "success"), (FLAKY, "success")]
    assert document["left_out"] == LEFT_OUT
    run_id = document["run_id"]

    [listed] = _json(project, "runs")
    assert (listed["run_id"], listed["left_out"]) == (run_id, LEFT_OUT)
    assert _json(project, "show", run_id)["left_out"] == LEFT_OUT
    shown = run_cli("show", run_id, cwd=project)
    assert shown.returncode == 0, shown.stderr
    text = " ".join(shown.stdout.split())  # the terminal folds long reasons
    assert "⊘ left out (2)" in text
    assert f"{REPORT} {TYPO}" in text and f"{SUMMARY} {WAITS}" in text

    # Only a descendant of the broken node chosen: it waits for the broken one, whose problem the warning names.
    alone = run_cli("run", "-s", "summary", cwd=project)
    assert alone.returncode == 2, alone.stderr
    assert f"nothing can run: {SUMMARY} is left out because {WAITS}" in alone.stderr
    assert len(_json(project, "runs")) == 1, "nothing ran, no run was made"


def test_the_exit_status_is_the_rests_and_a_retry_keeps_what_was_left_out(project: Path) -> None:
    write_notebook(project / "tail.ipynb", "print('tail')", {"depends_on": ["flaky"]})
    failed = run_cli("run", "--json", cwd=project)
    assert failed.returncode == 1, failed.stderr
    document = json.loads(failed.stdout)
    statuses = {node["id"]: node["status"] for node in document["nodes"]}
    assert statuses == {LOAD: "success", FLAKY: "failed", TAIL: "upstream_failed"}
    assert document["left_out"] == LEFT_OUT
    run_id = document["run_id"]

    # Everything the retry would run is broken now: nothing can run, and the run stays as it was.
    _depend(project, "flaky", ["laod"])
    refused = run_cli("retry", run_id, cwd=project)
    assert refused.returncode == 2, refused.stderr
    assert f"nothing can run: {FLAKY} is left out because {FLAKY_TYPO}" in refused.stderr
    assert _json(project, "show", run_id)["left_out"] == LEFT_OUT

    # flaky fixed (and its file there), tail broken: the retry runs flaky, leaves tail out and adds it.
    _depend(project, "flaky", ["load"])
    _depend(project, "tail", ["flaky", "reprot"])
    (project / "ok").touch()
    retried = run_cli("retry", run_id, "--json", cwd=project)
    assert retried.returncode == 0, retried.stderr
    assert _warnings(retried.stderr) == [f"warning: {TAIL} is left out: {TAIL_TYPO}"]
    again = json.loads(retried.stdout)
    assert again["status"] == "success", again
    assert again["left_out"] == [*LEFT_OUT, {"id": TAIL, "reason": TAIL_TYPO}], "kept, and the retry's added"
    statuses = {node["id"]: (node["status"], node["error"]) for node in again["nodes"]}
    assert statuses == {
        LOAD: ("success", None),
        FLAKY: ("success", None),
        TAIL: ("skipped", f"left out: {TAIL_TYPO}"),
    }


def test_backfill_leaves_the_broken_notebook_out_of_every_date(project: Path) -> None:
    (project / "ok").touch()
    result = run_cli("backfill", "daily", "--start", "2024-01-01", "--end", "2024-01-02", "--json", cwd=project)
    assert result.returncode == 0, result.stderr
    assert _warnings(result.stderr) == [
        f"warning: {REPORT} is left out: {TYPO}",
        f"warning: {SUMMARY} is left out: {WAITS}",
    ], "once for the whole backfill, not once per date"
    items = json.loads(result.stdout)
    assert [(item["logical_date"], item["status"]) for item in items] == [
        ("2024-01-01T06:00:00Z", "success"),
        ("2024-01-02T06:00:00Z", "success"),
    ]
    for item in items:
        shown = _json(project, "show", item["run_id"])
        assert shown["left_out"] == LEFT_OUT
        assert [node["id"] for node in shown["nodes"]] == [LOAD, FLAKY]
