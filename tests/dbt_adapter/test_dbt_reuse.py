"""--only-changed with real dbt-core + dbt-duckdb: what a dbt node's fingerprint holds, end to end.

One small project (a seed, a source with a freshness rule, staging models, marts, a macro, tests),
parsed once per test run; each test runs `orchestrate run` on its own copy.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import duckdb
import pytest

from dbt_adapter.plugin import DbtPlugin
from dbt_adapter.project import DbtConfig
from orchestrate_ext.interfaces import Workspace
from tests.conftest import run_cli
from tests.support.shared import prepared_once

pytestmark = pytest.mark.slow

FILES = {
    "orchestrate.yaml": "dbt:\n  project_dir: dbt\n  profiles_dir: dbt\nconcurrency: 2\ndefaults:\n  retries: 0\n",
    "dbt/dbt_project.yml": (
        "name: mini\nversion: '1.0'\nprofile: mini\nflags: {send_anonymous_usage_stats: false}\n"
        "models:\n  mini:\n    +materialized: table\n"
    ),
    "dbt/profiles.yml": "mini:\n  target: dev\n  outputs:\n    dev: {type: duckdb, path: ../mini.duckdb, threads: 2}\n",
    "dbt/seeds/customers.csv": "id,name\n1,ada\n2,grace\n",
    "dbt/macros/cents.sql": "{% macro cents(column) %}cast({{ column }} * 100 as integer){% endmacro %}\n",
    "dbt/models/sources.yml": (
        "version: 2\nsources:\n  - name: raw\n    schema: main\n    loaded_at_field: loaded_at\n"
        "    freshness: {warn_after: {count: 36500, period: day}}\n    tables:\n      - name: events\n"
    ),
    "dbt/models/stg_customers.sql": "select id, name from {{ ref('customers') }}\n",
    "dbt/models/stg_events.sql": (
        "select customer_id, {{ cents('amount') }} as amount_cents from {{ source('raw', 'events') }}\n"
    ),
    "dbt/models/customer_totals.sql": (
        "select c.id, sum(e.amount_cents) as total from {{ ref('stg_customers') }} c\n"
        "left join {{ ref('stg_events') }} e on e.customer_id = c.id group by c.id\n"
    ),
    "dbt/models/daily.sql": (
        "select '{{ var(\"logical_date\") }}' as day, count(*) as n from {{ ref('stg_customers') }}\n"
    ),
    "dbt/models/schema.yml": (
        "version: 2\nmodels:\n  - name: stg_customers\n    columns:\n      - name: id\n        data_tests: [not_null]\n"
    ),
    "dbt/tests/no_flagged_customers.sql": (
        "select c.* from {{ ref('stg_customers') }} c join main.flags f on f.id = c.id\n"
    ),
}
STG_CUSTOMERS_TEST = "test.mini.not_null_stg_customers_id"
FLAG_TEST = "test.mini.no_flagged_customers"
FRESHNESS = "freshness.source.mini.raw.events"
DAY = ("--only-changed", "--logical-date", "2024-01-31")  # without one, a run's logical date is its start


def _warehouse(root: Path, *statements: str) -> None:
    with duckdb.connect(str(root / "mini.duckdb")) as connection:
        for statement in statements:
            connection.execute(statement)


def _write(root: Path) -> None:
    for relative, text in FILES.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def _parse(root: Path) -> None:
    _write(root)
    subprocess.run(
        [str(Path(sys.executable).with_name("dbt")), "parse", "--project-dir", "dbt", "--profiles-dir", "dbt"],
        cwd=root,
        check=True,
        capture_output=True,
        env={**os.environ, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"},
    )


@pytest.fixture(scope="session")
def parsed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The project with its manifest, made by one real `dbt parse` per test run (shared by xdist workers)."""
    return prepared_once(tmp_path_factory, "mini", _parse)


@pytest.fixture
def mini(parsed: Path, tmp_path: Path) -> Path:
    """A copy of the parsed project, its manifest newer than its files, with the tables dbt does not build."""
    root = tmp_path / "mini"
    shutil.copytree(parsed, root, ignore=shutil.ignore_patterns("target", "logs", "*.duckdb*", ".orchestrate"))
    (root / "dbt" / "target").mkdir()
    for name in ("manifest.json", "partial_parse.msgpack"):  # dbt's record of the parse: no parse needed
        shutil.copy(parsed / "dbt" / "target" / name, root / "dbt" / "target" / name)
    _warehouse(
        root,
        "create table main.events (customer_id integer, amount double, loaded_at timestamp)",
        "insert into main.events values (1, 2.5, timestamp '2024-01-30 10:00:00')",
        "create table main.flags (id integer)",
    )
    return root


RUN_IDS: dict[int, str] = {}


def run(root: Path, *args: str, code: int = 0) -> dict[str, dict[str, Any]]:
    """The run's nodes by id (a generic test's without its hash); the run id is kept by the dict's id()."""
    result = run_cli("run", "--json", *args, cwd=root)
    assert result.returncode == code, result.stderr + result.stdout[-2000:]
    document = json.loads(result.stdout)
    nodes = {_short(node["id"]): node for node in document["nodes"]}
    RUN_IDS[id(nodes)] = document["run_id"]
    return nodes


def _short(node_id: str) -> str:
    return node_id.rsplit(".", 1)[0] if node_id.startswith("test.mini.not_null_") else node_id


def ran(nodes: dict[str, dict[str, Any]]) -> set[str]:
    """The nodes that ran (a status other than ``reused``)."""
    return {node_id for node_id, node in nodes.items() if node["status"] != "reused"}


def why(nodes: dict[str, dict[str, Any]]) -> dict[str, str]:
    """Why each node that ran did (for assertion messages)."""
    return {node_id: f"{node['status']}: {node['reason']}" for node_id, node in nodes.items() if node_id in ran(nodes)}


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


def test_only_what_changed_runs_code_macros_logical_date_and_new_source_rows(mini: Path) -> None:
    day = ("--only-changed", "--logical-date", "2024-01-31")
    first = run(mini, *day)
    assert {node["status"] for node in first.values()} == {"success"}
    everything = set(first)
    assert {"model.mini.daily", "model.mini.stg_events", "seed.mini.customers", FLAG_TEST, FRESHNESS} <= everything

    second = run(mini, *day)
    assert ran(second) == set(), why(second)
    for node in second.values():
        assert node["reason"].startswith("code unchanged, inputs unchanged since "), node
        assert node["reused_from"] == RUN_IDS[id(first)]

    models = mini / "dbt" / "models"
    edit(models / "stg_customers.sql", "select id, name", "select id, upper(name) as name")
    changed_sql = run(mini, *day)
    assert ran(changed_sql) == {
        "model.mini.stg_customers",
        STG_CUSTOMERS_TEST,
        FLAG_TEST,
        "model.mini.customer_totals",
        "model.mini.daily",
    }, why(changed_sql)
    assert changed_sql["model.mini.stg_customers"]["reason"].startswith("code changed since ")
    assert changed_sql["model.mini.daily"]["reason"].startswith("upstream model.mini.stg_customers ")

    edit(mini / "dbt" / "macros" / "cents.sql", "* 100", "* 1000")
    changed_macro = run(mini, *day)
    assert ran(changed_macro) == {"model.mini.stg_events", "model.mini.customer_totals"}, why(changed_macro)
    assert changed_macro["model.mini.stg_events"]["reason"].startswith("code changed since ")

    next_day = run(mini, "--only-changed", "--logical-date", "2024-02-01")
    assert ran(next_day) == {"model.mini.daily"}, why(next_day)  # the only one reading var('logical_date')
    assert next_day["model.mini.daily"]["reason"].startswith("inputs changed since ")

    _warehouse(mini, "insert into main.events values (2, 4.0, timestamp '2024-02-01 09:00:00')")
    new_rows = run(mini, "--only-changed", "--logical-date", "2024-02-01")
    assert ran(new_rows) == {FRESHNESS, "model.mini.stg_events", "model.mini.customer_totals"}, why(new_rows)
    with duckdb.connect(str(mini / "mini.duckdb"), read_only=True) as connection:
        assert connection.execute("select total from main.customer_totals where id = 2").fetchone() == (4000,)

    no_new_rows = run(mini, "--only-changed", "--logical-date", "2024-02-01")
    assert ran(no_new_rows) == set(), why(no_new_rows)


def test_a_failed_dbt_test_is_never_reused(mini: Path) -> None:
    first = run(mini, *DAY)
    assert first[FLAG_TEST]["status"] == "success"
    _warehouse(mini, "insert into main.flags values (1)")  # a table dbt does not know: no fingerprint sees it
    unchanged = run(mini, *DAY)
    assert unchanged[FLAG_TEST]["status"] == "reused"

    failing = run(mini, "--select", FLAG_TEST, "--logical-date", "2024-01-31", code=1)
    assert failing[FLAG_TEST]["status"] == "failed"
    again = run(mini, *DAY, code=1)
    assert again[FLAG_TEST]["status"] == "failed"
    assert again[FLAG_TEST]["reason"].startswith("it failed after its last success")
    assert again["model.mini.stg_customers"]["status"] == "reused"

    _warehouse(mini, "delete from main.flags")
    fixed = run(mini, *DAY)
    assert ran(fixed) == {FLAG_TEST}, why(fixed)
    again_fixed = run(mini, *DAY)
    assert ran(again_fixed) == set(), why(again_fixed)


def test_worker_needs_name_dbt_and_the_profile_s_adapter(mini: Path) -> None:
    workspace = Workspace(mini, mini / "orchestrate.yaml", mini / ".orchestrate")
    config = DbtConfig(project_dir="dbt", profiles_dir="dbt")
    plugin = DbtPlugin()
    assert plugin.worker_needs(config, None).modules == ("dbt",), "before discovering, no profile was resolved"
    plugin.discover(workspace, config)
    assert plugin.worker_needs(config, None).modules == ("dbt", "dbt.adapters.duckdb")
