"""The executor under supervision (both backends): remote cancel, drain, resume, lost claims, where tries ran."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest

from orchestrate_ext.config import Defaults
from orchestrate_ext.errors import BadInput
from orchestrate_ext.execution.claims import Supervisor, refuse_if_executing
from orchestrate_ext.execution.executor import Executor
from orchestrate_ext.execution.liveness import ProcessIdentity, ProcessLiveness
from orchestrate_ext.execution.recovery import recover_orphans
from orchestrate_ext.interfaces import NodeOutcome
from orchestrate_ext.model import AttemptRecord, AttemptStatus, NodeRunRecord, NodeStatus, RunStatus
from orchestrate_ext.store import StateStore
from orchestrate_ext.store.claims_sql import AttemptEnding
from orchestrate_ext.testing import FakeClock, ScriptedRunner, wait_until
from tests.orchestrate_ext.scheduling.helpers import identity, small_graph, utc
from tests.support.stores import attempts_of, node_states_of, run_of

T0 = utc(2024, 1, 31, 6)


def executor(tmp_path: Path, store: StateStore, runner: ScriptedRunner, clock: FakeClock, **fields: object) -> Executor:
    defaults = fields.pop("defaults", Defaults(retry_backoff=0))
    supervisor = fields.pop("supervisor", Supervisor(store, clock, identity=identity("me")))
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


def test_cancel_requested_from_another_process_stops_a_running_run(tmp_path: Path, store: StateStore) -> None:
    runner = ScriptedRunner()
    runner.gate.clear()  # every node waits until cancelled
    clock = FakeClock(T0)
    ex = executor(tmp_path, store, runner, clock)
    run = ex.create_run({"fake.load", "fake.transform"}, T0)
    result: list[object] = []
    thread = threading.Thread(target=lambda: result.append(ex.execute(run.run_id)))
    thread.start()
    wait_until(lambda: node_states_of(store, run.run_id)[0].status == NodeStatus.RUNNING)
    assert request_cancel(store, run.run_id) == RunStatus.RUNNING
    thread.join(10)
    assert not thread.is_alive()
    assert run_of(store, run.run_id).status == RunStatus.CANCELLED
    states = {state.node_id: state.status for state in node_states_of(store, run.run_id)}
    assert states == {"fake.load": NodeStatus.CANCELLED, "fake.transform": NodeStatus.CANCELLED}
    assert request_cancel(store, run.run_id) == RunStatus.CANCELLED


def test_drain_lets_running_nodes_finish_and_cancels_the_rest(tmp_path: Path, store: StateStore) -> None:
    runner = ScriptedRunner()
    runner.gate.clear()
    clock = FakeClock(T0)
    ex = executor(tmp_path, store, runner, clock)
    run = ex.create_run({"fake.load", "fake.transform"}, T0)
    drain = threading.Event()
    thread = threading.Thread(target=ex.execute, args=(run.run_id,), kwargs={"drain": drain})
    thread.start()
    wait_until(lambda: node_states_of(store, run.run_id)[0].status == NodeStatus.RUNNING)
    drain.set()
    time.sleep(0.3)
    runner.gate.set()
    thread.join(10)
    states = {state.node_id: state for state in node_states_of(store, run.run_id)}
    assert states["fake.load"].status == NodeStatus.SUCCESS
    assert states["fake.transform"].status == NodeStatus.CANCELLED
    assert "stopped" in (states["fake.transform"].error or "")
    assert run_of(store, run.run_id).status == RunStatus.CANCELLED


def test_an_execution_that_lost_its_claim_stops_and_writes_nothing_more(tmp_path: Path, store: StateStore) -> None:
    runner = ScriptedRunner()
    runner.gate.clear()
    clock = FakeClock(T0)
    ex = executor(tmp_path, store, runner, clock)
    run = ex.create_run({"fake.load", "fake.transform"}, T0)
    thread = threading.Thread(target=ex.execute, args=(run.run_id,))
    thread.start()
    wait_until(lambda: node_states_of(store, run.run_id)[0].status == NodeStatus.RUNNING)
    with store.read() as tx:
        epoch = tx.run_ownership(run.run_id).epoch
    crashed = AttemptEnding("fake.load", 1, AttemptStatus.CRASHED, "crashed: test")
    with store.transaction() as tx:
        assert tx.take_over(run.run_id, "recoverer", T0 + timedelta(minutes=1), epoch, [crashed])
    runner.gate.set()
    thread.join(10)
    assert not thread.is_alive()
    [load_try] = attempts_of(store, run.run_id)
    assert load_try.status == AttemptStatus.CRASHED, "the late result of the dead execution was refused"
    assert run_of(store, run.run_id).status == RunStatus.RUNNING, "the new owner decides how the run ends"
    assert {s.node_id: s.status for s in node_states_of(store, run.run_id)}["fake.transform"] == NodeStatus.PENDING


@pytest.mark.parametrize(("retries", "expected"), [(1, NodeStatus.SUCCESS), (0, NodeStatus.FAILED)])
def test_resume_retries_a_crashed_try_as_the_retry_policy_allows(
    tmp_path: Path, store: StateStore, retries: int, expected: NodeStatus
) -> None:
    clock = FakeClock(T0)
    ex = executor(tmp_path, store, ScriptedRunner(), clock, defaults=Defaults(retries=retries, retry_backoff=0))
    run = ex.create_run({"fake.load", "fake.transform", "fake.other"}, T0)
    with store.transaction() as tx:
        epoch = tx.claim_run(run.run_id, "dead", T0) or 0
        tx.set_node_state(NodeRunRecord(run.run_id, "fake.other", "fake", NodeStatus.SUCCESS), 1, epoch)
        running = NodeRunRecord(run.run_id, "fake.load", "fake", NodeStatus.RUNNING, started_at=T0)
        tx.start_attempt(attempt(run.run_id, "fake.load", 1), running, epoch, host="h", pid=1)
        crashed = AttemptEnding("fake.load", 1, AttemptStatus.CRASHED, "crashed: the process died")
        assert tx.take_over(run.run_id, "me", T0, epoch, [crashed])
    finished = ex.execute(run.run_id, resume=True)
    states = {state.node_id: state for state in node_states_of(store, run.run_id)}
    assert states["fake.load"].status == expected
    assert states["fake.other"].attempts == 0, "a node that succeeded before the crash does not run again"
    tries = [(a.try_number, a.status) for a in attempts_of(store, run.run_id, "fake.load")]
    if retries:
        assert tries == [(1, AttemptStatus.CRASHED), (2, AttemptStatus.SUCCESS)]
        assert finished.status == RunStatus.SUCCESS
    else:
        assert tries == [(1, AttemptStatus.CRASHED)]
        assert states["fake.load"].error == "crashed: the process died"
        assert states["fake.transform"].status == NodeStatus.UPSTREAM_FAILED
        assert finished.status == RunStatus.FAILED


def test_attempts_record_where_they_ran(tmp_path: Path, store: StateStore) -> None:
    clock = FakeClock(T0)
    ex = executor(tmp_path, store, ScriptedRunner(), clock)
    run = ex.create_run({"fake.load"}, T0)
    ex.execute(run.run_id)
    me = identity("me")
    with store.read() as tx:
        found = tx.sql.execute("SELECT host, pid, epoch FROM attempts WHERE run_id = ?", (run.run_id,)).fetchall()
        assert [tuple(row) for row in found] == [(me.host, me.pid, 1)]
        assert tx.run_ownership(run.run_id).owner == me.owner


def test_the_default_supervisor_is_this_process(tmp_path: Path, store: StateStore) -> None:
    clock = FakeClock(T0)
    ex = Executor(
        small_graph(), {"fake": ScriptedRunner()}, store, clock, state_dir=tmp_path, concurrency=1, defaults=Defaults()
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


def test_a_node_skipped_before_any_attempt_can_be_written_again_by_a_retry(tmp_path: Path, store: StateStore) -> None:
    """A runner may skip a node it was given (dbt after a failure in its batch): no attempt row exists."""
    clock = FakeClock(T0)
    run = executor(tmp_path, store, ScriptedRunner(), clock).create_run({"fake.load"}, T0)
    pending = NodeRunRecord(run.run_id, "fake.load", "fake", NodeStatus.PENDING)
    with store.transaction() as tx:
        first = tx.claim_run(run.run_id, "first", T0) or 0
        assert tx.set_node_state(pending, 2, first)  # tries 1 and 2 were handed out, never started
        retry = tx.claim_run(run.run_id, "retry", T0) or 0
        assert tx.set_node_state(pending, 0, retry), "no attempt exists, so nothing newer is overwritten"


def test_executing_a_finished_run_again_drops_an_old_cancel_request(tmp_path: Path, store: StateStore) -> None:
    clock = FakeClock(T0)
    ex = executor(tmp_path, store, ScriptedRunner(), clock)
    run = ex.create_run({"fake.load"}, T0)
    request_cancel(store, run.run_id)
    assert ex.execute(run.run_id).status == RunStatus.CANCELLED
    assert ex.execute(run.run_id).status == RunStatus.SUCCESS, "orchestrate retry of a cancelled run runs it"


def request_cancel(store: StateStore, run_id: str) -> RunStatus:
    with store.transaction() as tx:
        return tx.request_cancel(run_id, T0)


class RecordingRunner(ScriptedRunner):
    """A runner that also says how a try ended after its process died (as a notebook's result file does)."""

    def __init__(self, finished: dict[tuple[str, int], NodeOutcome]) -> None:
        super().__init__()
        self.finished = finished

    def recorded_outcome(self, attempt: AttemptRecord) -> NodeOutcome | None:
        return self.finished.get((attempt.node_id, attempt.try_number))


def test_a_try_that_finished_before_its_process_died_is_adopted_not_run_again(
    tmp_path: Path, store: StateStore
) -> None:
    clock = FakeClock(T0)
    runner = RecordingRunner({("fake.load", 1): NodeOutcome(AttemptStatus.SUCCESS, output_path="/out/load.ipynb")})
    ex = executor(tmp_path, store, runner, clock, defaults=Defaults(retries=1, retry_backoff=0))
    run = ex.create_run({"fake.load", "fake.transform"}, T0)
    dead = "elsewhere:4242:1.00"
    with store.transaction() as tx:
        epoch = tx.claim_run(run.run_id, dead, T0) or 0
        tx.start_attempt(
            attempt(run.run_id, "fake.load", 1),
            NodeRunRecord(run.run_id, "fake.load", "fake", NodeStatus.RUNNING, started_at=T0),
            epoch,
            host="elsewhere",
            pid=4242,
        )
    liveness = ProcessLiveness(stale_after=60.0)
    [recovered] = recover_orphans(
        store,
        liveness,
        identity("me").owner,
        set(),
        T0 + timedelta(minutes=5),
        runners={"fake": runner},
        kill=lambda owner: [],
    )
    assert [ending.node_id for ending in recovered.adopted] == ["fake.load"] and recovered.crashed == ()
    finished = ex.execute(run.run_id, resume=True)
    assert finished.status == RunStatus.SUCCESS
    assert runner.nodes_run() == ["fake.transform"], "the finished notebook is not run again"
    [load] = attempts_of(store, run.run_id, "fake.load")
    assert (load.status, load.output_path) == (AttemptStatus.SUCCESS, "/out/load.ipynb")


def test_a_retry_keeps_the_first_start_and_counts_the_resumption(tmp_path: Path, store: StateStore) -> None:
    clock = FakeClock(T0)
    runner = ScriptedRunner({"fake.load": ["fail", "ok"]})
    ex = executor(tmp_path, store, runner, clock)
    run = ex.create_run({"fake.load"}, T0)
    assert ex.execute(run.run_id).status == RunStatus.FAILED
    first_start = run_of(store, run.run_id).started_at
    clock.advance(minutes=10)
    finished = ex.execute(run.run_id)
    assert finished.status == RunStatus.SUCCESS
    assert (finished.started_at, finished.resumed_at, finished.resumptions) == (first_start, clock.now(), 1)


def test_a_run_that_a_live_process_executes_cannot_be_retried(tmp_path: Path, store: StateStore) -> None:
    runner = ScriptedRunner()
    runner.gate.clear()
    ex = executor(tmp_path, store, runner, FakeClock(T0), supervisor=Supervisor(store, FakeClock(T0)))
    run = ex.create_run({"fake.load"}, T0)
    thread = threading.Thread(target=ex.execute, args=(run.run_id,))
    thread.start()
    wait_until(lambda: node_states_of(store, run.run_id)[0].status == NodeStatus.RUNNING)
    with store.read() as tx, pytest.raises(BadInput, match=r"is still running .*orchestrate cancel"):
        refuse_if_executing(tx, run.run_id, T0)
    runner.gate.set()
    thread.join(10)
    with store.read() as tx:
        refuse_if_executing(tx, run.run_id, T0)  # finished: retrying it is fine
