"""Fixtures for the alerts: a fake clock, the fake Slack, a real SMTP server, and a harness.

The harness runs the real executor (scripted runners in place of dbt and
notebooks) with the real alerts observer as a listener, on a real SQLite
store, with the clock faked; the test calls ``tick`` as the scheduler would.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from alerts.config import AlertsConfig
from alerts.observer import AlertsObserver
from alerts.sla import ScheduleSla
from orchestrate_ext.config import Defaults
from orchestrate_ext.execution.executor import Executor
from orchestrate_ext.execution.observers import ObserverContext
from orchestrate_ext.graph import build_graph
from orchestrate_ext.interfaces import BatchReporter, NodeOutcome, NodeTask, RunContext, Workspace
from orchestrate_ext.model import AttemptStatus, Node, RunRecord, StateLocation
from orchestrate_ext.store import open_store
from orchestrate_ext.testing import FakeClock
from tests.alerts.fake_slack import FakeSlack
from tests.alerts.fake_smtp import SmtpServer, make_certificate

TOKEN = "xoxb-1111-2222-canarytokenvalue"
PASSWORD = "smtp-canary-password-42"
START = datetime(2024, 1, 31, 5, 0, tzinfo=UTC)


class LoggingRunner:
    """Plays each node's script, one step per try: ``ok``, ``warn``, ``fail`` or ``block`` (until released).

    Each try writes a log with a few lines (and ``log_secret`` when set).
    """

    batchable = False

    def __init__(self, script: dict[str, list[str]] | None = None, log_secret: str = "") -> None:
        self.script = script or {}
        self.log_secret = log_secret
        self.tries: dict[str, int] = {}
        self.release = threading.Event()
        self.blocked = threading.Event()

    def run(
        self, context: RunContext, tasks: Sequence[NodeTask], reporter: BatchReporter, cancel: threading.Event
    ) -> None:
        for task in tasks:
            plan = self.script.get(task.node.id, ["ok"])
            step = plan[min(self.tries.get(task.node.id, 0), len(plan) - 1)]
            self.tries[task.node.id] = self.tries.get(task.node.id, 0) + 1
            reporter.started(task.node.id, f"{context.run_dir}/outputs/{task.node.path}")
            lines = [f"starting {task.node.id} try {task.try_number}", "reading orders", "writing daily_revenue"]
            if self.log_secret:
                lines.append(f"connecting with token={self.log_secret} and password {self.log_secret}")
            if step == "block":
                self.blocked.set()
                self.release.wait(30)
                step = "ok"
            if step == "ok":
                task.log_path.write_text("\n".join([*lines, "done"]) + "\n")
                reporter.finished(task.node.id, NodeOutcome(AttemptStatus.SUCCESS))
            elif step == "warn":
                task.log_path.write_text("\n".join([*lines, "done"]) + "\n")
                warning = "Got 3 results, configured to warn if != 0"
                reporter.finished(task.node.id, NodeOutcome(AttemptStatus.SUCCESS, warning=warning))
            else:
                lines.append("Traceback (most recent call last):\nKeyError: 'amount'")
                task.log_path.write_text("\n".join(lines) + "\n")
                error = f"cell 3 (execution 3): KeyError: 'amount' in {task.node.name}"
                reporter.finished(task.node.id, NodeOutcome(AttemptStatus.FAILED, error))


def node(node_id: str, *deps: str, owner: str | None = None, tags: Sequence[str] = (), **settings: Any) -> Node:
    name = node_id.rsplit(".", 1)[-1]
    return Node(
        id=node_id,
        kind="notebook",
        resource_type="notebook",
        name=name,
        path=f"notebooks/{name}.ipynb",
        depends_on=deps,
        owner=owner,
        tags=frozenset(tags),
        settings=settings,
    )


class Harness:
    """A project in miniature: graph, store, executor and the alerts observer, on a fake clock."""

    def __init__(
        self,
        root: Path,
        nodes: Sequence[Node],
        alerts: dict[str, Any],
        environ: dict[str, str],
        *,
        script: dict[str, list[str]] | None = None,
        retries: int = 0,
        schedules: dict[str, ScheduleSla] | None = None,
        clock: FakeClock | None = None,
        log_secret: str = "",
        location: StateLocation | None = None,
    ) -> None:
        self.root = root
        self.clock = clock or FakeClock(START)
        self.environ = environ
        self.schedules = schedules or {}
        self.graph = build_graph(nodes)
        self.config = AlertsConfig.model_validate(alerts)
        self.location = location or StateLocation(path=root / ".orchestrate" / "state.db")
        self.runs = open_store(self.location)
        self.workspace = Workspace(root=root, config_path=root / "orchestrate.yaml", state_dir=root / ".orchestrate")
        self.runner = LoggingRunner(script, log_secret)
        self.sleeps: list[float] = []
        self.retries = retries
        self.observer = self.new_observer()

    def new_observer(self) -> AlertsObserver:
        context = ObserverContext(self.workspace, self.runs, self.graph, self.clock)
        return AlertsObserver(
            self.config,
            context,
            background=False,
            environ=self.environ,
            sleep=self.sleeps.append,
            schedules=self.schedules,
        )

    def restart(self) -> None:
        """A new process: a new observer (and its notifiers) on the same store."""
        self.observer.close(0)
        self.observer = self.new_observer()

    def executor(self) -> Executor:
        return Executor(
            self.graph,
            {"notebook": self.runner},
            self.runs,
            self.clock,
            state_dir=self.workspace.state_dir,
            concurrency=4,
            defaults=Defaults(retries=self.retries, retry_backoff=0),
            listeners=[self.observer],
        )

    def create(self, *, schedule: str | None = None, logical_date: datetime | None = None) -> RunRecord:
        return self.executor().create_run(
            set(self.graph.nodes),
            logical_date or self.clock.now(),
            schedule=schedule,
            trigger="schedule" if schedule else "manual",
        )

    def run(self, *, schedule: str | None = None, logical_date: datetime | None = None) -> RunRecord:
        """Create and execute a run to its end, then let the group window pass and tick."""
        record = self.create(schedule=schedule, logical_date=logical_date)
        finished = self.executor().execute(record.run_id)
        self.tick()
        return finished

    def start(
        self, *, schedule: str | None = None, logical_date: datetime | None = None
    ) -> tuple[RunRecord, threading.Thread]:
        """Create a run and execute it in a thread (for nodes that ``block``)."""
        record = self.create(schedule=schedule, logical_date=logical_date)
        thread = threading.Thread(target=self.executor().execute, args=(record.run_id,), daemon=True)
        thread.start()
        return record, thread

    def tick(self, seconds: float = 0.0) -> None:
        if seconds:
            self.clock.advance(seconds=seconds)
        self.observer.tick(self.clock.now())

    def outbox(self) -> list[Any]:
        with self.observer.store.transaction() as tx:
            return list(reversed(tx.messages(limit=1000)))

    def wait_until(self, condition: Any, timeout: float = 10.0) -> None:
        """Wait for the executor thread (real time; never for a deadline, which is on the fake clock)."""
        give_up = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > give_up:
                raise AssertionError("condition not reached")
            time.sleep(0.01)


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    server = FakeSlack(token=TOKEN)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return make_certificate(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def smtp(certificate: tuple[Path, Path]) -> Iterator[SmtpServer]:
    server = SmtpServer(*certificate, password=PASSWORD)
    yield server
    server.stop()


def slack_config(slack: FakeSlack, **extra: Any) -> dict[str, Any]:
    return {"token_env": "SLACK_BOT_TOKEN", "base_url": slack.base_url, **extra}


def email_config(smtp: SmtpServer, certificate: tuple[Path, Path], **extra: Any) -> dict[str, Any]:
    return {
        "smtp_host": "localhost",
        "smtp_port": smtp.port,
        "starttls": True,
        "username_env": "SMTP_USER",
        "password_env": "SMTP_PASSWORD",
        "from": "Orchestrate <orchestrate@example.com>",
        "ca_file": str(certificate[0]),
        **extra,
    }


ENVIRON = {"SLACK_BOT_TOKEN": TOKEN, "SMTP_USER": "alerts", "SMTP_PASSWORD": PASSWORD}
