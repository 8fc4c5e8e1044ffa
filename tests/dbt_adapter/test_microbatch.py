"""dbt microbatch models: a run's logical date is the event-time window of the builds that include them."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import pytest

from dbt_adapter.microbatch import window
from dbt_adapter.nodes import nodes_from_manifest
from dbt_adapter.runner import DbtRunner
from orchestrate_ext.interfaces import NodeTask
from tests.dbt_adapter.test_build_parity import dbt, dbt_log_argv, orchestrate
from tests.dbt_adapter.test_runner_plan import setup

LOGICAL = datetime(2024, 12, 31, 22, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("size", "start", "end"),
    [
        ("hour", datetime(2024, 12, 31, 22, tzinfo=UTC), datetime(2024, 12, 31, 23, tzinfo=UTC)),
        ("day", datetime(2024, 12, 31, tzinfo=UTC), datetime(2025, 1, 1, tzinfo=UTC)),
        ("month", datetime(2024, 12, 1, tzinfo=UTC), datetime(2025, 1, 1, tzinfo=UTC)),
        ("year", datetime(2024, 1, 1, tzinfo=UTC), datetime(2025, 1, 1, tzinfo=UTC)),
    ],
)
def test_the_window_is_the_batch_that_contains_the_logical_date(size: str, start: datetime, end: datetime) -> None:
    assert window(size, LOGICAL) == (start, end)
    berlin = LOGICAL.astimezone(timezone(timedelta(hours=1)))  # 2025-01-01 in Berlin: the batch is UTC's
    assert window(size, berlin) == (start, end)


def plan_argv(tmp_path: Path, ids: list[str], logical_date: datetime) -> list[list[str]]:
    tmp_path.mkdir()
    project, doc = setup(tmp_path)
    microbatch = {"materialized": "incremental", "incremental_strategy": "microbatch", "event_time": "at"}
    doc.add("model", "hourly", ["seed.shop.raw"], config={**microbatch, "batch_size": "hour"})
    doc.add("model", "daily", ["seed.shop.raw"], config={**microbatch, "batch_size": "day"})
    manifest = doc.read(tmp_path)
    nodes = {node.id: node for node in nodes_from_manifest(manifest, project.project_dir, tmp_path)}
    tasks = [NodeTask(nodes[node_id], 1, tmp_path / f"{node_id}.log", None) for node_id in ids]
    runner = DbtRunner(project, lambda: manifest)
    return [invocation.argv for invocation in runner._plan(tasks, {}, logical_date)]


def test_only_builds_with_microbatch_models_get_the_window_of_their_largest_batch(tmp_path: Path) -> None:
    [plain] = plan_argv(tmp_path / "a", ["seed.shop.raw", "model.shop.orders"], LOGICAL)
    assert "--event-time-start" not in plain and "--event-time-end" not in plain
    [hourly] = plan_argv(tmp_path / "b", ["seed.shop.raw", "model.shop.hourly"], LOGICAL)
    start = hourly.index("--event-time-start")
    assert hourly[start : start + 4] == [
        "--event-time-start",
        "2024-12-31T22:00:00",
        "--event-time-end",
        "2024-12-31T23:00:00",
    ]
    [both] = plan_argv(tmp_path / "c", ["model.shop.hourly", "model.shop.daily"], LOGICAL)
    start = both.index("--event-time-start")
    assert both[start : start + 4] == [
        "--event-time-start",
        "2024-12-31T00:00:00",
        "--event-time-end",
        "2025-01-01T00:00:00",
    ]


# -- a real dbt-duckdb microbatch model, backfilled

PROJECT = """name: small
profile: small
version: '1.0'
seeds:
  small:
    raw_events:
      +event_time: event_at
      +column_types: {event_at: timestamp}
"""
MODEL = """{{ config(materialized='incremental', incremental_strategy='microbatch', event_time='event_at',
    batch_size='day', begin='2023-12-30') }}
select id, event_at, '{{ invocation_id }}' as built_by from {{ ref('raw_events') }}
"""
SCHEDULES = """dbt:
  project_dir: .
schedules:
  - name: daily
    cron: "0 0 * * *"
    select: events
  - name: seeds
    cron: "0 0 * * *"
    select: raw_events
"""
FIRST_DAY = date(2023, 12, 30)


def built_by(database: Path) -> dict[date, str]:
    import duckdb

    with duckdb.connect(str(database), read_only=True) as connection:
        rows = connection.sql("select event_at, built_by from events").fetchall()
    return {event_at.date(): invocation for event_at, invocation in rows}


@pytest.mark.slow
def test_a_backfill_rebuilds_exactly_the_batches_of_its_dates(tmp_path: Path) -> None:
    project = tmp_path / "work"
    (project / "seeds").mkdir(parents=True)
    (project / "models").mkdir()
    days = [FIRST_DAY + timedelta(days=offset) for offset in range(36)]  # 2023-12-30 ... 2024-02-03
    rows = [f"{number},{day} 12:00:00" for number, day in enumerate(days)]
    (project / "seeds" / "raw_events.csv").write_text("id,event_at\n" + "\n".join(rows) + "\n")
    (project / "dbt_project.yml").write_text(PROJECT)
    database = tmp_path / "db.duckdb"
    (project / "profiles.yml").write_text(
        f"small:\n  target: dev\n  outputs:\n    dev: {{type: duckdb, path: '{database}', threads: 1}}\n"
    )
    (project / "models" / "events.sql").write_text(MODEL)
    (project / "orchestrate.yaml").write_text(SCHEDULES)
    first = dbt("build", "--event-time-start", "2023-12-30", "--event-time-end", "2024-02-04", cwd=project)
    assert first.returncode == 0, first.stdout
    before = built_by(database)
    assert sorted(before) == days and len(set(before.values())) == 1

    result = orchestrate("backfill", "daily", "--start", "2024-01-10", "--end", "2024-01-12", "--json", cwd=project)
    assert result.returncode == 0, result.stderr
    items = json.loads(result.stdout)
    assert [item["status"] for item in items] == ["success"] * 3
    after = built_by(database)
    rebuilt = {day for day in days if after[day] != before[day]}
    assert rebuilt == {date(2024, 1, 10), date(2024, 1, 11), date(2024, 1, 12)}
    assert len({after[day] for day in rebuilt}) == 3  # one dbt build (invocation) per date
    [argv] = dbt_log_argv(project)
    assert "--event-time-start 2024-01-12T00:00:00 --event-time-end 2024-01-13T00:00:00" in argv

    seeds = orchestrate("backfill", "seeds", "--start", "2024-01-10", "--end", "2024-01-10", cwd=project)
    assert seeds.returncode == 0, seeds.stderr
    [argv] = dbt_log_argv(project)
    assert "--event-time" not in argv  # no microbatch model in that build
    assert built_by(database) == after
