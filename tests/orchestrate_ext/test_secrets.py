"""Secrets named in orchestrate.yaml: withheld from node processes, redacted from what is stored and shown.

Issue 10, item 2. The real papermill and Jupyter side is ``tests/test_secret_canary.py``.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from dbt_adapter.project import DbtConfig, DbtProject
from orchestrate_ext.cli import main
from orchestrate_ext.clock import SystemClock
from orchestrate_ext.config import Defaults, load_config
from orchestrate_ext.events import NodeChanged
from orchestrate_ext.execution.executor import Executor
from orchestrate_ext.graph import build_graph
from orchestrate_ext.interfaces import BatchReporter, NodeOutcome, NodeTask, RunContext, Workspace
from orchestrate_ext.model import AttemptStatus, Node, StateLocation
from orchestrate_ext.project import Project, load_plugins
from orchestrate_ext.redact import Redactor
from orchestrate_ext.secrets import node_environment, secret_env_names
from orchestrate_ext.store import open_store
from orchestrate_ext.store.postgres import without_password

TOKEN = "xoxb-canary-0000-token-secret"
PASSWORD = "canary pass word 42"
URL = "postgresql://orchestrate:canarypgpass@db.example.com/state"
ENVIRON = {"SLACK_BOT_TOKEN": TOKEN, "SMTP_PASSWORD": PASSWORD, "STATE_URL": URL, "HOME": "/home/ana", "PATH": "/bin"}


def notebook_node(node_id: str, *passthrough: str) -> Node:
    return Node(id=node_id, kind="notebook", resource_type="notebook", name=node_id, env_passthrough=passthrough)


def test_every_env_key_at_any_depth_names_a_secret() -> None:
    raw = {
        "alerts": {
            "slack": {"token_env": "SLACK_BOT_TOKEN"},
            "email": {"username_env": "SMTP_USER", "password_env": "SMTP_PASSWORD"},
            "routes": [{"slack": "#x", "extra": {"deep": [{"api_key_env": "ROUTE_KEY"}]}}],
        },
        "state": {"url_env": "STATE_URL"},
        "plugin": {"list_env": ["A_ONE", "A_TWO"], "bad_env": "xoxb-a-pasted-token!", "not_env_suffix": "X"},
    }
    assert secret_env_names(raw) == {
        "SLACK_BOT_TOKEN",
        "SMTP_USER",
        "SMTP_PASSWORD",
        "ROUTE_KEY",
        "STATE_URL",
        "A_ONE",
        "A_TWO",
    }
    assert secret_env_names(None) == frozenset() and secret_env_names([{"x_env": "Y"}]) == {"Y"}


def test_node_environment_withholds_secrets_unless_a_node_passes_them_through() -> None:
    names = {"SLACK_BOT_TOKEN", "SMTP_PASSWORD", "STATE_URL", "NOT_SET_HERE"}
    plain = node_environment(names, [notebook_node("notebook.a")], ENVIRON)
    assert plain == {"HOME": "/home/ana", "PATH": "/bin"}
    opened = node_environment(names, [notebook_node("notebook.a", "STATE_URL")], ENVIRON)
    assert opened == {"HOME": "/home/ana", "PATH": "/bin", "STATE_URL": URL}
    batch = [notebook_node("model.a", "STATE_URL"), notebook_node("model.b", "SMTP_PASSWORD")]
    assert set(node_environment(names, batch, ENVIRON)) == {"HOME", "PATH", "STATE_URL", "SMTP_PASSWORD"}


def test_the_workspace_knows_the_secret_names_of_orchestrate_yaml(tmp_path: Path) -> None:
    config = tmp_path / "orchestrate.yaml"
    config.write_text(
        "notebooks: {include: ['*.ipynb']}\n"
        "alerts:\n  slack: {token_env: SLACK_BOT_TOKEN}\n"
        "  email: {smtp_host: h, from: a@example.com, username_env: SMTP_USER, password_env: SMTP_PASSWORD}\n"
        "state: {url_env: STATE_URL}\n"
    )
    workspace = load_config(config, load_plugins()).workspace
    assert workspace.secret_env == {"SLACK_BOT_TOKEN", "SMTP_USER", "SMTP_PASSWORD", "STATE_URL"}


def test_dbt_gets_the_node_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in ENVIRON.items():
        monkeypatch.setenv(name, value)
    (tmp_path / "dbt_project.yml").write_text("name: shop\nprofile: shop\nversion: '1.0'\n")
    workspace = Workspace(
        tmp_path,
        tmp_path / "orchestrate.yaml",
        tmp_path / ".orchestrate",
        secret_env=frozenset({"SLACK_BOT_TOKEN", "SMTP_PASSWORD", "STATE_URL"}),
    )
    project = DbtProject.from_config(workspace, DbtConfig.model_validate({"project_dir": "."}))
    env = project.env()
    assert not {"SLACK_BOT_TOKEN", "SMTP_PASSWORD", "STATE_URL"} & set(env)
    assert env["HOME"] == "/home/ana" and env["DBT_SEND_ANONYMOUS_USAGE_STATS"] == "false"
    assert project.env([notebook_node("model.p.m", "STATE_URL")])["STATE_URL"] == URL


def test_dbt_env_secret_variables_reach_dbt_and_no_other_node(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``DBT_ENV_SECRET_*`` (dbt's convention for what profiles.yml reads) are secrets whether named or not."""
    monkeypatch.setenv("DBT_ENV_SECRET_PG_PASSWORD", "canary-dbt-9931")
    assert "DBT_ENV_SECRET_PG_PASSWORD" not in node_environment(set(), [notebook_node("notebook.n")])
    granted = node_environment(set(), [notebook_node("notebook.n", "DBT_ENV_SECRET_PG_PASSWORD")])
    assert granted["DBT_ENV_SECRET_PG_PASSWORD"] == "canary-dbt-9931"
    (tmp_path / "dbt_project.yml").write_text("name: shop\nprofile: shop\nversion: '1.0'\n")
    workspace = Workspace(tmp_path, tmp_path / "orchestrate.yaml", tmp_path / ".orchestrate")
    project = DbtProject.from_config(workspace, DbtConfig.model_validate({"project_dir": "."}))
    assert project.env()["DBT_ENV_SECRET_PG_PASSWORD"] == "canary-dbt-9931"
    assert Redactor.from_env([])("password canary-dbt-9931 in a log") == "password [redacted] in a log"


UNPARSED_URLS = [
    ("postgresql://bob:pa ss7word-canary@127.0.0.1:1/db", ["pa ss7word-canary"]),
    ("postgresql://bob:pa%zz-canary@127.0.0.1:1/db", ["pa%zz-canary"]),
    ("postgresql://bob:p@ss-canary@127.0.0.1:1/db", ["ss-canary@127.0.0.1"]),
    ("postgresql://bob:p/ss-canary@127.0.0.1:1/db", ["p/ss-canary"]),
]


@pytest.mark.parametrize(("url", "echoes"), UNPARSED_URLS)
def test_a_url_that_does_not_parse_loses_its_password_everywhere(url: str, echoes: list[str]) -> None:
    """What psycopg echoes of such a URL ('unexpected spaces found in "pa ss..."') is redacted too."""
    assert "canary" not in without_password(url)
    assert without_password(url).endswith("@127.0.0.1:1/db")
    assert "canary" not in Redactor()(f"error: cannot connect to {url}: refused"), "by its shape alone"
    redact = Redactor([url])
    for echo in echoes:
        assert "canary" not in redact(f'psycopg: invalid token "{echo}"')
    prose = "postgresql://user:password@host/db and a@b.com"
    assert Redactor()(prose) == prose


def test_a_store_url_with_a_bad_password_is_refused_without_showing_it(tmp_path: Path) -> None:
    (tmp_path / "orchestrate.yaml").write_text("state: {url_env: CANARY_STATE_URL}\n")
    for url, _ in UNPARSED_URLS:
        result = CliRunner().invoke(main, ["runs", "--project", str(tmp_path)], env={"CANARY_STATE_URL": url})
        assert result.exit_code in (1, 2), result.output
        assert "canary" not in result.output, result.output
        assert "state store" in result.output


SEALED_AFTER_A_COMMAND = """
import sys
from orchestrate_ext.cli import main
from orchestrate_ext.secrets import process_sealed
before = process_sealed()
try:
    main(["runs", "--project", "/nonexistent/folder"])
except SystemExit:
    pass
print(before, process_sealed(), open("/proc/self/status").read().count("Name:"))
"""


def test_the_cli_seals_its_process() -> None:
    """``orchestrate`` marks itself non-dumpable: no node process can read its environment in /proc (and it can
    still read its own /proc entries)."""
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-c", SEALED_AFTER_A_COMMAND], capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["False", "True", "1"], result.stderr


class LeakyRunner:
    """Reports errors and warnings that hold the secrets; node 'raises' makes the runner itself raise."""

    batchable = False

    def run(
        self, context: RunContext, tasks: Sequence[NodeTask], reporter: BatchReporter, cancel: threading.Event
    ) -> None:
        for task in tasks:
            if task.node.id == "notebook.raises":
                raise RuntimeError(f"connect failed for {URL}")
            reporter.started(task.node.id)
            if task.node.id == "notebook.warns":
                reporter.finished(task.node.id, NodeOutcome(AttemptStatus.SUCCESS, warning=f"token {TOKEN}"))
            else:
                error = f"KeyError: {TOKEN!r} and password={PASSWORD}"
                reporter.finished(task.node.id, NodeOutcome(AttemptStatus.FAILED, error))


class Recorder:
    def __init__(self) -> None:
        self.changes: list[NodeChanged] = []

    def run_started(self, run: object, node_ids: list[str]) -> None: ...

    def node_changed(self, change: NodeChanged) -> None:
        self.changes.append(change)

    def run_finished(self, run: object) -> None: ...


def test_the_run_loop_redacts_what_runners_report_before_it_is_stored_or_announced(tmp_path: Path) -> None:
    graph = build_graph(
        [notebook_node("notebook.fails"), notebook_node("notebook.warns"), notebook_node("notebook.raises")]
    )
    store = open_store(StateLocation(path=tmp_path / "state.db"))
    recorder = Recorder()
    executor = Executor(
        graph,
        {"notebook": LeakyRunner()},
        store,
        SystemClock(),
        state_dir=tmp_path,
        concurrency=2,
        defaults=Defaults(),
        listeners=[recorder],
        redact=Redactor([TOKEN, PASSWORD, URL]),
    )
    run = executor.create_run(set(graph.nodes), datetime(2024, 1, 31, tzinfo=UTC))
    executor.execute(run.run_id)
    with store.read() as tx:
        texts = [state.error or "" for state in tx.node_states(run.run_id)]
        texts += [attempt.error or "" for attempt in tx.attempts(run.run_id)]
    texts += [change.error or "" for change in recorder.changes]
    joined = "\n".join(texts)
    assert "[redacted]" in joined and "KeyError" in joined and "connect failed for" in joined
    for secret in (TOKEN, PASSWORD, URL, "canarypgpass"):
        assert secret not in joined
    store.close()


def test_show_logs_and_run_json_redact_what_the_store_and_logs_hold(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Old runs (and logs written by a node that was given a secret) are redacted when shown."""
    monkeypatch.setenv("SLACK_BOT_TOKEN", TOKEN)
    (tmp_path / "orchestrate.yaml").write_text(
        "notebooks: {include: ['*.ipynb']}\nalerts: {slack: {token_env: SLACK_BOT_TOKEN}}\n"
    )
    (tmp_path / "a.ipynb").write_text(
        json.dumps({"cells": [], "metadata": {"kernelspec": {"name": "python3"}}, "nbformat": 4, "nbformat_minor": 5})
    )
    project = Project.load(tmp_path)
    store = project.open_store()
    executor = Executor(
        project.graph,
        {"notebook": LeakyRunner()},
        store,
        SystemClock(),
        state_dir=project.config.workspace.state_dir,
        concurrency=1,
        defaults=Defaults(),
    )  # no redactor: the store holds the token, as a run written before this change would
    run = executor.create_run(set(project.graph.nodes), datetime(2024, 1, 31, tzinfo=UTC))
    executor.execute(run.run_id)
    with store.read() as tx:
        [attempt] = tx.attempts(run.run_id)
    Path(attempt.log_path or "").write_text(f"printing os.environ: {{'SLACK_BOT_TOKEN': '{TOKEN}'}}\n")
    store.close()
    outputs = [
        CliRunner().invoke(main, [*args, "--project", str(tmp_path)])
        for args in (
            ["show", run.run_id],
            ["show", run.run_id, "--json"],
            ["logs", run.run_id, "notebook.a"],
            ["runs", "--json"],
        )
    ]
    for result in outputs:
        assert TOKEN not in result.output + result.stderr, result.output
    assert "[redacted]" in outputs[0].output and "[redacted]" in outputs[2].output
