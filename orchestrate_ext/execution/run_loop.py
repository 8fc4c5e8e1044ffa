"""One execution of one run: the loop that starts ready nodes and records what runners report.

The loop lives on one thread and is the only writer of the run's state: runner
threads report starts and ends through a queue (:mod:`.runner_events`), and
every change is written to the store through the run's claim (which fences
it) before listeners hear of it. Ready nodes of a batchable kind (dbt) that are
adjacent in the graph go to their runner as one batch, as long as they pass the same
secrets through (``env_passthrough``: a batch is one process). In an ``--only-changed``
run, each ready node is first asked whether it may reuse its last success
(:mod:`.reuse`); a reused node is done without running.

Exclusive resources (``warehouse``: one writer of a DuckDB file) are held in
the store, across runs and processes: a batch starts only once it holds every
resource its nodes need; until then its nodes are ``waiting``, with
``waiting_for`` naming the holder, and the loop asks again every half second.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING

from orchestrate_ext.errors import PluginError
from orchestrate_ext.events import NodeChanged
from orchestrate_ext.execution.claims import RunClaim
from orchestrate_ext.execution.reuse import Fingerprints, upstream_runs
from orchestrate_ext.execution.runner_events import (
    BatchDone,
    Finished,
    QueueReporter,
    RunnerEvent,
    Started,
    log_path_for,
)
from orchestrate_ext.interfaces import NodeOutcome, NodeRunner, NodeTask, RunContext
from orchestrate_ext.model import (
    AttemptRecord,
    AttemptStatus,
    NodeRunRecord,
    NodeStatus,
    RunRecord,
    RunStatus,
    result_id,
)
from orchestrate_ext.store.files import StateFiles
from orchestrate_ext.store.records import LastSuccess, ResourceWait
from orchestrate_ext.transitions import check_attempt, check_node, check_run

if TYPE_CHECKING:
    from orchestrate_ext.execution.executor import RunEnvironment

_POLL_SECONDS = 0.2
_RESOURCE_POLL_SECONDS = 0.5
_WAITING = frozenset({NodeStatus.PENDING, NodeStatus.WAITING, NodeStatus.UP_FOR_RETRY})
"""Statuses of nodes that may still start."""
_MAX_SKIPS = 3
_FAILED_TRIES = frozenset({AttemptStatus.FAILED, AttemptStatus.TIMED_OUT, AttemptStatus.CRASHED})


class RunLoop:
    """The state of one execution of one run."""

    def __init__(
        self,
        environment: RunEnvironment,
        claim: RunClaim,
        run: RunRecord,
        states: list[NodeRunRecord],
        attempts: list[AttemptRecord],
        *,
        cancel: threading.Event,
        drain: threading.Event,
        resume: bool,
    ) -> None:
        self.env = environment
        self.claim = claim
        self.run_record = run
        self.cancel = cancel
        self.drain = drain
        self.resume = resume
        self.lost = False
        self.events: queue.Queue[RunnerEvent] = queue.Queue()
        self.reporter = QueueReporter(self.events, environment.clock, environment.redact)
        self.run_dir = environment.state_dir / "runs" / run.run_id
        self.files = StateFiles(environment.state_dir)
        """Logs and outputs are recorded relative to the state folder (a copied project shows its own)."""
        self.context = RunContext(
            run_id=run.run_id,
            logical_date=run.logical_date,
            run_dir=self.run_dir,
            parameters=dict(run.parameters),
            launcher=environment.launcher,
        )
        graph = environment.graph
        self.records = {state.node_id: state for state in states if state.node_id in graph.nodes}
        self.unknown = [state for state in states if state.node_id not in graph.nodes]
        members = set(self.records)
        self.parents = {node_id: graph.runnable_parents(node_id, members) for node_id in self.records}
        self.order = [node_id for node_id in graph.order if node_id in self.records]
        self.position = {node_id: index for index, node_id in enumerate(self.order)}
        self.waiting = {node_id for node_id, state in self.records.items() if state.status in _WAITING}
        """Nodes that may still start: the only ones that can become ready."""
        self.last_try = dict.fromkeys(self.records, 0)
        self.failures = dict.fromkeys(self.records, 0)
        self.last_error: dict[str, str | None] = {}
        for attempt in attempts:
            self.last_try[attempt.node_id] = max(self.last_try.get(attempt.node_id, 0), attempt.try_number)
            if resume and attempt.status in _FAILED_TRIES and attempt.node_id in self.failures:
                self.failures[attempt.node_id] += 1
                self.last_error[attempt.node_id] = attempt.error
        self.skips = dict.fromkeys(self.records, 0)
        self.retry_at: dict[str, float] = {}
        self.batches: dict[int, list[NodeTask]] = {}
        self.batch_of: dict[str, int] = {}
        self.next_batch_id = 0
        self.resource_keys: dict[int, str] = {}
        """The node each batch holding resources asked for them under."""
        self.asking: set[str] = set()
        """Nodes whose resource request waits in the store's line."""
        self.next_resource_poll = 0.0
        self.dirty = True
        """Set when a node settles or a slot frees: only then can more nodes be ready."""
        self.fingerprints = Fingerprints(environment, self.context, self.records)
        self.fingerprints.check_sources = run.only_changed
        self.decided: set[str] = set()
        """Nodes of an ``--only-changed`` run already decided to run."""
        self._last_successes: dict[str, LastSuccess] | None = None

    # -- the loop

    def run(self) -> RunRecord:
        for state in self.unknown:
            if state.status.is_done:  # what it produced stands, whatever became of the node since
                continue
            left_out = self.run_record.left_out.get(state.node_id)
            gone = f"left out: {left_out}" if left_out else "this node is no longer in the project"
            check_node(f"{state.run_id}/{state.node_id}", state.status, NodeStatus.SKIPPED)
            self._write(
                self.claim.set_node_state(replace(state, status=NodeStatus.SKIPPED, error=gone), state.attempts)
            )
        for node_id, record in self.records.items():
            self._reset(node_id, record)
        self._write(self.claim.mark_started(self.env.clock.now()))
        run = self.env.store.reading(lambda tx: tx.get_run(self.run_record.run_id))
        for listener in self.env.listeners:
            listener.run_started(run, list(self.order))
        with ThreadPoolExecutor(max_workers=self.env.concurrency, thread_name_prefix="orchestrate") as pool:
            try:
                self._loop(pool)
            except BaseException:  # a store write failed, or an interrupt: stop the runners before leaving
                self.cancel.set()
                raise
        return self._finish()

    def _loop(self, pool: ThreadPoolExecutor) -> None:
        while True:
            self._supervise()
            if self.dirty or self._stopping() or self._retry_due() or self._resource_poll_due():
                self.dirty = False
                self._propagate_upstream_failures()
                if self._stopping():
                    self._cancel_waiting()
                else:
                    self._launch_ready(pool)
            if not self.batches and not self._has_waiting_work():
                break
            self._drain(self._wait_seconds())

    def _reset(self, node_id: str, record: NodeRunRecord) -> None:
        """Make a node that has not succeeded ready to run; on resume, apply its retry policy to earlier tries."""
        if record.status.is_done or (self.resume and record.status.is_final):
            return
        failures = self.failures[node_id]
        if not (self.resume and failures):
            self._set(node_id, NodeStatus.PENDING, error=None, finished_at=None)
        elif failures > self._retries(node_id):
            self._set(node_id, NodeStatus.FAILED, error=self.last_error.get(node_id), finished_at=self.env.clock.now())
        else:
            self.retry_at[node_id] = self.env.clock.monotonic() + self._backoff(node_id, failures)
            self._set(node_id, NodeStatus.UP_FOR_RETRY, error=self.last_error.get(node_id), finished_at=None)

    def _supervise(self) -> None:
        """Heartbeat, notice a lost claim, and take up a cancel request from another process."""
        if not self.lost and not self.claim.keep(self.env.clock.now()):
            self._lose()
        if not self.cancel.is_set() and self.claim.cancel_requested():
            self.cancel.set()

    def _write(self, accepted: bool) -> None:
        if not accepted:
            self._lose()

    def _lose(self) -> None:
        """Another execution claimed the run: stop the runners and write nothing more."""
        self.lost = True
        self.cancel.set()

    def _stopping(self) -> bool:
        return self.cancel.is_set() or self.drain.is_set()

    def _has_waiting_work(self) -> bool:
        return not self._stopping() and bool(self.waiting)

    def _retry_due(self) -> bool:
        now = self.env.clock.monotonic()
        return any(at <= now for at in self.retry_at.values())

    def _resource_poll_due(self) -> bool:
        return bool(self.asking) and self.env.clock.monotonic() >= self.next_resource_poll

    def _wait_seconds(self) -> float:
        if self.dirty:
            return 0.0
        if not self.retry_at:
            return _POLL_SECONDS
        soonest = min(self.retry_at.values()) - self.env.clock.monotonic()
        return max(0.0, min(_POLL_SECONDS, soonest))

    def _drain(self, timeout: float) -> None:
        try:
            event = self.events.get(timeout=timeout)
        except queue.Empty:
            return
        while True:
            self._handle(event)
            try:
                event = self.events.get_nowait()
            except queue.Empty:
                return

    def _finish(self) -> RunRecord:
        statuses = {record.status for record in self.records.values()}
        if self._stopping() and not all(status.is_done for status in statuses):
            status = RunStatus.CANCELLED
        elif all(status.is_done for status in statuses):
            status = RunStatus.SUCCESS
        else:
            status = RunStatus.FAILED
        if not self.lost:
            check_run(self.run_record.run_id, RunStatus.RUNNING, status)
            self._write(self.claim.finish_run(status, self.env.clock.now()))
        run = self.env.store.reading(lambda tx: tx.get_run(self.run_record.run_id))
        if self.lost:
            return run
        for listener in self.env.listeners:
            listener.run_finished(run)
        return run

    # -- deciding what runs

    def _is_ready(self, node_id: str, now: float) -> bool:
        status = self.records[node_id].status
        if status == NodeStatus.UP_FOR_RETRY:
            if self.retry_at.get(node_id, 0.0) > now:
                return False
        elif status not in (NodeStatus.PENDING, NodeStatus.WAITING):
            return False
        return all(self._lets_start(node_id, parent) for parent in self.parents[node_id])

    def _lets_start(self, node_id: str, parent: str) -> bool:
        """Whether ``parent``'s state lets ``node_id`` start (done; or ended, when its failure does not block)."""
        status = self.records[parent].status
        return status.is_done or (status.is_final and not self._blocks(node_id, parent))

    def _blocks(self, node_id: str, parent: str) -> bool:
        """Whether a failure of ``parent`` stops ``node_id`` (see ``Node.failure_blocks``, ``runs_after_failures``)."""
        nodes = self.env.graph.nodes
        return nodes[parent].failure_blocks and not nodes[node_id].runs_after_failures

    def _launch_ready(self, pool: ThreadPoolExecutor) -> None:
        now = self.env.clock.monotonic()
        ready = [node_id for node_id in self._waiting_in_order() if self._is_ready(node_id, now)]
        if self.run_record.only_changed:
            ready = self._decide(ready, now)
        claimed: set[str] = set()
        asked: set[str] = set()
        for node_id in ready:
            if node_id in claimed:
                continue
            if len(self.batches) >= self.env.concurrency:
                break
            runner = self._runner(self.env.graph.nodes[node_id].kind)
            batch = self._grow_batch(node_id, ready) if runner.batchable else [node_id]
            claimed.update(batch)
            needed = sorted({resource for member in batch for resource in self.env.graph.nodes[member].resources})
            if needed:
                wait = self.claim.request_resources(batch[0], needed, self.env.clock.now())
                if wait is not None and wait.claim_lost:
                    self._lose()
                    return
                if wait is not None:
                    asked.add(batch[0])
                    self._wait_for(batch, needed, wait)
                    continue
            self._submit(pool, runner, batch, needed)
        self._give_up_asking(self.asking - asked)
        self.asking = asked
        self.next_resource_poll = self.env.clock.monotonic() + _RESOURCE_POLL_SECONDS

    def _decide(self, ready: list[str], now: float) -> list[str]:
        """The ready nodes that run; reusing a node readies its dependants, which are decided at once too.

        So a batch forms once all that can be reused is: a node that runs takes along only what
        reads a result that changes.
        """
        running: list[str] = []
        seen: set[str] = set()
        while ready:
            seen.update(ready)
            running += self._reuse_unchanged(ready)
            ready = [
                node_id for node_id in self._waiting_in_order() if node_id not in seen and self._is_ready(node_id, now)
            ]
        return sorted(running, key=self.position.__getitem__)

    def _reuse_unchanged(self, ready: list[str]) -> list[str]:
        """Mark the ready nodes whose last success is still current ``reused``; return the ones that run."""
        running = []
        for node_id in ready:
            if node_id in self.decided or self.last_try[node_id] > 0:  # tried in this run: its data may have changed
                running.append(node_id)
                continue
            decision = self.fingerprints.decide(node_id, self.records, self._last_success(node_id))
            if decision.reused is not None:
                record = self.records[node_id]
                state = replace(
                    record,
                    status=NodeStatus.REUSED,
                    error=None,
                    waiting_for=None,
                    finished_at=self.env.clock.now(),
                    fingerprint=decision.fingerprint,
                    result=decision.reused.result,
                    reason=decision.reason,
                )
                self._write(self.claim.set_node_state(state, self.last_try[node_id]))
                self._announce(state, self.last_try[node_id])
            else:
                self.decided.add(node_id)
                self.records[node_id] = replace(self.records[node_id], reason=decision.reason)
                running.append(node_id)
        return running

    def _last_success(self, node_id: str) -> LastSuccess | None:
        if self._last_successes is None:
            self._last_successes = self.env.store.reading(lambda tx: tx.last_successes(self.records))
        return self._last_successes.get(node_id)

    def _grow_batch(self, first: str, ready: list[str]) -> list[str]:
        """Every ready node of ``first``'s kind and secrets, plus waiting ones of those whose parents are all in.

        Only nodes with the same ``env_passthrough`` set share a batch: a batch is one process, and a
        secret passed through to one node must not reach the others.
        """
        key = self._batch_key(first)
        batch = {node_id for node_id in ready if self._batch_key(node_id) == key}
        for node_id in self._waiting_in_order():
            if node_id in batch or self.records[node_id].status not in (NodeStatus.PENDING, NodeStatus.WAITING):
                continue
            if self._batch_key(node_id) != key:
                continue
            if all(parent in batch or self._lets_start(node_id, parent) for parent in self.parents[node_id]):
                if self._may_reuse(node_id) and not any(
                    parent in batch for parent in self.fingerprints.inputs(node_id)
                ):
                    continue  # nothing it reads runs: it is decided when it is ready, and may be reused
                batch.add(node_id)
        return sorted(batch, key=self.position.__getitem__)

    def _batch_key(self, node_id: str) -> tuple[str, frozenset[str]]:
        node = self.env.graph.nodes[node_id]
        return node.kind, frozenset(node.env_passthrough)

    def _may_reuse(self, node_id: str) -> bool:
        """A node of an ``--only-changed`` run not yet decided to run."""
        return self.run_record.only_changed and node_id not in self.decided and self.last_try[node_id] == 0

    def _wait_for(self, batch: list[str], needed: list[str], wait: ResourceWait) -> None:
        """Mark the batch's nodes ``waiting``, saying for what and for whom."""
        text = waiting_text(needed, wait, self.run_record.run_id, self._holding_nodes(wait, needed))
        for node_id in batch:
            record = self.records[node_id]
            if record.status != NodeStatus.WAITING or record.waiting_for != text:
                self._set(node_id, NodeStatus.WAITING, waiting_for=text)

    def _holding_nodes(self, wait: ResourceWait, needed: list[str]) -> dict[tuple[str, str], list[str]]:
        """The nodes running now under each hold of ``wait``: a hold is taken under the first node of a batch,
        which may have finished long before the batch lets the resource go."""
        found: dict[tuple[str, str], list[str]] = {}
        others = sorted({holder.run_id for holder in wait.holders if holder.run_id != self.run_record.run_id})
        running: dict[str, list[str]] = {}
        if others:
            running = self.claim.store.reading(
                lambda tx: {
                    run_id: [state.node_id for state in tx.node_states(run_id) if state.status == NodeStatus.RUNNING]
                    for run_id in others
                }
            )
        wanted = set(needed)
        for holder in wait.holders:
            if holder.run_id == self.run_record.run_id:
                batch = [
                    task.node.id
                    for batch_id, key in self.resource_keys.items()
                    if key == holder.node_id
                    for task in self.batches.get(batch_id, [])
                ]
                names = [node_id for node_id in batch if self.records[node_id].status == NodeStatus.RUNNING]
            else:
                nodes = self.env.graph.nodes
                names = [
                    node_id
                    for node_id in running.get(holder.run_id, [])
                    if node_id not in nodes or wanted & set(nodes[node_id].resources)
                ]
            found[(holder.run_id, holder.node_id)] = names
        return found

    def _give_up_asking(self, node_ids: set[str]) -> None:
        """Leave the store's line for requests no longer made (granted, the batch changed shape, the run stops)."""
        if node_ids and not self.lost:
            self.claim.withdraw_requests(node_ids)

    def _runner(self, kind: str) -> NodeRunner:
        try:
            return self.env.runners[kind]
        except KeyError:
            raise PluginError(f"no runner is installed for nodes of kind '{kind}'") from None

    def _submit(self, pool: ThreadPoolExecutor, runner: NodeRunner, batch: list[str], resources: list[str]) -> None:
        tries = self.claim.allocate_tries(batch)
        if tries is None:
            if resources:
                self.claim.release_resources([batch[0]])
            self._lose()
            return
        batch_id = self.next_batch_id
        self.next_batch_id += 1
        tasks = []
        for node_id in batch:
            node = self.env.graph.nodes[node_id]
            self.last_try[node_id] = tries[node_id]
            self.retry_at.pop(node_id, None)
            timeout = node.timeout if node.timeout is not None else self.env.defaults.timeout
            tasks.append(
                NodeTask(
                    node, self.last_try[node_id], log_path_for(self.run_dir, node_id, self.last_try[node_id]), timeout
                )
            )
            self.batch_of[node_id] = batch_id
            if self.run_record.only_changed and node_id not in self.decided:
                self._runs_after_upstream(node_id, batch)
            self._set(node_id, NodeStatus.QUEUED, waiting_for=None)
        self.batches[batch_id] = tasks
        if resources:
            self.resource_keys[batch_id] = batch[0]
        pool.submit(self._run_batch, batch_id, runner, tasks)

    def _runs_after_upstream(self, node_id: str, batch: list[str]) -> None:
        """A node joining its upstream's batch runs because that upstream runs: say so."""
        reason = upstream_runs(self.fingerprints.inputs(node_id), batch) or "an upstream node runs"
        self.decided.add(node_id)
        self.records[node_id] = replace(self.records[node_id], reason=reason)

    def _run_batch(self, batch_id: int, runner: NodeRunner, tasks: list[NodeTask]) -> None:
        error = None
        try:
            for task in tasks:
                task.log_path.parent.mkdir(parents=True, exist_ok=True)
            runner.run(self.context, tasks, self.reporter, self.cancel)
        except Exception as exc:  # a runner bug must not lose the run: record it on its nodes
            error = self.env.redact(f"{type(exc).__name__}: {exc}")
        self.events.put(BatchDone(batch_id, error))

    # -- handling what runners report

    def _handle(self, event: RunnerEvent) -> None:
        if isinstance(event, Started):
            self._on_started(event)
        elif isinstance(event, Finished):
            self._on_finished(event.node_id, event.at, event.outcome)
        else:
            self._on_batch_done(event)

    def _task(self, node_id: str) -> NodeTask:
        return next(task for task in self.batches[self.batch_of[node_id]] if task.node.id == node_id)

    def _on_started(self, event: Started) -> None:
        task = self._task(event.node_id)
        record = self.records[event.node_id]
        check_node(f"{record.run_id}/{record.node_id}", record.status, NodeStatus.RUNNING)
        state = replace(record, status=NodeStatus.RUNNING, started_at=record.started_at or event.at, error=None)
        attempt = AttemptRecord(
            run_id=record.run_id,
            node_id=event.node_id,
            try_number=task.try_number,
            status=AttemptStatus.RUNNING,
            started_at=event.at,
            log_path=self.files.stored(task.log_path),
            output_path=self.files.stored(event.output_path),
        )
        self._write(self.claim.start_attempt(attempt, state))
        self._announce(state, task.try_number)

    def _on_finished(self, node_id: str, at: datetime, outcome: NodeOutcome) -> None:
        task = self._task(node_id)
        record = self.records[node_id]
        if outcome.skipped:
            self.skips[node_id] += 1
            if self.skips[node_id] >= _MAX_SKIPS:
                self._set(node_id, NodeStatus.SKIPPED, error=outcome.error, finished_at=at)
            else:
                self._set(node_id, NodeStatus.PENDING)
            return
        if record.status not in (NodeStatus.QUEUED, NodeStatus.RUNNING):
            return  # already settled: a runner may not report one try twice
        if record.status == NodeStatus.QUEUED:  # finished without a start: record both at once
            self._on_started(Started(node_id, at, outcome.output_path))
            record = self.records[node_id]
        status = outcome.status or AttemptStatus.FAILED
        next_status, error = self._after_attempt(node_id, status, outcome)
        subject = f"{record.run_id}/{node_id}"
        check_node(subject, record.status, next_status)
        check_attempt(f"{subject}#{task.try_number}", AttemptStatus.RUNNING, status)
        state = replace(record, status=next_status, error=error, finished_at=at if next_status.is_final else None)
        if next_status.is_done:
            fingerprint = self.fingerprints.of(node_id, self.records)
            state = replace(state, fingerprint=fingerprint, result=result_id(record.run_id, task.try_number))
        attempt = AttemptRecord(
            run_id=record.run_id,
            node_id=node_id,
            try_number=task.try_number,
            status=status,
            started_at=record.started_at or at,
            finished_at=at,
            error=outcome.error or outcome.warning,
            output_path=self.files.stored(outcome.output_path),
            worker=outcome.worker,
        )
        if not self.claim.finish_attempt(attempt, state):
            self._lose()  # the try was closed by another process (crash recovery)
        self._announce(state, task.try_number)

    def _after_attempt(
        self, node_id: str, status: AttemptStatus, outcome: NodeOutcome
    ) -> tuple[NodeStatus, str | None]:
        """The node's status after a try and the text kept with it (the error, or a success's warning)."""
        error = outcome.error
        if status == AttemptStatus.SUCCESS:
            return (NodeStatus.WARNED, outcome.warning) if outcome.warning else (NodeStatus.SUCCESS, None)
        if status == AttemptStatus.CANCELLED:
            return (NodeStatus.CANCELLED if self.cancel.is_set() else NodeStatus.PENDING), error
        self.failures[node_id] += 1
        if self.failures[node_id] > self._retries(node_id) or self.cancel.is_set():
            return NodeStatus.FAILED, error
        self.retry_at[node_id] = self.env.clock.monotonic() + self._backoff(node_id, self.failures[node_id])
        return NodeStatus.UP_FOR_RETRY, error

    def _retries(self, node_id: str) -> int:
        node = self.env.graph.nodes[node_id]
        return node.retries if node.retries is not None else self.env.defaults.retries

    def _backoff(self, node_id: str, failures: int) -> float:
        node = self.env.graph.nodes[node_id]
        backoff = node.retry_backoff if node.retry_backoff is not None else self.env.defaults.retry_backoff
        return float(backoff * 2 ** (failures - 1))

    def _on_batch_done(self, event: BatchDone) -> None:
        """Settle every node the runner left without a result, give back the batch's resources, free its slot."""
        for task in self.batches[event.batch_id]:
            node_id = task.node.id
            status = self.records[node_id].status
            waiting_on_parent = any(not self._lets_start(node_id, p) for p in self.parents[node_id])
            if status == NodeStatus.QUEUED and waiting_on_parent:
                self._set(node_id, NodeStatus.PENDING)  # its parent's fate decides
            elif status in (NodeStatus.QUEUED, NodeStatus.RUNNING):
                error = event.error or "the runner ended without reporting a result for this node"
                self._on_finished(node_id, self.env.clock.now(), NodeOutcome(AttemptStatus.FAILED, error))
        key = self.resource_keys.pop(event.batch_id, None)
        if key is not None:  # even once the claim is lost: only this claim's holds go
            self.claim.release_resources([key])
        for task in self.batches.pop(event.batch_id):
            self.batch_of.pop(task.node.id, None)
        self.dirty = True

    # -- propagation and bookkeeping

    def _waiting_in_order(self) -> list[str]:
        return sorted(self.waiting, key=self.position.__getitem__)

    def _propagate_upstream_failures(self) -> None:
        for node_id in self._waiting_in_order():
            if self.records[node_id].status not in (NodeStatus.PENDING, NodeStatus.WAITING):
                continue
            blocked = [
                parent
                for parent in sorted(self.parents[node_id])
                if self.records[parent].status.is_final
                and not self.records[parent].status.is_done
                and self._blocks(node_id, parent)
            ]
            if blocked:
                parent = blocked[0]
                reason = f"upstream {parent} {self.records[parent].status.value.replace('_', ' ')}"
                self._set(node_id, NodeStatus.UPSTREAM_FAILED, error=reason, finished_at=self.env.clock.now())

    def _cancel_waiting(self) -> None:
        reason = "the run was cancelled" if self.cancel.is_set() else "not started: the run was stopped (shutdown)"
        for node_id in self._waiting_in_order():
            if self.records[node_id].status in _WAITING:
                self.retry_at.pop(node_id, None)
                self._set(node_id, NodeStatus.CANCELLED, error=reason, finished_at=self.env.clock.now())
        self._give_up_asking(self.asking)
        self.asking = set()

    _KEEP = object()

    def _set(
        self,
        node_id: str,
        status: NodeStatus,
        *,
        error: str | object | None = _KEEP,
        finished_at: datetime | object | None = _KEEP,
        waiting_for: str | None = None,
    ) -> None:
        record = self.records[node_id]
        check_node(f"{record.run_id}/{node_id}", record.status, status)
        state = replace(
            record,
            status=status,
            error=record.error if error is self._KEEP else error,  # type: ignore[arg-type]
            finished_at=record.finished_at if finished_at is self._KEEP else finished_at,  # type: ignore[arg-type]
            waiting_for=waiting_for,
        )
        self._write(self.claim.set_node_state(state, self.last_try.get(node_id, 0)))
        self._announce(state, self.last_try.get(node_id, 0))

    def _announce(self, state: NodeRunRecord, try_number: int) -> None:
        self.records[state.node_id] = state
        if state.status in _WAITING:
            self.waiting.add(state.node_id)
        else:
            self.waiting.discard(state.node_id)
        if state.status.is_final or state.status == NodeStatus.PENDING:
            self.dirty = True
        if self.lost:
            return
        change = NodeChanged(
            state.run_id,
            state.node_id,
            state.kind,
            state.status,
            try_number,
            state.error,
            state.waiting_for,
            state.reason if self.run_record.only_changed else None,
        )
        for listener in self.env.listeners:
            listener.node_changed(change)


def waiting_text(
    resources: list[str],
    wait: ResourceWait,
    run_id: str,
    running: Mapping[tuple[str, str], list[str]] | None = None,
) -> str:
    """``waiting for warehouse (held by run … node …)``, or the place in line.

    ``running`` names, per hold (run id, node id), the nodes running under it now; the hold's own node when
    none is (a hold is taken under the first node of a batch, which may have finished long ago).
    """
    names = ", ".join(resources)
    holders = []
    for holder in wait.holders:
        nodes = (running or {}).get((holder.run_id, holder.node_id)) or [holder.node_id]
        node = nodes[0] + (f" and {len(nodes) - 1} more" if len(nodes) > 1 else "")
        holders.append(f"{node} in this run" if holder.run_id == run_id else f"run {holder.run_id} node {node}")
    if holders:
        return f"waiting for {names} (held by {'; '.join(dict.fromkeys(holders))})"
    ahead = "1 earlier request" if wait.position == 1 else f"{wait.position} earlier requests"
    return f"waiting for {names} ({ahead} in line)"
