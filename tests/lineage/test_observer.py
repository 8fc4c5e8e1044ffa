"""The lineage observer on a real executor and SQLite store, a fake clock, and a loopback collector."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from orchestrate_ext.config import Defaults
from orchestrate_ext.errors import ConfigError
from orchestrate_ext.events import NodeChanged
from orchestrate_ext.execution.executor import Executor
from orchestrate_ext.execution.observers import ObserverContext
from orchestrate_ext.graph import build_graph
from orchestrate_ext.interfaces import Workspace
from orchestrate_ext.lineage.config import LineageConfig, client_configured
from orchestrate_ext.lineage.facts import run_uuid
from orchestrate_ext.lineage.observer import LineageObserver
from orchestrate_ext.lineage.outbox import PENDING, SENT, LineageOutbox
from orchestrate_ext.model import Node, NodeStatus, StateLocation
from orchestrate_ext.store import open_store
from orchestrate_ext.testing import FakeClock, ScriptedRunner
from tests.lineage.collector import Collector

START = datetime(2026, 3, 1, 6, 0, tzinfo=UTC)
SECRET = "tok-9f8e7d6c5b4a"


def _nodes() -> list[Node]:
    dataset = {"dataset": {"namespace": "duckdb:///w.duckdb", "name": "w.main.orders"}}
    return [
        Node("notebook.ingest", "notebook", "notebook", "ingest", path="notebooks/ingest.ipynb", settings=dataset),
        Node("notebook.report", "notebook", "notebook", "report", depends_on=("notebook.ingest",)),
        Node("notebook.after", "notebook", "notebook", "after", depends_on=("notebook.report",)),
    ]


class Project:
    def __init__(self, root: Path, lineage: dict[str, Any], script: dict[str, list[str]] | None = None) -> None:
        (root / "notebooks").mkdir()
        (root / "notebooks" / "ingest.ipynb").write_text("{}")
        self.clock = FakeClock(START)
        self.graph = build_graph(_nodes())
        self.store = open_store(StateLocation(path=root / ".orchestrate" / "state.db"))
        self.workspace = Workspace(
            root=root,
            config_path=root / "orchestrate.yaml",
            state_dir=root / ".orchestrate",
            secret_env=frozenset({"SHOP_TOKEN"}),
        )
        self.config = LineageConfig.model_validate(lineage)
        self.environ = {"SHOP_TOKEN": SECRET, "LINEAGE_KEY": "key-123456789"}
        self.runner = ScriptedRunner(script)
        self.observer = self.new_observer()

    def new_observer(self) -> LineageObserver:
        context = ObserverContext(self.workspace, self.store, self.graph, self.clock)
        return LineageObserver(self.config, context, background=False, environ=self.environ)

    def run(self) -> str:
        run_id = self.create()
        self.executor().execute(run_id)
        return run_id

    def create(self) -> str:
        return self.executor().create_run(set(self.graph.nodes), self.clock.now()).run_id

    def executor(self) -> Executor:
        return Executor(
            self.graph,
            {"notebook": self.runner},
            self.store,
            self.clock,
            state_dir=self.workspace.state_dir,
            concurrency=4,
            defaults=Defaults(retries=0, retry_backoff=0),
            listeners=[self.observer],
        )

    def counts(self) -> dict[str, int]:
        with LineageOutbox(self.store).transaction() as tx:
            return tx.counts()


def _http(collector: Collector | None, port: int = 9) -> dict[str, Any]:
    url = collector.url if collector else f"http://127.0.0.1:{port}"
    return {"namespace": "shop-ns", "job_name": "shop", "transport": {"type": "http", "url": url}}


def test_events_of_a_run_with_a_failure(tmp_path: Path) -> None:
    with Collector() as collector:
        lineage = _http(collector)
        lineage["transport"]["api_key_env"] = "LINEAGE_KEY"
        project = Project(tmp_path, lineage, {"notebook.report": ["fail"]})
        run_id = project.run()
        project.observer.tick(project.clock.now())
        events = collector.received()
    pairs = Counter((event["job"]["name"], event["eventType"]) for event in events)
    assert pairs == {
        ("shop", "START"): 1,
        ("shop", "FAIL"): 1,
        ("shop.notebook.ingest", "START"): 1,
        ("shop.notebook.ingest", "COMPLETE"): 1,
        ("shop.notebook.report", "START"): 1,
        ("shop.notebook.report", "FAIL"): 1,
    }  # notebook.after never ran (upstream failed): no job ran, no events
    parent_id = run_uuid(run_id)
    for event in events:
        assert event["job"]["namespace"] == "shop-ns"
        if event["job"]["name"] != "shop":
            parent = event["run"]["facets"]["parent"]
            assert parent["run"]["runId"] == parent_id
            assert (parent["job"]["namespace"], parent["job"]["name"]) == ("shop-ns", "shop")
        else:
            assert event["run"]["runId"] == parent_id
    ingest = next(e for e in events if e["job"]["name"] == "shop.notebook.ingest")
    assert ingest["outputs"][0]["name"] == "w.main.orders"
    location = ingest["job"]["facets"]["sourceCodeLocation"]
    assert location["url"] == (tmp_path / "notebooks" / "ingest.ipynb").resolve().as_uri()
    failed = next(e for e in events if e["eventType"] == "FAIL" and e["job"]["name"] == "shop.notebook.report")
    assert failed["run"]["facets"]["errorMessage"]["message"]
    assert all(header.get("Authorization") == "Bearer key-123456789" for header in collector.headers)
    assert all("key-123456789" not in str(event) for event in events)
    assert project.counts() == {SENT: 6}


def test_secrets_never_reach_events_or_the_store(tmp_path: Path) -> None:
    project = Project(tmp_path, _http(None))
    run_id = project.create()
    project.observer.node_changed(NodeChanged(run_id, "notebook.ingest", "notebook", NodeStatus.RUNNING, 2))
    project.observer.node_changed(
        NodeChanged(run_id, "notebook.ingest", "notebook", NodeStatus.FAILED, 2, error=f"password {SECRET} refused")
    )
    with LineageOutbox(project.store).transaction() as tx:
        stored = [event.event for event in tx.events(limit=1000)]
    assert stored and not any(SECRET in event for event in stored)
    assert any("[redacted]" in event for event in stored)


def test_a_cancelled_node_that_ran_is_aborted(tmp_path: Path) -> None:
    project = Project(tmp_path, _http(None))
    run_id = project.create()
    observer = project.new_observer()
    observer.node_changed(NodeChanged(run_id, "notebook.after", "notebook", NodeStatus.CANCELLED, 1))  # never ran
    observer.node_changed(NodeChanged(run_id, "notebook.report", "notebook", NodeStatus.RUNNING, 9))
    observer.node_changed(NodeChanged(run_id, "notebook.report", "notebook", NodeStatus.CANCELLED, 9))
    with LineageOutbox(project.store).transaction() as tx:
        events = [event.event for event in tx.events(limit=1000)]
    assert sum('"ABORT"' in event and "notebook.report" in event for event in events) == 1
    assert not any('"ABORT"' in event and "notebook.after" in event for event in events)


def test_collector_down_then_back(tmp_path: Path) -> None:
    """A down collector leaves the events pending (the run is not slowed); they are sent once it is back."""
    with Collector() as probe:
        port = probe.port  # a free port, closed again: nothing listens there now
    project = Project(tmp_path, _http(None, port))
    project.run()
    project.observer.tick(project.clock.now())
    assert project.counts().get(PENDING) == 8
    project.observer.close(5)
    with Collector(port) as collector:
        project.clock.advance(seconds=5)  # the first retry is due after retry_base
        later = project.new_observer()
        later.tick(project.clock.now())
        assert len(collector.received()) == 8
    assert project.counts() == {SENT: 8}


def test_config_errors_name_the_key_and_file(tmp_path: Path) -> None:
    from orchestrate_ext.config import load_config
    from orchestrate_ext.lineage.plugin import LineagePlugin

    path = tmp_path / "orchestrate.yaml"
    plugins: dict[str, Any] = {"lineage": LineagePlugin()}
    path.write_text("lineage:\n  transport:\n    type: http\n    url: http://x\n    urll: y\n")
    with pytest.raises(ConfigError, match=r"orchestrate.yaml: unknown key .lineage\.transport\.http\.urll"):
        load_config(path, plugins)
    path.write_text("lineage:\n  enabled: maybe\n")
    with pytest.raises(ConfigError, match=r"lineage\.enabled"):
        load_config(path, plugins)
    path.write_text("lineage:\n  transport:\n    type: carrier-pigeon\n")
    with pytest.raises(ConfigError, match=r"lineage\.transport"):
        load_config(path, plugins)


def test_on_when_the_client_is_configured(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    assert not client_configured({"HOME": str(home)}, tmp_path)
    assert client_configured({"HOME": str(home), "OPENLINEAGE_URL": "http://c"}, tmp_path)
    assert client_configured({"HOME": str(home), "OPENLINEAGE__TRANSPORT__TYPE": "console"}, tmp_path)
    assert not client_configured({"HOME": str(home), "OPENLINEAGE_URL": "http://c", "OPENLINEAGE_DISABLED": "true"})
    (tmp_path / "openlineage.yml").write_text("transport:\n  type: console\n")
    assert client_configured({"HOME": str(home)}, tmp_path)


def test_off_costs_no_import(tmp_path: Path) -> None:
    """Without a lineage section or client configuration, the OpenLineage client is never imported."""
    (tmp_path / "orchestrate.yaml").write_text("concurrency: 1\n")
    code = textwrap.dedent(
        f"""
        import sys
        from pathlib import Path
        from orchestrate_ext.project import Project
        project = Project.load(Path({str(tmp_path)!r}))
        assert "lineage" in project.plugins, list(project.plugins)
        print(sorted(project.observer_sections()), "openlineage" in sys.modules)
        """
    )
    env = {key: value for key, value in os.environ.items() if not key.startswith("OPENLINEAGE")}
    env["HOME"] = str(tmp_path)
    out = subprocess.run([sys.executable, "-c", code], env=env, cwd=tmp_path, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["[]", "False"]
    env["OPENLINEAGE_URL"] = "http://127.0.0.1:9"
    out = subprocess.run([sys.executable, "-c", code], env=env, cwd=tmp_path, capture_output=True, text=True)
    assert out.stdout.split() == ["['lineage']", "False"]


def test_a_lineage_section_without_the_client_names_the_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from orchestrate_ext.errors import MissingExtra
    from orchestrate_ext.lineage.plugin import LineagePlugin

    monkeypatch.setitem(sys.modules, "openlineage", None)  # as if not installed
    project = Project(tmp_path, _http(None))
    context = ObserverContext(project.workspace, project.store, project.graph, project.clock)
    with pytest.raises(MissingExtra, match=r"pip install 'orchestrate-ext\[lineage\]'"):
        LineagePlugin().observers(project.config, context)
    monkeypatch.setenv("OPENLINEAGE_URL", "http://127.0.0.1:9")
    plugin = LineagePlugin()
    implicit = plugin.implicit_config(project.workspace)
    assert implicit is not None and plugin.observers(implicit, context) == []  # meant for other tools, maybe
