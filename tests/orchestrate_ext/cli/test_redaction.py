"""Every reading command shows text from the store and the logs through the project's redactor.

The redactor here is a stand-in that masks one value; the real one (the secrets orchestrate.yaml names,
credential-like text) is the project's own. What is checked is that no path around it exists.
"""

from __future__ import annotations

import io
import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from orchestrate_ext.cli import reading as reading_module
from orchestrate_ext.cli.follow import follow_log, watch_run
from orchestrate_ext.cli.reading import reading
from orchestrate_ext.model import AttemptRecord, AttemptStatus, NodeRunRecord, NodeStatus, RunStatus
from orchestrate_ext.store import StateStore
from tests.orchestrate_ext.cli.conftest import invoke
from tests.support.history import Step, record_run

SECRET = "hunter2-secret-value"
MASK = "[redacted]"
ERROR = f"could not connect: password={SECRET}\nsecond line {SECRET}"


class Masking:
    def __call__(self, text: str) -> str:
        return text.replace(SECRET, MASK)

    def document(self, value: Any) -> Any:
        return json.loads(json.dumps(value).replace(SECRET, MASK))


@pytest.fixture(autouse=True)
def masking(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reading_module, "redaction", lambda project: Masking())


@pytest.fixture
def failed(project: Path, store: StateStore, now: datetime) -> str:
    logs = project / ".orchestrate" / "logs"
    record_run(store, "r1", now - timedelta(minutes=5), [Step("notebook.load", NodeStatus.FAILED, ERROR)], logs=logs)
    (logs / "notebook.load.1.log").write_text(f"connecting with {SECRET}\n")
    return "r1"


@pytest.mark.parametrize(
    "args",
    [
        ["show", "r1"],
        ["show", "r1", "--json"],
        ["status"],
        ["status", "--json"],
        ["logs", "r1", "notebook.load"],
        ["runs", "--json"],
    ],
)
def test_no_reading_command_shows_a_secret(project: Path, failed: str, args: list[str]) -> None:
    result = invoke(project, *args)
    assert SECRET not in result.output
    if args[0] != "runs":
        assert MASK in result.output, "the text was there, masked"


def test_logs_follow_masks_a_secret_written_in_two_pieces(project: Path, store: StateStore, now: datetime) -> None:
    record_run(store, "r2", now, [Step("notebook.load", NodeStatus.PENDING)], status=RunStatus.RUNNING)
    log = project / "live.log"
    log.write_text("user=ana password=hunter2-sec")
    with store.transaction() as tx:
        epoch = tx.claim_run("r2", "x", now) or 0
        running = AttemptRecord("r2", "notebook.load", 1, AttemptStatus.RUNNING, now, log_path=str(log))
        tx.start_attempt(
            running, NodeRunRecord("r2", "notebook.load", "notebook", NodeStatus.RUNNING), epoch, host="h", pid=1
        )

    def finish() -> None:
        with log.open("a") as handle:
            handle.write("ret-value ok\n")
        with store.transaction() as tx:
            tx.finish_attempt(
                AttemptRecord("r2", "notebook.load", 1, AttemptStatus.FAILED, now, now, f"boom {SECRET}"),
                NodeRunRecord("r2", "notebook.load", "notebook", NodeStatus.FAILED, 1, now, now, f"boom {SECRET}"),
                epoch,
            )
            tx.finish_run("r2", RunStatus.FAILED, epoch, now)

    steps = [lambda: None, finish]
    written: list[str] = []
    with reading(project) as read:
        follow_log(read, "r2", "notebook.load", None, sleep=lambda _: steps.pop(0)(), write=written.append)
    text = "".join(written)
    assert SECRET not in text and f"user=ana password={MASK} ok" in text


def test_show_watch_masks_errors_in_its_lines_and_its_view(project: Path, store: StateStore, now: datetime) -> None:
    record_run(store, "r3", now, [Step("notebook.load", NodeStatus.PENDING)], status=RunStatus.RUNNING)
    with store.transaction() as tx:
        epoch = tx.claim_run("r3", "x", now) or 0

    def fail() -> None:
        with store.transaction() as tx:
            tx.set_node_state(
                NodeRunRecord("r3", "notebook.load", "notebook", NodeStatus.FAILED, error=ERROR), 0, epoch
            )
            tx.finish_run("r3", RunStatus.FAILED, epoch, now)

    out = io.StringIO()
    with reading(project) as read:
        watch_run(read, "r3", Console(file=out), sleep=lambda _: fail())
    assert SECRET not in out.getvalue() and f"password={MASK}" in out.getvalue()
