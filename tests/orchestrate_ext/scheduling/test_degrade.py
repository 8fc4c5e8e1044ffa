"""A broken node or schedule is left out, with why; everything else keeps firing (fake clock, no processes)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

import pytest

from orchestrate_ext.errors import ConfigError
from orchestrate_ext.interfaces import ConfigProblem, ConfigProblemListener
from orchestrate_ext.partial_graph import PartialGraph, build_partial_graph
from orchestrate_ext.schedule_settings import ScheduleConfig
from orchestrate_ext.scheduling.definitions import ScheduleSet, discover_schedule_set, discover_schedules
from orchestrate_ext.scheduling.source import ProjectSnapshot, StaticSource, config_problems, unloadable
from orchestrate_ext.store import StateStore
from orchestrate_ext.store.records import TickStatus
from orchestrate_ext.testing import FakeClock, ScriptedRunner
from tests.orchestrate_ext.scheduling.helpers import fake_node, make_scheduler, utc
from tests.support.stores import run_of, ticks_of

CONFIG = Path("/project/orchestrate.yaml")
T0 = utc(2024, 1, 8, 5, 59, 30)
EVERY_MINUTE = {"cron": "* * * * *", "timezone": "UTC"}


def partial(*, typo: bool = True) -> PartialGraph:
    """load -> transform -> report (report on a schedule), ``other`` alone (on a schedule), ``weekly`` scheduled
    after ``other``'s; with ``typo``, transform depends on 'lod' as well: it and report are left out."""
    transform_deps = ["fake.load", "fake.lod"] if typo else ["fake.load"]
    return build_partial_graph(
        [
            fake_node("fake.load"),
            fake_node("fake.transform", depends_on=transform_deps, owner="ana@example.com"),
            fake_node("fake.report", depends_on=["fake.transform"], settings={"schedule": EVERY_MINUTE}),
            fake_node("fake.other", settings={"schedule": EVERY_MINUTE}),
        ]
    )


def schedules(found: PartialGraph, *entries: ScheduleConfig) -> ScheduleSet:
    return discover_schedule_set(list(entries), found, CONFIG)


def test_a_schedule_on_a_left_out_node_keeps_its_fire_times_and_says_why_its_runs_cannot_start() -> None:
    found = schedules(partial())
    assert set(found.definitions) == {"report", "other"} and found.broken == {}
    assert found.definitions["other"].left_out is None
    reason = found.definitions["report"].left_out or ""
    assert reason == "node fake.report is left out: it waits for fake.transform, which is broken"
    assert schedules(partial(typo=False)).definitions["report"].left_out is None


def test_yaml_schedules_degrade_one_by_one() -> None:
    found = schedules(
        partial(),
        ScheduleConfig(name="typo", cron="@daily", select="fake.lod"),
        ScheduleConfig(name="nightly", cron="@daily", select="+fake.report"),
        ScheduleConfig(name="broken_only", cron="@daily", select="fake.transform fake.report"),
        ScheduleConfig(name="nightly", cron="@hourly", select="fake.load"),
        ScheduleConfig(name="after_typo", after=["typo"]),
        ScheduleConfig(name="after_nobody", after=["nightlly"]),
        ScheduleConfig(name="ping", after=["pong"]),
        ScheduleConfig(name="pong", after=["ping"]),
        ScheduleConfig(name="after_nightly", after=["nightly"]),
    )
    assert set(found.definitions) == {"nightly", "broken_only", "after_nightly", "report", "other"}
    assert found.definitions["nightly"].cron == "@daily", "the first of two schedules of one name keeps firing"
    assert found.definitions["nightly"].left_out is None, "it still runs load; transform and report are left out"
    assert (found.definitions["broken_only"].left_out or "").startswith("every node it selects is left out: ")
    assert "key 'select'" in found.broken["typo"]
    assert found.broken["nightly"].startswith("two schedules are called 'nightly'")
    assert found.broken["after_typo"].startswith("schedule 'after_typo' (orchestrate.yaml) runs after 'typo', which")
    assert "left out" in found.broken["after_typo"]
    assert "did you mean 'nightly'?" in found.broken["after_nobody"]
    assert "form a cycle" in found.broken["ping"] and "form a cycle" in found.broken["pong"]


def test_an_invalid_yaml_entry_is_broken_and_what_runs_after_it_too() -> None:
    invalid = {"hourly": "orchestrate.yaml: key 'schedules.1.cron': not a cron expression"}
    entries = [ScheduleConfig(name="nightly", cron="@daily"), ScheduleConfig(name="after_hourly", after=["hourly"])]
    found = discover_schedule_set(entries, partial(), CONFIG, invalid)
    assert "nightly" in found.definitions and "hourly" not in found.definitions
    assert found.broken["hourly"] == invalid["hourly"]
    assert "runs after 'hourly'" in found.broken["after_hourly"]
    with pytest.raises(ConfigError, match=r"schedules\.1\.cron"):
        discover_schedules(entries, partial(typo=False).graph, CONFIG, invalid)


def test_the_strict_form_still_refuses_the_first_problem() -> None:
    graph = partial(typo=False).graph
    with pytest.raises(ConfigError, match="runs after 'nightlly'"):
        discover_schedules([ScheduleConfig(name="a", after=["nightlly"])], graph, CONFIG)


def test_config_problems_name_the_broken_node_its_owner_and_what_waits_for_it() -> None:
    found = partial()
    [node, schedule] = config_problems(found, schedules(found, ScheduleConfig(name="a", after=["b"])))
    assert node.key == "node:fake.transform" and node.owner == "ana@example.com" and node.node_id == "fake.transform"
    assert node.message.startswith("node fake.transform is left out: ")
    assert "'fake.lod'" in node.message and node.message.endswith(
        "(left out with it, as they wait for it: fake.report)"
    )
    assert schedule.key == "schedule:a" and schedule.message.startswith("schedule a is left out: ")


def test_a_part_of_the_project_that_gave_no_nodes_is_one_problem_and_the_rest_keeps_its_schedules() -> None:
    why = "`dbt parse` failed in dbt: Syntax error near 'selec'"
    nodes = [fake_node("fake.load"), fake_node("fake.report", depends_on=["orders"])]
    whole = build_partial_graph(nodes, unloaded={"dbt": why})
    found = schedules(whole, ScheduleConfig(name="loads", cron="0 6 * * *", select="fake.load"))
    assert found.definitions["loads"].left_out is None, "what does not read dbt keeps firing"
    [plugin, report] = config_problems(whole, found)
    assert plugin.key == "plugin:dbt" and plugin.message == f"every node of `dbt:` is left out: {why}"
    assert report.key == "node:fake.report" and why in report.message


class Problems:
    """A config problem listener that records what it hears."""

    def __init__(self) -> None:
        self.heard: list[tuple[str, list[str]]] = []

    def config_problems(self, scope: str, problems: Sequence[ConfigProblem], now: datetime) -> None:
        self.heard.append((scope, [problem.key for problem in problems]))

    def run_started(self, run: object, node_ids: list[str]) -> None: ...
    def node_changed(self, change: object) -> None: ...
    def run_finished(self, run: object) -> None: ...


def snapshot_of(tmp_path: Path, found: PartialGraph, runner: ScriptedRunner) -> ProjectSnapshot:
    schedule_set = schedules(found)
    return ProjectSnapshot(
        graph=found.runnable(),
        runners={"fake": runner},
        definitions=schedule_set.definitions,
        root=tmp_path,
        state_dir=tmp_path / ".orchestrate",
        partial=found,
        broken_schedules=schedule_set.broken,
        problems=config_problems(found, schedule_set),
    )


def test_the_good_schedule_fires_the_left_out_one_skips_its_tick_with_the_reason(
    tmp_path: Path, store: StateStore
) -> None:
    clock = FakeClock(T0)
    runner = ScriptedRunner()
    source = StaticSource(snapshot_of(tmp_path, partial(), runner))
    listener = Problems()
    assert isinstance(listener, ConfigProblemListener)
    scheduler = make_scheduler(store, clock, source, listeners=[listener])  # as the CLI passes its observers
    scheduler.step()
    clock.set(utc(2024, 1, 8, 6, 0, 1))
    report = scheduler.step()
    assert len(report.started) == 1 and scheduler.pool.wait(10)
    assert run_of(store, report.started[0]).schedule == "other" and runner.nodes_run() == ["fake.other"]
    [skipped] = ticks_of(store, "report")
    assert skipped.status == TickStatus.SKIPPED
    assert skipped.reason == "left out: node fake.report is left out: it waits for fake.transform, which is broken"
    assert listener.heard == [("scheduler", []), ("project", ["node:fake.transform"])], "told once, at the start"

    source.snapshot = snapshot_of(tmp_path, partial(typo=False), runner)  # the typo is fixed
    clock.set(utc(2024, 1, 8, 6, 1, 1))
    report = scheduler.step()
    assert len(report.started) == 2 and scheduler.pool.wait(10)
    assert listener.heard[-1] == ("project", []), "the fix is told"
    scheduler.step()
    assert len(listener.heard) == 3, "nothing new: nothing told"


def test_a_tick_whose_selection_is_all_left_out_is_skipped_and_a_partial_one_runs_the_rest(
    tmp_path: Path, store: StateStore
) -> None:
    clock = FakeClock(T0)
    runner = ScriptedRunner()
    found = partial()
    snap = snapshot_of(tmp_path, found, runner)
    entries = schedules(
        found,
        ScheduleConfig(name="nightly", cron="0 6 * * *", select="+fake.report"),
    ).definitions
    snap = ProjectSnapshot(**{**snap.__dict__, "definitions": entries})
    scheduler = make_scheduler(store, clock, snap)
    scheduler.step()
    clock.set(utc(2024, 1, 8, 6, 0, 1))
    report = scheduler.step()
    assert len(report.started) == 2 and scheduler.pool.wait(10)
    runs = {run_of(store, run_id).schedule: run_id for run_id in report.started}
    assert set(runs) == {"nightly", "other"}
    assert sorted(runner.nodes_run()) == ["fake.load", "fake.other"], "transform and report are left out"
    nightly = run_of(store, runs["nightly"])
    assert set(nightly.left_out) == {"fake.transform", "fake.report"}, "the scheduled run records what it left out"
    assert nightly.left_out["fake.report"] == "it waits for fake.transform, which is broken"
    assert run_of(store, runs["other"]).left_out == {}


def test_an_unloadable_project_keeps_the_schedules_and_adds_one_problem(tmp_path: Path) -> None:
    snap = snapshot_of(tmp_path, partial(), ScriptedRunner())
    kept = unloadable(snap, "orchestrate.yaml: line 3: mapping values are not allowed here")
    assert kept.definitions == snap.definitions
    assert [problem.key for problem in kept.problems] == ["node:fake.transform", "project"]
    assert kept.problems[-1].message.startswith("the project cannot be loaded: orchestrate.yaml: line 3")
    again = unloadable(kept, "another error")
    assert [problem.key for problem in again.problems] == ["node:fake.transform", "project"], "one project problem"
