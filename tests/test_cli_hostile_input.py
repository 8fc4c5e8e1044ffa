"""Hostile and broken input on the command line: exit 2 with a message naming the file, never a traceback.

Regression tests for issue 10: item 3 (an alias bomb, deep nesting, a huge integer, a non-UTF-8 file),
item 4 (time zones that are tzdata folders or absurdly long), item 5 (notebook metadata that is a list)
and item 6 (`validate` says ok for what `run`, `schedules` and `backfill` refuse). The alias bombs run the
installed `orchestrate` in a process limited to 768 MiB of address space and 60 s, so that the old
behaviour (3.7 GB and a minute for a 683-byte file) fails the test instead of taking the machine down;
the rest run the command line in this process (click's runner), where an exception that escapes is a
traceback.
"""

from __future__ import annotations

import itertools
import json
import resource
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from orchestrate_ext.cli import main

MEMORY_LIMIT = 768 * 1024 * 1024
NOTEBOOKS = "notebooks: {include: ['nb/*.ipynb']}\n"


def alias_bomb(levels: int = 9, width: int = 9) -> str:
    """A few hundred bytes that stand for ``width ** levels`` values once the aliases are expanded."""
    names = [chr(ord("a") + index) for index in range(levels + 1)]
    lines = [f"{names[0]}: &{names[0]} [{', '.join(['lol'] * width)}]"]
    for previous, name in itertools.pairwise(names):
        lines.append(f"{name}: &{name} [{', '.join([f'*{previous}'] * width)}]")
    return "\n".join(lines) + "\n"


def run_limited(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """`orchestrate ARGS` with at most 768 MiB of address space and 60 s."""

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))

    orchestrate = Path(sys.executable).with_name("orchestrate")
    return subprocess.run(
        [str(orchestrate), *args], cwd=cwd, capture_output=True, text=True, timeout=60, preexec_fn=limit, check=False
    )


def invoke(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """`orchestrate ARGS --project CWD` in this process; an exception that escapes click is a traceback."""
    result = CliRunner().invoke(main, [*args, "--project", str(cwd)])
    stderr = result.stderr
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        stderr += "\nTraceback: " + repr(result.exception)
    return subprocess.CompletedProcess(args, result.exit_code, result.stdout, stderr)


def notebook(metadata: object = None, cells: object = None) -> dict[str, object]:
    return {
        "cells": [] if cells is None else cells,
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3"}} if metadata is None else metadata,
        "nbformat": 4,
        "nbformat_minor": 5,
    }


def project(root: Path, config: str | bytes, notebooks: dict[str, object] | None = None) -> Path:
    """A notebook-only project (no dbt: nothing slow) at ``root``; returns its orchestrate.yaml."""
    (root / "nb").mkdir(parents=True, exist_ok=True)
    for name, document in (notebooks or {"a.ipynb": notebook()}).items():
        (root / "nb" / name).write_text(json.dumps(document))
    path = root / "orchestrate.yaml"
    if isinstance(config, bytes):
        path.write_bytes(config)
    else:
        path.write_text(config)
    return path


def assert_exit_2(result: subprocess.CompletedProcess[str], *fragments: str) -> None:
    assert result.returncode == 2, (result.returncode, result.stdout[-2000:], result.stderr[-2000:])
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in result.stderr, result.stderr[-2000:]


# -- item 3: one safe loader for orchestrate.yaml


def test_validate_refuses_a_small_alias_bomb_quickly_and_within_memory(tmp_path: Path) -> None:
    config = project(tmp_path, NOTEBOOKS + alias_bomb())
    assert len(config.read_bytes()) < 700  # 9**9 (387 million) values once expanded
    assert_exit_2(run_limited("validate", cwd=tmp_path), f"error: {config}: at line", "aliases (*name) are expanded")


def test_backfill_refuses_an_alias_bomb_that_validate_used_to_pass(tmp_path: Path) -> None:
    schedule = "schedules: [{name: nightly, cron: '0 6 * * *'}]\n"
    project(tmp_path, NOTEBOOKS + schedule + alias_bomb(levels=8, width=10))
    result = run_limited("backfill", "nightly", "--start", "2024-03-01", "--end", "2024-03-02", cwd=tmp_path)
    assert_exit_2(result, "aliases (*name) are expanded")
    assert not (tmp_path / ".orchestrate").exists()


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ("notebooks:\n  include: " + "[" * 20_000 + "]" * 20_000 + "\n", "nesting depth"),
        ("notebooks:\n" + "".join("  " * depth + "- \n" for depth in range(1, 500)), "nested deeper than 64"),
        (NOTEBOOKS + "concurrency: " + "9" * 5_000_000 + "\n", "larger than 1 MiB"),
        (NOTEBOOKS + "concurrency: " + "9" * 4000 + "\n", "a number has 4000 characters"),
        (NOTEBOOKS + "concurrency: " + "9" * 30 + "\n", "less than or equal to 1024"),
        (NOTEBOOKS + "defaults: {timeout: " + "9" * 30 + "}\n", "out of range"),
        (NOTEBOOKS + "defaults: {retry_backoff: .inf}\n", "out of range"),
        (NOTEBOOKS.encode() + b"# caf\xe9\n", "not UTF-8 text (byte 0xe9 at offset 42); save it as UTF-8"),
    ],
)
def test_hostile_orchestrate_yaml_is_exit_2_naming_the_file(tmp_path: Path, config: str | bytes, message: str) -> None:
    path = project(tmp_path, config)
    assert_exit_2(invoke("validate", cwd=tmp_path), str(path), message)


# -- item 4: time zones


@pytest.mark.parametrize(
    ("timezone", "message"),
    [
        ("Europe", "'Europe' is a region, not a time zone; use one of its zones, e.g. 'Europe/"),
        ("A" * 300, "is not a time zone name; use an IANA name such as 'Europe/Berlin'"),
        ("Europe/Berlin/", "is not a time zone name"),
        ("../../etc/passwd", "is not a time zone name"),
        ("zone1970.tab", "is not a time zone name"),
        ("Mars/Olympus", "'Mars/Olympus' is not a known time zone"),
    ],
)
@pytest.mark.parametrize("command", ["validate", "schedules"])
def test_bad_time_zones_in_orchestrate_yaml(tmp_path: Path, timezone: str, message: str, command: str) -> None:
    config = project(tmp_path, NOTEBOOKS + f"schedules: [{{name: s, cron: '0 6 * * *', timezone: '{timezone}'}}]\n")
    assert_exit_2(invoke(command, cwd=tmp_path), str(config), "timezone", message)


def test_bad_time_zones_in_notebook_metadata_and_alerts(tmp_path: Path) -> None:
    meta = {"kernelspec": {"name": "python3"}, "orchestrate": {"schedule": "0 6 * * *", "timezone": "America"}}
    project(tmp_path, NOTEBOOKS, {"a.ipynb": notebook(meta)})
    assert_exit_2(invoke("validate", cwd=tmp_path), "notebook 'nb/a.ipynb' metadata", "'America' is a region")
    other = tmp_path / "alerts"
    config = project(other, NOTEBOOKS + "alerts: {timezone: Europe}\n")
    assert_exit_2(invoke("validate", cwd=other), str(config), "alerts.timezone", "'Europe' is a region")


# -- item 5: notebooks that are not shaped like notebooks


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (
            notebook(metadata=["orchestrate", {"retries": 1}]),
            "'metadata' must be a mapping of keys to values, not list",
        ),
        (notebook(metadata="x"), "'metadata' must be a mapping of keys to values, not str"),
        (notebook(metadata={"orchestrate": [1, 2]}), "'orchestrate' must be a mapping of keys to values, not list"),
        (notebook(metadata={"kernelspec": ["python3"]}), "names no kernel"),
        (notebook(metadata={"orchestrate": {"tags": [[[["x"]]]] * 3}}), "orchestrate.tags"),
        (notebook(metadata={"orchestrate": {"parameters": json.loads("[" * 50 + "]" * 50)}}), "nested deeper than"),
        (notebook(metadata={"orchestrate": {"retries": 10**30}}), "less than or equal to 100"),
        (notebook(metadata={"orchestrate": {"timeout": 10**400}}), "an integer has more than 32 digits"),
        (notebook(metadata={"orchestrate": {"timeout": 10**20}}), "out of range"),
        (["not", "a", "notebook"], "is not a Jupyter notebook"),
        ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
    ],
)
def test_malformed_notebooks_are_exit_2_naming_the_notebook(tmp_path: Path, document: object, message: str) -> None:
    project(tmp_path, NOTEBOOKS)
    path = tmp_path / "nb" / "a.ipynb"
    path.write_text(document if isinstance(document, str) else json.dumps(document))
    assert_exit_2(invoke("validate", cwd=tmp_path), "nb/a.ipynb", message)


def test_odd_but_runnable_cells_pass_validate(tmp_path: Path) -> None:
    """Cells papermill runs (no metadata, tags that are a text) pass; cells it cannot run are refused (issue 18,
    ``test_cells_papermill_cannot_run_are_refused_by_validate``)."""
    cells = [
        {"cell_type": "markdown", "source": ["# a ", "title"]},
        {"cell_type": "code", "metadata": {"tags": "parameters"}, "source": "x = 1"},
        {"cell_type": "raw", "metadata": {}, "source": ""},
    ]
    project(tmp_path, NOTEBOOKS, {"a.ipynb": notebook(cells=cells)})
    result = invoke("validate", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "ok: 1 nodes (1 notebook)" in result.stdout


# -- item 6: validate checks what run, schedules, scheduler and backfill check


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            "schedules:\n  - {name: s, cron: '0 6 * * *'}\n  - {name: s, cron: '0 7 * * *'}\n",
            "two schedules are called 's'",
        ),
        (
            "schedules:\n  - {name: a, after: b}\n  - {name: b, after: a}\n",
            "the 'after' links of the schedules form a cycle",
        ),
        ("schedules:\n  - {name: a, after: nightly}\n", "runs after 'nightly', which is no schedule"),
        ("schedules:\n  - {name: s, cron: '0 6 * * *', select: reprot}\n", "schedule 's': key 'select'"),
        ("state: {path: nb}\n", "key 'state.path'"),
        ("state: {path: /dev/null}\n", "is not a regular file"),
        ("state: {path: orchestrate.yaml/state.db}\n", "is a file, so"),
    ],
)
def test_validate_refuses_what_the_other_commands_refuse(tmp_path: Path, extra: str, message: str) -> None:
    project(tmp_path, NOTEBOOKS + extra)
    assert_exit_2(invoke("validate", cwd=tmp_path), message)


def test_state_path_problems_are_exit_2_for_run_too(tmp_path: Path) -> None:
    project(tmp_path, NOTEBOOKS + "state: {path: /dev/null}\n")
    assert_exit_2(invoke("runs", cwd=tmp_path), "key 'state.path'", "is not a regular file")


def test_validate_refuses_an_empty_orchestrate_yaml(tmp_path: Path) -> None:
    for text in ("", "# only a comment\n"):
        config = project(tmp_path, text)
        result = invoke("validate", cwd=tmp_path)
        assert_exit_2(result, f"{config} is empty; run `orchestrate init`")
        assert "ok:" not in result.stdout


def test_validate_counts_schedules_and_warns_about_no_nodes(tmp_path: Path) -> None:
    project(tmp_path, "notebooks: {include: ['elsewhere/*.ipynb']}\nconcurrency: 2\n")
    result = invoke("validate", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "gives no nodes" in result.stderr
    project(tmp_path, NOTEBOOKS + "schedules: [{name: s, cron: '@daily'}]\n")
    result = invoke("validate", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "ok: 1 nodes (1 notebook), 1 schedule(s)" in result.stdout


# -- issue 18, "bad input": each refused (exit 2) with the file, key and fix, before anything is written


SCHEDULED = NOTEBOOKS + "schedules: [{name: nightly, cron: '0 6 * * *', timezone: Asia/Tokyo}]\n"


@pytest.mark.parametrize(
    "logical_date",
    [
        "0001-01-01",
        "9999-12-31",
        "9999-12-31T23:00:00Z",
        "1899-12-31T23:59:59Z",
        "3000-01-01",
        "0001-01-01T00:00+05:00",
    ],
)
def test_run_refuses_a_logical_date_no_view_can_show(tmp_path: Path, logical_date: str) -> None:
    project(tmp_path, NOTEBOOKS)
    result = invoke("run", "--logical-date", logical_date, cwd=tmp_path)
    assert_exit_2(result, "--logical-date", f"'{logical_date}'", "years 1900 to 2999", "e.g. 2024-01-31")
    assert not (tmp_path / ".orchestrate").exists()


@pytest.mark.parametrize(
    ("start", "end", "where"),
    [
        ("0001-01-01", "0001-01-03", "--start"),
        ("2024-01-01", "9999-12-31", "--end"),  # the day after 9999-12-31 was an OverflowError
        ("9999-12-30", "9999-12-31", "--start"),
        ("1899-12-30", "1900-01-02", "--start"),
        ("2999-12-30", "3000-01-01", "--end"),
    ],
)
def test_backfill_refuses_a_range_outside_the_accepted_logical_dates(
    tmp_path: Path, start: str, end: str, where: str
) -> None:
    project(tmp_path, SCHEDULED)
    result = invoke("backfill", "nightly", "--start", start, "--end", end, cwd=tmp_path)
    assert_exit_2(result, f"{where}: '", "years 1900 to 2999")
    assert not (tmp_path / ".orchestrate").exists()


def parameters_notebook(parameters: object) -> dict[str, object]:
    return notebook({"kernelspec": {"name": "python3"}, "orchestrate": {"parameters": parameters}})


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (parameters_notebook({"class": 1}), "parameter name 'class' is a Python keyword"),
        (parameters_notebook({"run_id": "x"}), "parameter 'run_id' is set by orchestrate-ext on every run"),
        (parameters_notebook({"logical_date": "2024-01-01"}), "parameter 'logical_date' is set by orchestrate-ext"),
        (parameters_notebook({"top n": 1}), "parameter name 'top n' is not a Python identifier"),
        (
            notebook(
                {
                    "kernelspec": {"name": "python3"},
                    "orchestrate": {"schedule": {"cron": "@daily", "parameters": {"for": 1}}},
                }
            ),
            "key 'orchestrate.schedule.parameters': parameter name 'for' is a Python keyword",
        ),
    ],
)
def test_notebook_parameter_names_are_checked_as_strictly_as_on_the_command_line(
    tmp_path: Path, document: object, message: str
) -> None:
    project(tmp_path, NOTEBOOKS, {"a.ipynb": document})
    assert_exit_2(invoke("validate", cwd=tmp_path), "notebook 'nb/a.ipynb' metadata", message)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            "schedules: [{name: s, cron: '@daily', parameters: {class: 1}}]\n",
            "parameter name 'class' is a Python keyword",
        ),
        ("schedules: [{name: s, cron: '@daily', parameters: {run_id: x}}]\n", "'run_id' is set by orchestrate-ext"),
    ],
)
def test_schedule_parameter_names_are_checked_too(tmp_path: Path, extra: str, message: str) -> None:
    config = project(tmp_path, NOTEBOOKS + extra)
    assert_exit_2(invoke("validate", cwd=tmp_path), str(config), "key 'schedules.0.parameters' (schedule 's')", message)


CODE = {"cell_type": "code", "metadata": {}, "source": "x = 1", "outputs": [], "execution_count": None}


@pytest.mark.parametrize(
    ("cells", "message"),
    [
        (["a string"], "cell 1: a cell must be a mapping of keys to values, not str"),
        ([CODE, 7], "cell 2: a cell must be a mapping of keys to values, not int"),
        ([{**CODE, "metadata": ["tags"]}], "cell 1: 'metadata' must be a mapping of keys to values, not list"),
        ([{**CODE, "source": [1, 2]}], "cell 1: 'source' must be text or a list of texts"),
        ([{"metadata": {}, "source": "x"}], "cell 1: 'cell_type' must be one of code, markdown, raw, not None"),
        ([{**CODE, "outputs": {}}], "cell 1: 'outputs' must be a list, not dict"),
    ],
)
def test_cells_papermill_cannot_run_are_refused_by_validate(tmp_path: Path, cells: object, message: str) -> None:
    """These passed `validate`, then the run failed with a bare TypeError (or AttributeError) from papermill."""
    project(tmp_path, NOTEBOOKS, {"a.ipynb": notebook(cells=cells)})
    assert_exit_2(invoke("validate", cwd=tmp_path), "notebook 'nb/a.ipynb': ", message, "repair the notebook")


@pytest.mark.parametrize(
    ("metadata", "key"),
    [
        ({"kernelspec": {"name": "python3"}, "orchestrate": {"kernel": "../../../tmp/x"}}, "orchestrate.kernel"),
        ({"kernelspec": {"name": "../../../tmp/x"}}, "kernelspec.name"),
        ({"kernelspec": {"name": "python3"}, "orchestrate": {"kernel": ".."}}, "orchestrate.kernel"),
        ({"kernelspec": {"name": "python 3"}}, "kernelspec.name"),
    ],
)
def test_kernel_names_that_are_paths_are_refused(tmp_path: Path, metadata: dict[str, object], key: str) -> None:
    project(tmp_path, NOTEBOOKS, {"a.ipynb": notebook(metadata)})
    assert_exit_2(invoke("validate", cwd=tmp_path), "nb/a.ipynb", f"key '{key}'", "is not a kernel name", "python3")


def test_a_kernel_name_that_is_a_path_is_refused_in_orchestrate_yaml(tmp_path: Path) -> None:
    config = project(tmp_path, "notebooks: {include: ['nb/*.ipynb'], kernel: ../x}\n")
    assert_exit_2(invoke("validate", cwd=tmp_path), str(config), "key 'notebooks.kernel'", "is not a kernel name")


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (NOTEBOOKS + "concurrency: 2\nconcurrency: 3\n", "at line 3, column 1: the key 'concurrency' appears twice"),
        (NOTEBOOKS + "defaults: {retries: 1, retries: 2}\n", "the key 'retries' appears twice in one mapping"),
        (NOTEBOOKS + NOTEBOOKS, "the key 'notebooks' appears twice in one mapping (first at line 1); keep one"),
        (NOTEBOOKS + "defaults: {retries: true}\n", "key 'defaults.retries': Input should be a valid integer"),
        (NOTEBOOKS + "defaults: {retries: '3'}\n", "key 'defaults.retries': Input should be a valid integer"),
        (NOTEBOOKS + "concurrency: 2.0\n", "key 'concurrency': Input should be a valid integer"),
        (NOTEBOOKS + "defaults: {timeout: true}\n", "key 'defaults.timeout'"),
    ],
)
def test_duplicate_keys_and_counts_that_are_not_integers_in_orchestrate_yaml(
    tmp_path: Path, config: str, message: str
) -> None:
    path = project(tmp_path, config)
    assert_exit_2(invoke("validate", cwd=tmp_path), str(path), message)


def test_merged_keys_may_still_be_overridden(tmp_path: Path) -> None:
    project(tmp_path, NOTEBOOKS + "defaults:\n  <<: {retries: 1}\n  retries: 2\n")
    result = invoke("validate", cwd=tmp_path)
    assert result.returncode == 0, result.stderr


def test_retries_true_in_notebook_metadata_is_refused(tmp_path: Path) -> None:
    project(
        tmp_path,
        NOTEBOOKS,
        {"a.ipynb": notebook({"kernelspec": {"name": "python3"}, "orchestrate": {"retries": True}})},
    )
    assert_exit_2(
        invoke("validate", cwd=tmp_path), "notebook 'nb/a.ipynb' metadata", "key 'orchestrate.retries'", "valid integer"
    )


@pytest.mark.parametrize("path", ["/proc/self/state.db", "/proc/nowhere/state.db", "/sys/state.db", "/proc"])
@pytest.mark.parametrize("command", ["validate", "runs", "run"])
def test_state_path_under_proc_names_the_key(tmp_path: Path, path: str, command: str) -> None:
    config = project(tmp_path, NOTEBOOKS + f"state: {{path: {path}}}\n")
    assert_exit_2(invoke(command, cwd=tmp_path), str(config), "key 'state.path'", "e.g. .orchestrate/state.db")


@pytest.mark.parametrize(
    ("selector", "example"),
    [
        ("tag:", "tag:nightly"),
        ("path:", "path:notebooks/reports"),
        ("kind:+", "kind:notebook"),
        ("+name:", "name:orders"),
    ],
)
def test_a_selector_method_without_a_value_says_which_methods_exist(
    tmp_path: Path, selector: str, example: str
) -> None:
    project(tmp_path, NOTEBOOKS)
    result = invoke("graph", "--select", selector, cwd=tmp_path)
    assert_exit_2(
        result, f"selector '{selector}' gives the method", "no value", f"e.g. '{example}'", "tag:NAME", "kind:"
    )
    assert "unknown method" not in result.stderr


def test_a_notebook_linked_from_outside_the_project_is_no_node(tmp_path: Path) -> None:
    root, elsewhere = tmp_path / "project", tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "secret.ipynb").write_text(json.dumps(notebook()))
    project(root, NOTEBOOKS)
    (root / "nb" / "linked.ipynb").symlink_to(elsewhere / "secret.ipynb")
    (root / "nb" / "shared").symlink_to(elsewhere, target_is_directory=True)
    (root / "nb" / "inside.ipynb").symlink_to(root / "nb" / "a.ipynb")  # a link inside the project is fine
    project(root, "notebooks: {include: ['nb/**/*.ipynb', 'nb/*/*.ipynb']}\n")
    result = invoke("validate", cwd=root)
    assert result.returncode == 0, result.stderr
    assert "ok: 2 nodes (2 notebook)" in result.stdout
    assert f"'nb/linked.ipynb' links to {elsewhere / 'secret.ipynb'}, outside the project folder" in result.stderr
    assert "'nb/shared/secret.ipynb' links to" in result.stderr
    graph = invoke("graph", "--format", "json", cwd=root)
    assert "linked" not in graph.stdout and "secret" not in graph.stdout and "inside" in graph.stdout


@pytest.mark.parametrize("since", ["9999-12-31T23:59-05:00", "0001-01-01T00:00+05:00"])
def test_runs_since_a_date_that_overflows_in_utc_is_exit_2(tmp_path: Path, since: str) -> None:
    project(tmp_path, NOTEBOOKS)
    assert_exit_2(invoke("runs", "--since", since, cwd=tmp_path), f"--since: '{since}' is outside", "e.g. 2026-11-30")


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (["runs", "--limit", str(10**30)], "--limit"),
        (["ticks", "--limit", str(2**63)], "--limit"),
        (["logs", "r1", "notebook.nb/a", "--try", "-1"], "--try"),
        (["logs", "r1", "notebook.nb/a", "--try", "0"], "--try"),
    ],
)
def test_numbers_the_store_cannot_hold_are_exit_2_and_write_nothing(
    tmp_path: Path, args: list[str], option: str
) -> None:
    project(tmp_path, NOTEBOOKS)
    result = invoke(*args, cwd=tmp_path)
    assert result.returncode == 2, result
    assert f"Invalid value for '{option}'" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / ".orchestrate").exists()
