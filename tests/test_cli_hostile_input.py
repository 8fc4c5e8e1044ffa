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


def test_cells_of_any_shape_do_not_crash_validate(tmp_path: Path) -> None:
    cells = ["a string", 7, None, {"metadata": ["tags"]}, {"metadata": {"tags": "parameters"}}]
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
