"""Fuzzing what users write: orchestrate.yaml, notebook metadata and dbt ``meta`` (issue 10).

Hypothesis generates hostile and near-valid inputs; the real command line (`validate`, `graph`, and for
orchestrate.yaml also `schedules` and `runs`) runs on them in this process (click's runner), so an
exception that escapes is a traceback. For every input:

* the exit code is 0, 1 or 2 and no exception escapes;
* nothing is written: no state store (or any other file) appears in the project.

Issue 18 added the classes that used to pass `validate` and then fail: duplicate YAML keys, counts that are
not integers (``retries: true``), ``state.path`` under /proc, parameter names that are keywords or reserved,
kernel names that are paths, cells papermill cannot run, selectors without a value, and logical dates no view
can show (``test_any_logical_date``: a date is refused, or every view can show it in every zone).

The REST bodies are fuzzed against a real Jupyter server in ``tests/jupyter_extension/test_fuzz_rest.py``
(slow). Examples are bounded (40 a property; ``FUZZ_EXAMPLES=N`` for more) so that this file runs in the
fast tier in about 40 s.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from orchestrate_ext.cli import main
from orchestrate_ext.clock import MAX_DURATION, parse_datetime
from orchestrate_ext.timefmt import TimeStyle

EXAMPLES = settings(
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "40")), deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
MANIFEST_SCHEMA = "https://schemas.getdbt.com/dbt/manifest/v12.json"

# -- values: plausible, hostile and plain random

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**40), max_value=10**40)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20)
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=15,
)
ints = st.integers(min_value=-3, max_value=120) | st.sampled_from([10**30, -(10**30), 2**63, 10**40])
names = st.sampled_from(["a", "nb/a", "notebooks/a", "model.p.m", "m", "nightly", "x" * 300, "", "../a", "é"])
durations = st.sampled_from(["5m", "1h30m", "0", "-1s", "forever", "", "1e999", 10**20, -3, 0.5, float("inf")]) | values
timezones = st.sampled_from(
    ["UTC", "Europe/Berlin", "Europe", "America/", "A" * 300, "../../etc/passwd", "Etc/..", "zone1970.tab", ""]
) | st.text(max_size=15)
crons = st.sampled_from(["0 6 * * *", "@daily", "*/5 * * * *", "0 7 * * MON-FRI", "0 0 31 2 *", "61 * * * *", ""]) | (
    st.text(max_size=15)
)
globs = st.sampled_from(
    ["nb/*.ipynb", "**/*.ipynb", "*.ipynb", "", "/tmp/*.ipynb", "../*.ipynb", "nb/[", "nb/**", "~/x", "a\x00b"]
)
state_paths = st.sampled_from(
    [".orchestrate/state.db", "state.db", "nb", "/dev/null", "orchestrate.yaml/x.db", "", " ", "a\x00b", "nb/a.ipynb"]
) | st.sampled_from(["/proc/self/state.db", "/proc/x/state.db", "/sys/state.db", "/proc"])
counts = ints | st.sampled_from([True, False, "3", 2.0, 2.5, None])
parameter_names = st.sampled_from(["top_n", "class", "for", "run_id", "logical_date", "not valid", "1x", "", "é"]) | (
    st.text(max_size=6)
)
kernels = st.sampled_from(
    ["python3", "", "nope", "../../../tmp/x", "..", ".", "python 3", "a/b", "x" * 300, "py-3.11_a"]
)


def keyed(optional: dict[str, Any], required: dict[str, Any] | None = None) -> st.SearchStrategy[dict[str, Any]]:
    """Mappings with some of the keys of ``optional`` (and all of ``required``)."""
    return st.fixed_dictionaries(required or {}, optional=optional)


def shapes(wild: bool) -> dict[str, st.SearchStrategy[Any]]:
    """The strategies of every documented key: of the right type with hostile values, or also of any type."""

    def typed(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
        return strategy | values if wild else strategy

    def keys(optional: dict[str, Any], required: dict[str, Any] | None = None) -> st.SearchStrategy[Any]:
        return typed(
            keyed(
                {key: typed(value) for key, value in optional.items()},
                {key: typed(value) for key, value in (required or {}).items()},
            )
        )

    schedule = crons | keys(
        {
            "cron": crons,
            "timezone": timezones,
            "catchup": st.sampled_from(["latest", "all", "none", "sometimes"]),
            "max_catchup": ints,
            "max_active_runs": ints,
            "parameters": st.dictionaries(parameter_names, scalars, max_size=3),
            "after": names | st.lists(names, max_size=2),
            "on_file": globs | st.lists(globs, max_size=2),
            "ancestors": st.sampled_from(["stale", "all", "none", "some"]),
        }
    )
    route = keys({"on": st.lists(st.sampled_from(["failure", "retry", "boom"]), max_size=2), "slack": names})
    common = {
        "owner": names,
        "retries": counts,
        "retry_backoff": durations,
        "timeout": durations,
        "tags": st.lists(names, max_size=3),
        "resources": st.lists(names, max_size=3),
        "env_passthrough": st.lists(st.sampled_from(["SLACK_BOT_TOKEN", "HOME", "1BAD", ""]), max_size=2),
        "schedule": schedule,
        "timezone": timezones,
        "sla": keys({"finish_by": st.sampled_from(["07:30", "25:00", ""]), "max_duration": durations}),
        "alerts": route | st.lists(route, max_size=2),
    }
    notebook_only = {
        "depends_on": st.lists(names, max_size=3),
        "produces": st.lists(names, max_size=2),
        "parameters": st.dictionaries(parameter_names, values, max_size=3),
        "kernel": kernels,
    }
    schedule_entry = keys(
        {
            "cron": crons,
            "timezone": timezones,
            "select": st.sampled_from(["a", "+a", "tag:x", "kind:notebook", "nope", "", "x:y"]),
            "after": names,
            "on_file": globs,
            "catchup": st.sampled_from(["latest", "all"]),
            "max_catchup": ints,
            "parameters": st.dictionaries(parameter_names, scalars, max_size=2),
            "sla": keys({"finish_by": st.sampled_from(["07:30", "7"]), "freshness": durations}),
        },
        {"name": names},
    )
    config = keys(
        {
            "concurrency": counts,
            "defaults": keys({"retries": counts, "retry_backoff": durations, "timeout": durations}),
            "state": keys({"path": state_paths}),
            "schedules": st.lists(schedule_entry, max_size=3),
            "alerts": keys(
                {
                    "slack": keys({"token_env": st.sampled_from(["SLACK_BOT_TOKEN", "xoxb-pasted-token"])}),
                    "timezone": timezones,
                    "routes": st.lists(route, max_size=2),
                }
            ),
            "dbt": keys({"project_dir": st.sampled_from([".", "dbt", "nb"]), "target": names}),
            "executor": keys({"type": st.sampled_from(["local", "dask"]), "local": keys({"workers": counts})}),
            **({"colour": values} if wild else {}),
        },
        {
            "notebooks": keys(
                {"include": st.lists(globs, min_size=1, max_size=2), "exclude": st.lists(globs, max_size=1)}
            )
        },
    )
    return {
        "node": keys(common),
        "notebook": keys({**common, **notebook_only}),
        "config": config,
    }


TYPED, WILD = shapes(wild=False), shapes(wild=True)


yaml_tricks = st.sampled_from(
    [
        "notebooks: &n {include: ['nb/*.ipynb']}\nschedules: [{name: s, cron: '@daily'}]\nx: *n\n",
        "notebooks: {include: ['nb/*.ipynb']}\na: &a [1, 2]\nb: [*a, *a, *a]\n",
        "notebooks: {include: ['nb/*.ipynb']}\nconcurrency: !!float 1e400\n",
        "notebooks: !!python/object/apply:os.system ['true']\n",
        "notebooks: {include: *undefined}\n",
        "? [complex, key]\n: 1\n",
        "notebooks:\n  <<: {include: ['nb/*.ipynb']}\n",
        "- a\n- list\n",
        "just text",
        "notebooks: {include: ['nb/*.ipynb']}\n---\nsecond: document\n",
        "notebooks: {include: ['nb/*.ipynb']}\nconcurrency: 0x" + "f" * 40 + "\n",
        "notebooks: {include: ['nb/*.ipynb']}\nconcurrency: 1_0\n",
        "notebooks: {include: ['nb/*.ipynb']}\ndefaults: {timeout: 190:20:30}\n",
        "notebooks: {include: ['nb/*.ipynb']}\nconcurrency: 1\nconcurrency: 2\n",
        "notebooks: {include: ['nb/*.ipynb']}\nnotebooks: {include: ['*.ipynb']}\n",
        "notebooks: {include: ['nb/*.ipynb'], include: ['x/*.ipynb']}\n",
        "notebooks: {include: ['nb/*.ipynb']}\nd: &d {retries: 1}\ndefaults: {<<: *d, retries: 2}\n",
        "notebooks: {include: ['nb/*.ipynb']}\n1: a\n'1': b\n",
        "notebooks: {include: ['nb/*.ipynb']}\ndefaults: {retries: true}\n",
        "notebooks: {include: ['nb/*.ipynb'], kernel: ../../../tmp/x}\n",
    ]
)
config_texts = (
    (TYPED["config"] | WILD["config"]).map(lambda document: yaml.safe_dump(document, allow_unicode=True))
    | yaml_tricks
    | st.text(max_size=200)
)


# -- projects


def notebook_document(metadata: Any) -> dict[str, Any]:
    return {
        "cells": [{"cell_type": "code", "metadata": {"tags": ["parameters"]}, "source": "x = 1", "outputs": []}],
        "metadata": metadata,
        "nbformat": 4,
        "nbformat_minor": 5,
    }


@contextmanager
def project(config: str | bytes, metadata: Any = None) -> Iterator[Path]:
    """A notebook-only project in a fresh folder: ``config`` as orchestrate.yaml, one notebook."""
    with tempfile.TemporaryDirectory(prefix="fuzz-") as folder:
        root = Path(folder)
        (root / "nb").mkdir()
        meta = {"kernelspec": {"name": "python3", "display_name": "Python 3"}} if metadata is None else metadata
        (root / "nb" / "a.ipynb").write_text(json.dumps(notebook_document(meta)))
        path = root / "orchestrate.yaml"
        if isinstance(config, bytes):
            path.write_bytes(config)
        else:
            path.write_text(config, encoding="utf-8", errors="surrogatepass")
        yield root


def files_in(root: Path) -> set[str]:
    return {os.path.relpath(os.path.join(folder, name), root) for folder, _, files in os.walk(root) for name in files}


def assert_handled(root: Path, *args: str, usage: bool = False) -> int:
    """Run `orchestrate ARGS --project ROOT`: exit 0, 1 or 2, no exception, no new file.

    Exit 2 says ``error: …``; with ``usage``, click's own ``Error: Invalid value for '--OPTION'`` will do too.
    """
    before = files_in(root)
    result = CliRunner().invoke(main, [*args, "--project", str(root)])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"`orchestrate {' '.join(args)}` raised {result.exception!r}") from result.exception
    assert result.exit_code in (0, 1, 2), (result.exit_code, result.output)
    assert files_in(root) == before, f"`orchestrate {' '.join(args)}` wrote {files_in(root) - before}"
    if result.exit_code == 2:
        clicks = usage and "\nError: Invalid value for '--" in result.stderr
        assert result.stderr.startswith("error: ") or clicks, result.stderr
    return result.exit_code


# -- the properties


@EXAMPLES
@given(config=config_texts)
@example(config="notebooks: {include: ['nb/*.ipynb']}\nschedules: [{name: s, cron: '@daily', timezone: Europe}]\n")
@example(config="notebooks: {include: ['']}\n")
@example(config="notebooks: {include: ['/tmp/*.ipynb']}\n")
@example(config="notebooks: {include: ['nb/*.ipynb']}\ndefaults: {timeout: 1e999}\n")
@example(config="notebooks: {include: ['nb/*.ipynb']}\nstate: {path: nb}\n")
@example(config="notebooks:\n  include: " + "[" * 5000 + "]" * 5000 + "\n")
def test_any_orchestrate_yaml(config: str) -> None:
    with project(config) as root:
        assert_handled(root, "validate")
        assert_handled(root, "graph", "--format", "json")
        assert_handled(root, "schedules", "--json")  # read-only commands create no store
        assert_handled(root, "runs")


@EXAMPLES
@given(config=st.binary(max_size=200))
@example(config=b"notebooks: {include: ['nb/*.ipynb']}\n# \xff\n")
def test_any_bytes_as_orchestrate_yaml(config: bytes) -> None:
    with project(config) as root:
        assert_handled(root, "validate")


@EXAMPLES
@given(
    metadata=keyed({"orchestrate": TYPED["notebook"] | WILD["notebook"]}, {"kernelspec": st.just({"name": "python3"})})
    | keyed({"kernelspec": values, "orchestrate": values})
    | values
)
@example(metadata=["orchestrate", {"retries": 1}])
@example(metadata={"kernelspec": {"name": "python3"}, "orchestrate": {"schedule": "@daily", "timezone": "A" * 300}})
def test_any_notebook_metadata(metadata: Any) -> None:
    with project("notebooks: {include: ['nb/*.ipynb']}\n", metadata) as root:
        assert_handled(root, "validate")
        assert_handled(root, "graph")


def dbt_project(root: Path, meta: Any, config_meta: Any) -> None:
    """A dbt project with a manifest newer than its files, so no `dbt parse` runs."""
    dbt = root / "dbt"
    (dbt / "target").mkdir(parents=True)
    (dbt / "dbt_project.yml").write_text("name: p\nversion: '1.0'\nprofile: p\n")
    model = {
        "unique_id": "model.p.m",
        "resource_type": "model",
        "name": "m",
        "package_name": "p",
        "original_file_path": "models/m.sql",
        "fqn": ["p", "m"],
        "depends_on": {"nodes": []},
        "tags": [],
        "meta": meta,
        "config": {"materialized": "table", "meta": config_meta},
    }
    manifest = {
        "metadata": {"dbt_schema_version": MANIFEST_SCHEMA, "project_name": "p"},
        "nodes": {"model.p.m": model},
        "sources": {},
        "groups": {},
    }
    path = dbt / "target" / "manifest.json"
    path.write_text(json.dumps(manifest))
    stamp = (dbt / "dbt_project.yml").stat().st_mtime + 10
    os.utime(path, (stamp, stamp))


@EXAMPLES
@given(
    meta=keyed({"orchestrate": TYPED["node"] | WILD["node"], "owner": names | values}) | values,
    config_meta=keyed({"orchestrate": TYPED["node"] | WILD["node"]}) | st.none() | values,
)
@example(meta={"orchestrate": {"schedule": {"cron": "@daily", "timezone": "Europe"}}}, config_meta=None)
@example(meta=[], config_meta={"orchestrate": {"retries": 10**40}})
def test_any_dbt_meta(meta: Any, config_meta: Any) -> None:
    with project("dbt: {project_dir: dbt}\nnotebooks: {include: ['nb/*.ipynb']}\n") as root:
        dbt_project(root, meta, config_meta)
        assert_handled(root, "validate")


# -- issue 18: cells, selectors and logical dates

cell_types = st.sampled_from(["code", "markdown", "raw", "heading", None, 3])
cells = st.lists(
    st.fixed_dictionaries(
        {"cell_type": cell_types},
        optional={
            "source": st.text(max_size=10) | st.lists(st.text(max_size=5) | scalars, max_size=3) | values,
            "metadata": st.fixed_dictionaries({}, optional={"tags": st.lists(st.text(max_size=10)) | values}) | values,
            "outputs": st.just([]) | values,
        },
    )
    | values,
    max_size=4,
)


@EXAMPLES
@given(cells=cells)
@example(cells=[{"cell_type": "code", "metadata": ["tags"], "source": "x = 1", "outputs": []}])
@example(cells=[{"cell_type": "code", "metadata": {}, "source": [1, 2], "outputs": []}])
def test_any_cells(cells: Any) -> None:
    """A notebook whose cells `validate` accepts has the shape papermill runs: every cell a mapping of a known
    type, its source text, its metadata a mapping, a code cell's outputs a list."""
    with tempfile.TemporaryDirectory(prefix="fuzz-") as folder:
        root = Path(folder)
        (root / "nb").mkdir()
        document = {**notebook_document({"kernelspec": {"name": "python3"}}), "cells": cells}
        (root / "nb" / "a.ipynb").write_text(json.dumps(document))
        (root / "orchestrate.yaml").write_text("notebooks: {include: ['nb/*.ipynb']}\n")
        if assert_handled(root, "validate") == 0:
            for cell in cells:
                assert isinstance(cell, dict) and cell["cell_type"] in ("code", "markdown", "raw")
                source = cell.get("source", "")
                assert isinstance(source, str) or all(isinstance(line, str) for line in source)
                assert isinstance(cell.get("metadata", {}), dict)
                assert cell["cell_type"] != "code" or isinstance(cell.get("outputs", []), list)


selectors = st.sampled_from(["tag:", "path:", "kind:", "name:", "tag:+", "+kind:", ":", "x:", "tag::", "a"]) | (
    st.tuples(
        st.sampled_from(["", "+"]), st.sampled_from(["tag", "path", "kind", "name", "x", ""]), st.text(max_size=5)
    ).map(lambda parts: f"{parts[0]}{parts[1]}:{parts[2]}")
)


@EXAMPLES
@given(selector=selectors)
def test_any_selector(selector: str) -> None:
    with project("notebooks: {include: ['nb/*.ipynb']}\n") as root:
        assert_handled(root, "graph", "--select", selector)


date_texts = (
    st.datetimes(timezones=st.none() | st.timezones()).map(lambda moment: moment.isoformat())
    | st.dates().map(str)
    | st.sampled_from(["0001-01-01", "9999-12-31", "9999-12-31T23:59:59-05:00", "0001-01-01T00:00+14:00", "1e9"])
    | st.text(max_size=30)
)
VIEW_ZONES = [UTC, ZoneInfo("America/New_York"), ZoneInfo("Pacific/Kiritimati"), ZoneInfo("Pacific/Pago_Pago")]


@EXAMPLES
@given(text=date_texts)
@example(text="9999-12-31")
@example(text="0001-01-01T00:00+05:00")
def test_any_logical_date(text: str) -> None:
    """A logical date is refused where it is parsed (`run` exits 2, nothing written), or every view can show it
    in every zone and the schedules can add ten years to it."""
    try:
        moment = parse_datetime(text)
    except ValueError:
        if not text:
            return  # `run --logical-date ''` means now, as no --logical-date does
        with project("notebooks: {include: ['nb/*.ipynb']}\n") as root:
            assert assert_handled(root, "run", "--logical-date", text) == 2
        return
    for zone in VIEW_ZONES:
        style = TimeStyle(zone, datetime(2026, 1, 1, tzinfo=UTC))
        assert style.absolute(moment) and style.clock(moment) and style.relative(moment)
        assert (moment + timedelta(seconds=MAX_DURATION)).astimezone(zone)
        assert (moment - timedelta(seconds=MAX_DURATION)).astimezone(zone)


# -- issue 18: numbers on the command line that the store cannot hold

numbers = (
    st.integers(min_value=-5, max_value=5)
    | st.integers(min_value=2**63 - 2, max_value=2**63 + 2)
    | st.integers(min_value=-(10**40), max_value=10**40)
).map(str) | st.text(max_size=8)


@EXAMPLES
@given(number=numbers, command=st.sampled_from([("runs", "--limit"), ("ticks", "--limit"), ("logs", "--try")]))
@example(number=str(10**30), command=("runs", "--limit"))
@example(number="-1", command=("logs", "--try"))
def test_any_number_option(number: str, command: tuple[str, str]) -> None:
    """`runs --limit`, `ticks --limit` and `logs --try`: handled (0, 1 or 2) for any number; outside 1 to 2**63-1
    (what SQLite and PostgreSQL hold) exit 2."""
    name, option = command
    args = [name, "r1", "notebook.nb/a", option, number] if name == "logs" else [name, option, number]
    with project("notebooks: {include: ['nb/*.ipynb']}\n") as root:
        code = assert_handled(root, *args, usage=True)
        try:
            value = int(number)
        except ValueError:
            return
        if not 1 <= value <= 2**63 - 1:
            assert code == 2
