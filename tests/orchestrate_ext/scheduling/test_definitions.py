"""Where schedules come from (orchestrate.yaml, node metadata), how they are checked, and what a run includes."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrate_ext.config import load_config
from orchestrate_ext.errors import ConfigError
from orchestrate_ext.graph import build_graph
from orchestrate_ext.node_settings import NodeSettings, parse_settings
from orchestrate_ext.project import load_plugins
from orchestrate_ext.schedule_settings import CatchUp, ScheduleConfig
from orchestrate_ext.scheduling.definitions import ScheduleDefinition, discover_schedules, nodes_for
from tests.orchestrate_ext.scheduling.helpers import fake_node, small_graph, utc

CONFIG = Path("/project/orchestrate.yaml")


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "orchestrate.yaml"
    path.write_text(text)
    return path


def test_schedules_in_orchestrate_yaml_are_validated_with_defaults(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "schedules:\n"
        "  - {name: nightly, cron: '0 6 * * *', timezone: Europe/Berlin, select: '+report', parameters: {region: eu}}\n"
        "  - {name: hourly, cron: '@hourly', catchup: all, max_catchup: 5, max_active_runs: 2}\n"
        "  - {name: after-nightly, after: nightly}\n"
        "  - {name: on-drop, on_file: 'incoming/*.csv', sla: {max_duration: 30m}}\n",
    )
    schedules = load_config(path, load_plugins()).core.schedules
    nightly, hourly, after, on_drop = schedules
    assert (nightly.cron, nightly.timezone, nightly.select, nightly.parameters) == (
        "0 6 * * *",
        "Europe/Berlin",
        "+report",
        {"region": "eu"},
    )
    assert (nightly.catchup, nightly.max_active_runs) == (CatchUp.LATEST, 1)
    assert (hourly.catchup, hourly.max_catchup, hourly.max_active_runs) == (CatchUp.ALL, 5, 2)
    assert after.after == ["nightly"] and on_drop.on_file == ["incoming/*.csv"]
    assert on_drop.sla is not None and on_drop.sla.max_duration == 1800.0, "the alerts plugin reads `sla`"


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("{name: a, cron: '0 25 * * *'}", "key 'schedules.0.cron': Value error, '0 25 * * *' is not a valid cron"),
        ("{name: a, cron: '@daily', timezone: Europe/Berln}", "did you mean 'Europe/Berlin'?"),
        ("{name: a}", "schedule 'a' needs 'cron', 'after' or 'on_file'"),
        ("{name: a, cron: '@daily', catchup: sometimes}", "key 'schedules.0.catchup': Input should be 'latest', 'all'"),
        ("{name: a, cron: '@daily', max_active_runs: 0}", "key 'schedules.0.max_active_runs'"),
        ("{name: 'two words', cron: '@daily'}", "is not a usable schedule name"),
        ("{name: a, cron: '@daily', crn: x}", "unknown key 'schedules.0.crn'"),
        ("{name: a, cron: '@daily', parameters: {'not ok': 1}}", "parameter names must be Python identifiers"),
    ],
)
def test_a_bad_schedule_names_the_file_the_key_and_the_fix(tmp_path: Path, entry: str, message: str) -> None:
    path = write(tmp_path, f"schedules:\n  - {entry}\n  - {{name: good, cron: '@daily'}}\n")
    config = load_config(path, load_plugins())
    assert [schedule.name for schedule in config.core.schedules] == ["good"], "the other schedules still load"
    [problem] = config.broken_schedules.values()
    assert str(path) in problem
    assert message in problem


def test_node_metadata_takes_a_cron_string_with_a_timezone_or_a_mapping() -> None:
    settings = parse_settings(NodeSettings, {"schedule": "0 6 * * *", "timezone": "Europe/Berlin"}, "nb")
    assert settings.schedule_settings()["schedule"]["cron"] == "0 6 * * *"
    assert settings.schedule_settings()["schedule"]["timezone"] == "Europe/Berlin"
    mapping = parse_settings(NodeSettings, {"schedule": {"cron": "@hourly", "ancestors": "none"}}, "nb")
    assert mapping.schedule_settings()["schedule"]["ancestors"] == "none"
    assert parse_settings(NodeSettings, {}, "nb").schedule_settings() == {}
    with pytest.raises(ConfigError, match=r"notebook 'x.ipynb' metadata: key 'orchestrate.schedule.cron'"):
        parse_settings(NodeSettings, {"schedule": "every day"}, "notebook 'x.ipynb' metadata")
    with pytest.raises(ConfigError, match=r"key 'orchestrate.timezone': .*'Mars/Base' is not a known time zone"):
        parse_settings(NodeSettings, {"schedule": "@daily", "timezone": "Mars/Base"}, "nb")


def _graph_with_node_schedule(schedule: dict[str, object]) -> object:
    return build_graph(
        [
            fake_node("fake.load"),
            fake_node("fake.transform", depends_on=["fake.load"]),
            fake_node(
                "notebook.reports/daily",
                name="reports/daily",
                resource_type="notebook",
                path="reports/daily.ipynb",
                depends_on=["fake.transform"],
                settings={"schedule": schedule},
            ),
        ]
    )


def test_schedules_come_from_the_config_and_from_nodes() -> None:
    graph = _graph_with_node_schedule({"cron": "0 7 * * *", "timezone": "Europe/Paris"})
    found = discover_schedules([ScheduleConfig(name="nightly", cron="@daily", select="load")], graph, CONFIG)  # type: ignore[arg-type]
    assert set(found) == {"nightly", "reports/daily"}
    node_schedule = found["reports/daily"]
    assert (node_schedule.target, node_schedule.timezone, node_schedule.origin) == (
        "notebook.reports/daily",
        "Europe/Paris",
        "notebook 'reports/daily.ipynb'",
    )
    assert node_schedule.selection_text == "+notebook.reports/daily"


@pytest.mark.parametrize(
    ("configs", "message"),
    [
        ([ScheduleConfig(name="a", cron="@daily", select="lod")], "schedule 'a': key 'select': selector 'lod'"),
        (
            [ScheduleConfig(name="reports/daily", cron="@daily")],
            "two schedules are called 'reports/daily' (in orchestrate.yaml and in notebook 'reports/daily.ipynb')",
        ),
        ([ScheduleConfig(name="a", after=["nightlyy"])], "runs after 'nightlyy', which is no schedule"),
        (
            [ScheduleConfig(name="a", after=["b"]), ScheduleConfig(name="b", after=["a"])],
            "the 'after' links of the schedules form a cycle",
        ),
    ],
)
def test_schedule_problems_across_sources_are_config_errors(configs: list[ScheduleConfig], message: str) -> None:
    graph = _graph_with_node_schedule({"cron": "0 7 * * *"})
    with pytest.raises(ConfigError) as caught:
        discover_schedules(configs, graph, CONFIG)  # type: ignore[arg-type]
    assert message in str(caught.value)


def test_a_node_schedule_runs_the_node_with_its_ancestors_that_are_not_fresh() -> None:
    graph = small_graph()
    definition = ScheduleDefinition("report", "x", cron="@daily", target="fake.report")
    since = utc(2024, 1, 1)
    everything = {"fake.load", "fake.transform", "fake.report"}
    assert nodes_for(definition, graph, {}, since) == everything
    fresh_load = {"fake.load": utc(2024, 1, 1, 3), "fake.transform": utc(2023, 12, 31)}
    assert nodes_for(definition, graph, fresh_load, since) == {"fake.transform", "fake.report"}
    all_fresh = {"fake.load": utc(2024, 1, 1, 3), "fake.transform": utc(2024, 1, 1, 4)}
    assert nodes_for(definition, graph, all_fresh, since) == {"fake.report"}
    # a stale node upstream makes everything between it and the target run again
    stale_root = {"fake.load": utc(2023, 12, 30), "fake.transform": utc(2024, 1, 1, 4)}
    assert nodes_for(definition, graph, stale_root, since) == everything
    assert nodes_for(ScheduleDefinition("r", "x", target="fake.report", ancestors="none"), graph, {}, None) == {
        "fake.report"
    }
    assert nodes_for(ScheduleDefinition("r", "x", target="fake.report", ancestors="all"), graph, all_fresh, since) == (
        everything
    )


def test_a_dbt_model_s_meta_schedule_becomes_a_schedule_of_that_model(tmp_path: Path) -> None:
    from dbt_adapter.manifest import Manifest, ManifestNode
    from dbt_adapter.plugin import nodes_from_manifest

    def model(name: str, meta: dict[str, object], depends_on: tuple[str, ...] = ()) -> ManifestNode:
        return ManifestNode(
            unique_id=f"model.shop.{name}",
            resource_type="model",
            name=name,
            package_name="shop",
            original_file_path=f"models/{name}.sql",
            fqn=("shop", name),
            depends_on=depends_on,
            tags=(),
            meta=meta,
            materialized="table",
        )

    nodes = {
        "model.shop.orders": model("orders", {}),
        "model.shop.daily_revenue": model(
            "daily_revenue",
            {"orchestrate": {"schedule": "0 6 * * *", "timezone": "Europe/Berlin"}},
            ("model.shop.orders",),
        ),
    }
    manifest = Manifest(
        path=tmp_path / "manifest.json", schema_version=12, project_name="shop", nodes=nodes, sources={}
    )
    graph = build_graph(nodes_from_manifest(manifest, tmp_path / "dbt", tmp_path))
    [definition] = discover_schedules([], graph, CONFIG).values()
    assert (definition.name, definition.cron, definition.timezone) == ("daily_revenue", "0 6 * * *", "Europe/Berlin")
    assert (
        definition.target == "model.shop.daily_revenue" and definition.origin == "model 'dbt/models/daily_revenue.sql'"
    )
    assert nodes_for(definition, graph, {}, None) == {"model.shop.orders", "model.shop.daily_revenue"}
