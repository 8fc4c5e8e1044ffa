"""Claims and fences on runs, and the executor under supervision: remote cancel, drain, resume, lost claims."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest

from orchestrate_ext.config import Defaults
from orchestrate_ext.execution.claims import ProcessSupervisor
from orchestrate_ext.execution.executor import Executor
from orchestrate_ext.execution.liveness import ProcessIdentity, ProcessLiveness
from orchestrate_ext.model import AttemptRecord, AttemptStatus, NodeRunRecord, NodeStatus, RunStatus
from orchestrate_ext.store import SQLiteStore
from orchestrate_ext.store.run_control import SQLiteRunControl
from tests.orchestrate_ext.scheduling.helpers import FakeClock, FakeRunner, identity, open_state, small_graph, utc

T0 = utc(2024, 1, 31, 6)


@pytest.fixture
def store(tmp_path: Path) -> SQLiteStore:
    return open_state(tmp_path)


def executor(tmp_path: Path, store: SQLiteStore, runner: FakeRunner, clock: FakeClock, **fields: object) -> Executor:
    defaults = fields.pop("defaults", Defaults(retry_backoff=0))
    supervisor = fields.pop("supervisor", ProcessSupervisor(store, clock, identity=identity("me")))
    return Executor(
        small_graph(),
        {"fake": runner},
        store,
        clock,
        state_dir=tmp_path / ".orchestrate",
        concurrency=2,
        defaults=defaults,  # type: ignore[arg-type]
        supervisor=supervisor,  # type: ignore[arg-type]
    )


def attempt(run_id: str, node: str, try_number: int, status: AttemptStatus = AttemptStatus.RUNNING) -> AttemptRecord:
    return AttemptRecord(
        run_id, node, try_number, status, started_at=T0, finished_at=None if status == "running" else T0
    )


def test_a_newer_claim_fences_every_write_of_the_older_one(tmp_path: Path, store: SQLiteStore) -> None:
    clock = FakeClock(T0)
    run = executor(tmp_path, store, FakeRunner(), clock).create_run({"fake.load"}, T0)
    control = SQLiteRunControl(store)
    old = control.claim(run.run_id, "old-owner", T0)
    running = NodeRunRecord(run.run_id, "fake.load", "fake", NodeStatus.RUNNING)
    assert control.start_attempt(attempt(run.run_id, "fake.load", 1), running, old, "h", 1)
    new = control.claim(run.run_id, "new-owner", T0)
    assert new == old + 1
    done = NodeRunRecord(run.run_id, "fake.load", "fake", NodeStatus.SUCCESS)
    finished = attempt(run.run_id, "fake.load", 1, AttemptStatus.SUCCESS)
    assert not control.finish_attempt(finished, done, old)
    assert not control.set_node_state(done, 1, old)
    assert not control.set_run_status(run.run_id, RunStatus.SUCCESS, old)
    assert not control.beat(run.run_id, old, T0)
    assert store.get_node_states(run.run_id)[0].status == NodeStatus.RUNNING
    assert store.get_run(run.run_id).status == RunStatus.RUNNING
    assert control.beat(run.run_id, new, T0)


def test_writes_are_fenced_on_the_attempt_number(tmp_path: Path, store: SQLiteStore) -> None:
    clock = FakeClock(T0)
    run = executor(tmp_path, store, FakeRunner(), clock).create_run({"fake.load"}, T0)
    control = SQLiteRunControl(store)
    epoch = control.claim(run.run_id, "me", T0)
    running = NodeRunRecord(run.run_id, "fake.load", "fake", NodeStatus.RUNNING)
    assert control.start_attempt(attempt(run.run_id, "fake.load", 1), running, epoch, "h", 1)
    assert control.start_attempt(attempt(run.run_id, "fake.load", 2), running, epoch, "h", 1)
    assert not control.start_attempt(attempt(run.run_id, "fake.load", 2), running, epoch, "h", 1), "a try starts once"
    late = NodeRunRecord(run.run_id, "fake.load", "fake", NodeStatus.FAILED, error="late news from try 1")
    assert not control.finish_attempt(attempt(run.run_id, "fake.load", 1, AttemptStatus.FAILED), late, epoch)
    assert not control.set_node_state(late, 1, epoch)
    [state] = store.get_node_states(run.run_id)
    assert (state.status, state.error) == (NodeStatus.RUNNING, None)
    tries = {a.try_number: a for a in store.get_attempts(run.run_id)}
    assert tries[2].status == AttemptStatus.RUNNING


def test_cancel_requested_from_another_process_stops_a_running_run(tmp_path: Path, store: SQLiteStore) -> None:
    runner = FakeRunner()
    runner.gate.clear()  # every node waits until cancelled
    clock = FakeClock(T0)
    ex = executor(tmp_path, store, runner, clock)
    run = ex.create_run({"fake.load", "fake.transform"}, T0)
    result: list[object] = []
    thread = threading.Thread(target=lambda: result.append(ex.execute(run.run_id)))
    thread.start()
    _wait_for(lambda: store.get_node_states(run.run_id)[0].status == NodeStatus.RUNNING)
    assert SQLiteRunControl(store).request_cancel(run.run_id, T0) == RunStatus.RUNNING
    thread.join(10)
    assert not thread.is_alive()
    assert store.get_run(run.run_id).status == RunStatus.CANCELLED
    states = {state.node_id: state.status for state in store.get_node_states(run.run_id)}
    assert states == {"fake.load": NodeStatus.CANCELLED, "fake.transform": NodeStatus.CANCELLED}
    assert SQLiteRunControl(store).request_cancel(run.run_id, T0) == RunStatus.CANCELLED


def test_drain_lets_running_nodes_finish_and_cancels_the_rest(tmp_path: Path, store: SQLiteStore) -> None:
    runner = FakeRunner()
    runner.gate.clear()
    clock = FakeClock(T0)
    ex = executor(tmp_path, store, runner, clock)
    run = ex.create_run({"fake.load", "fake.transform"}, T0)
    drain = threading.Event()
    thread = threading.Thread(target=ex.execute, args=(run.run_id,), kwargs={"drain": drain})
    thread.start()
    _wait_for(lambda: store.get_node_states(run.run_id)[0].status == NodeStatus.RUNNING)
    drain.set()
    time.sleep(0.3)
    runner.gate.set()
    thread.join(10)
    states = {state.node_id: state for state in store.get_node_states(run.run_id)}
    assert states["fake.load"].status == NodeStatus.SUCCESS
    assert states["fake.transform"].status == NodeStatus.CANCELLED
    assert "stopped" in (states["fake.transform"].error or "")
    assert store.get_run(run.run_id).status == RunStatus.CANCELLED


def test_an_execution_that_lost_its_claim_stops_and_writes_nothing_more(tmp_path: Path, store: SQLiteStore) -> None:
    runner = FakeRunner()
    runner.gate.clear()
    clock = FakeClock(T0)
    ex = executor(tmp_path, store, runner, clock)
    run = ex.create_run({"fake.load", "fake.transform"}, T0)
    thread = threading.Thread(target=ex.execute, args=(run.run_id,))
    thread.start()
    _wait_for(lambda: store.get_node_states(run.run_id)[0].status == NodeStatus.RUNNING)
    control = SQLiteRunControl(store)
    control.crash_attempts(run.run_id, "recoverer", T0 + timedelta(minutes=1), "crashed: test")
    runner.gate.set()
    thread.join(10)
    assert not thread.is_alive()
    [load_try] = store.get_attempts(run.run_id)
    assert load_try.status == AttemptStatus.CRASHED, "the late result of the dead execution was refused"
    assert store.get_run(run.run_id).status == RunStatus.RUNNING, "the new owner decides how the run ends"
    assert {s.node_id: s.status for s in store.get_node_states(run.run_id)}["fake.transform"] == NodeStatus.PENDING


@pytest.mark.parametrize(("retries", "expected"), [(1, NodeStatus.SUCCESS), (0, NodeStatus.FAILED)])
def test_resume_retries_a_crashed_try_as_the_retry_policy_allows(
    tmp_path: Path, store: SQLiteStore, retries: int, expected: NodeStatus
) -> None:
    clock = FakeClock(T0)
    ex = executor(tmp_path, store, FakeRunner(), clock, defaults=Defaults(retries=retries, retry_backoff=0))
    run = ex.create_run({"fake.load", "fake.transform", "fake.other"}, T0)
    control = SQLiteRunControl(store)
    epoch = control.claim(run.run_id, "dead", T0)
    control.set_node_state(NodeRunRecord(run.run_id, "fake.other", "fake", NodeStatus.SUCCESS), 1, epoch)
    running = NodeRunRecord(run.run_id, "fake.load", "fake", NodeStatus.RUNNING, started_at=T0)
    control.start_attempt(attempt(run.run_id, "fake.load", 1), running, epoch, "h", 1)
    control.crash_attempts(run.run_id, "me", T0, "crashed: the process died")
    finished = ex.execute(run.run_id, resume=True)
    states = {state.node_id: state for state in store.get_node_states(run.run_id)}
    assert states["fake.load"].status == expected
    assert states["fake.other"].attempts == 0, "a node that succeeded before the crash does not run again"
    tries = [(a.try_number, a.status) for a in store.get_attempts(run.run_id, "fake.load")]
    if retries:
        assert tries == [(1, AttemptStatus.CRASHED), (2, AttemptStatus.SUCCESS)]
        assert finished.status == RunStatus.SUCCESS
    else:
        assert tries == [(1, AttemptStatus.CRASHED)]
        assert states["fake.load"].error == "crashed: the process died"
        assert states["fake.transform"].status == NodeStatus.UPSTREAM_FAILED
        assert finished.status == RunStatus.FAILED


def test_attempts_record_where_they_ran(tmp_path: Path, store: SQLiteStore) -> None:
    clock = FakeClock(T0)
    ex = executor(tmp_path, store, FakeRunner(), clock)
    run = ex.create_run({"fake.load"}, T0)
    ex.execute(run.run_id)
    rows = store.database.query("SELECT host, pid, epoch FROM attempts WHERE run_id = ?", (run.run_id,))
    me = identity("me")
    assert rows == [(me.host, me.pid, 1)]
    assert store.database.query("SELECT owner FROM runs")[0][0] == me.owner


def test_the_default_supervisor_is_this_process(tmp_path: Path, store: SQLiteStore) -> None:
    clock = FakeClock(T0)
    ex = Executor(
        small_graph(), {"fake": FakeRunner()}, store, clock, state_dir=tmp_path, concurrency=1, defaults=Defaults()
    )
    assert ex.supervisor is not None
    current = ProcessIdentity.current()
    assert ex.supervisor.owner == current.owner
    assert ProcessIdentity.parse(current.owner) == ProcessIdentity(current.host, current.pid, round(current.started, 2))
    liveness = ProcessLiveness()
    assert liveness.is_alive(current.owner, None, T0)
    assert not liveness.is_alive(f"{current.host}:{current.pid}:{current.started - 100:.2f}", None, T0), "pid reused"
    assert liveness.is_alive("elsewhere:1:1.00", T0, T0 + timedelta(seconds=30))
    assert not liveness.is_alive("elsewhere:1:1.00", T0, T0 + timedelta(seconds=61)), "no heartbeat for a minute"


def _wait_for(condition: object, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return
        time.sleep(0.02)
    raise AssertionError("condition not met in time")


def test_a_node_skipped_before_any_attempt_can_be_written_again_by_a_retry(tmp_path: Path, store: SQLiteStore) -> None:
    """A runner may skip a node it was given (dbt after a failure in its batch): no attempt row exists."""
    clock = FakeClock(T0)
    run = executor(tmp_path, store, FakeRunner(), clock).create_run({"fake.load"}, T0)
    control = SQLiteRunControl(store)
    first = control.claim(run.run_id, "first", T0)
    pending = NodeRunRecord(run.run_id, "fake.load", "fake", NodeStatus.PENDING)
    assert control.set_node_state(pending, 2, first)  # tries 1 and 2 were handed out, never started
    retry = control.claim(run.run_id, "retry", T0)
    assert control.set_node_state(pending, 0, retry), "no attempt exists, so nothing newer is overwritten"


def test_executing_a_finished_run_again_drops_an_old_cancel_request(tmp_path: Path, store: SQLiteStore) -> None:
    clock = FakeClock(T0)
    ex = executor(tmp_path, store, FakeRunner(), clock)
    run = ex.create_run({"fake.load"}, T0)
    control = SQLiteRunControl(store)
    control.request_cancel(run.run_id, T0)
    assert ex.execute(run.run_id).status == RunStatus.CANCELLED
    assert ex.execute(run.run_id).status == RunStatus.SUCCESS, "orchestrate retry of a cancelled run runs it"
