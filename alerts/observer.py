"""The alerts observer: hears every run change, keeps events, checks SLAs, delivers.

Nothing here may break or slow a run: each callback records what happened in
the store (a few small transactions) and returns; errors are logged, never
raised. Messages are composed from the recorded events in ``tick`` (or when
the run ends) and sent by the delivery worker's thread.

It is also a :class:`~orchestrate_ext.interfaces.ConfigProblemListener`: each
problem key reported opens one incident (scope ``config:<scope>``) and one
``config_error`` event, once, however often and by however many processes or
restarts it is reported again (the open incident is in the store); a key of
the scope no longer reported resolves its incident with a ``config_fixed``
event.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import asdict, replace
from datetime import datetime, timedelta
from typing import Any

from alerts.capture import Capture, node_data, run_info, scope_of
from alerts.channels import Notifiers
from alerts.compose import (
    CONFIG_ERROR,
    CONFIG_FIXED,
    FAILURE,
    RECOVERY,
    RETRY,
    RUN_FINISHED,
    SLA_MISS,
    TEST_WARNING,
    Composer,
)
from alerts.config import AlertsConfig
from alerts.content import NodeItem, RunInfo
from alerts.delivery import DeliveryWorker
from alerts.messages import PROJECT_KIND
from alerts.notifiers import build_notifiers
from alerts.redact import Redactor
from alerts.routing import Router
from alerts.sla import RUN_LEVEL, ScheduleSla, Verdict, deadlines, judge, minutes_text
from alerts.store import MISSED, AlertEvent, AlertStore
from alerts.store_sql import SqlAlertStore
from orchestrate_ext.background import logged_not_raised
from orchestrate_ext.clock import duration_text, isoformat
from orchestrate_ext.events import NodeChanged
from orchestrate_ext.execution.observers import ObserverContext
from orchestrate_ext.interfaces import ConfigProblem
from orchestrate_ext.model import NodeStatus, RunRecord, RunStatus
from orchestrate_ext.store.records import RunQuery

log = logging.getLogger(__name__)

SCHEDULE_SUBJECT = "schedule:"
CONFIG_SCOPE = "config:"
"""Incidents of config problems are kept in the scope ``config:<scope>`` (``config:project``)."""


class AlertsObserver:
    """The :class:`~orchestrate_ext.interfaces.Observer` of the alerts plugin.

    Args:
        background: deliver in a thread of its own (the default); tests pass
            False and deliver in ``tick``.
        store: the alerts store (default: the alerts component of the engine's state store).
        schedules: each schedule's time zone and SLA, by name.
        environ: where secrets are read from (default ``os.environ``).
        sleep: how slack-sdk's rate-limit handler waits (tests record instead).
    """

    def __init__(
        self,
        config: AlertsConfig,
        context: ObserverContext,
        *,
        background: bool = True,
        store: AlertStore | None = None,
        schedules: Mapping[str, ScheduleSla] | None = None,
        environ: Mapping[str, str] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        notifiers: Notifiers | None = None,
    ) -> None:
        self.config = config
        self.context = context
        self.clock = context.clock
        self.graph = context.graph
        self.runs_store = context.store
        self.schedules = dict(schedules or {})
        secret_names = {*config.secret_env_names(), *context.workspace.secret_env}  # every `*_env` of the file
        self.redact = Redactor.from_env(secret_names, environ)
        self.store: AlertStore = store or SqlAlertStore(context.store)
        self._route_problems: dict[str, ConfigProblem] = {}
        self.router = Router(config, self.graph.nodes, invalid=self._invalid_routes)
        self._wants_retry = self.router.wants(RETRY)
        self._wants_run_finished = self.router.wants(RUN_FINISHED)
        self._wants_warnings = self.router.wants(TEST_WARNING)
        self.composer = Composer(config, self.router)
        self.capture = Capture(config, context.workspace, self.graph, self.runs_store, self.redact)
        self.notifiers = notifiers or build_notifiers(config, self.redact, environ, sleep)
        for reason in self.notifiers.missing.values():
            log.warning("alerts: %s; its messages wait in the outbox", reason)
        self.worker = DeliveryWorker(self.store, self.notifiers, self.clock, config.delivery, self.redact)
        self.background = background
        self._lock = threading.RLock()
        self._runs: dict[str, RunRecord] = {}
        self._members: dict[str, list[str]] = {}
        self._closed = False
        self._fresh_subjects = self._freshness_subjects()
        with self._guard("start"):
            self._watch_freshness()
        if background:
            self.worker.start()

    def _guard(self, what: str) -> AbstractContextManager[None]:
        """Log, never raise: an alerting problem must not fail a run or the scheduler."""
        return logged_not_raised(self._lock, f"alerts: {what}", self.redact)

    # -- the Observer protocol

    def run_started(self, run: RunRecord, node_ids: list[str]) -> None:
        with self._guard("run_started"):
            self._runs[run.run_id] = run
            self._members[run.run_id] = list(node_ids)
            records = deadlines(run, node_ids, self.graph, self.schedules, self.config.timezone, scope_of(run))
            if records:
                with self.store.transaction() as tx:
                    tx.arm_slas(records)

    def node_changed(self, change: NodeChanged) -> None:
        with self._guard("node_changed"):
            if change.status == NodeStatus.FAILED:
                self._record(FAILURE, change, details=True)
            elif change.status == NodeStatus.UP_FOR_RETRY and self._wants_retry:
                self._record(RETRY, change, details=False)
            elif change.status == NodeStatus.SUCCESS:
                self._succeeded(change)
            elif change.status == NodeStatus.WARNED:
                self._succeeded(change)  # a warning is a success for incidents and freshness
                if self._wants_warnings:
                    self._record(TEST_WARNING, change, details=False)

    def run_finished(self, run: RunRecord) -> None:
        with self._guard("run_finished"):
            self._runs[run.run_id] = run
            payload = self._payload(run, None, None)
            if self._wants_run_finished:
                with self.runs_store.read() as runs:
                    states = runs.node_states(run.run_id)
                counts: dict[str, int] = {}
                for state in states:
                    counts[state.status.value] = counts.get(state.status.value, 0) + 1
                payload["counts"] = counts
                payload["failed"] = [
                    asdict(
                        self.capture.item(
                            run.run_id, s.node_id, kind=s.kind, status="failed", error=s.error, details=False
                        )
                    )
                    for s in states
                    if s.status == NodeStatus.FAILED
                ]
            now = self.clock.now()
            with self.store.transaction() as tx:
                tx.add_event(
                    AlertEvent(
                        f"run:{run.run_id}:{isoformat(run.finished_at)}",
                        RUN_FINISHED,
                        run.run_id,
                        scope_of(run),
                        None,
                        now,
                        payload,
                    )
                )
                if run.schedule and run.status.value == "success":
                    tx.record_success(SCHEDULE_SUBJECT + run.schedule, run.finished_at or now)
            self._step(now)
            self._runs.pop(run.run_id, None)  # a retry of the run reads it again
            self._members.pop(run.run_id, None)

    def tick(self, now: datetime) -> None:
        with self._guard("tick"):
            self._step(now)

    def close(self, timeout: float) -> None:
        """Compose what is buffered and deliver for at most ``timeout`` (and ``delivery.exit_wait``) seconds."""
        if self._closed:
            return
        self._closed = True
        wait = max(0.0, min(timeout, self.config.delivery.exit_wait))
        give_up = time.monotonic() + wait
        with self._guard("close"), self.store.transaction() as tx:
            self.composer.compose(tx, self.clock.now(), force=True)
        self.worker.stop(wait)
        with self._guard("close"):
            left = self.worker.drain(max(0.0, give_up - time.monotonic()))
            if left:
                log.warning("alerts: %d message(s) not delivered yet; the scheduler delivers them later", left)
        self.notifiers.close()

    # -- the ConfigProblemListener protocol

    def config_problems(self, scope: str, problems: Sequence[ConfigProblem], now: datetime) -> None:
        """Open an incident (and alert) per new problem key of ``scope``; resolve those not reported."""
        with self._guard("config_problems"):
            incident_scope = CONFIG_SCOPE + scope
            if scope == "project":  # the node routes this observer could not read are the project's problems too
                problems = [*problems, *self._route_problems.values()]
            current = {problem.key: problem for problem in problems}
            with self.store.transaction() as tx:
                opened = {incident.node_id: incident for incident in tx.open_incidents(incident_scope)}
                for key, problem in current.items():
                    if key in opened:
                        continue
                    incident = tx.create_incident(incident_scope, key, "", now)
                    payload = self._problem_payload(problem, incident.id)
                    tx.add_event(
                        AlertEvent(
                            f"{CONFIG_ERROR}:{incident.id}",
                            CONFIG_ERROR,
                            incident_scope,
                            incident_scope,
                            problem.node_id,
                            now,
                            payload,
                        )
                    )
                for key, incident in opened.items():
                    if key in current:
                        continue
                    tx.save_incident(replace(incident, status="resolved"), resolved_at=now)
                    told = tx.event(f"{CONFIG_ERROR}:{incident.id}")
                    payload = (
                        dict(told.payload)
                        if told is not None
                        else self._problem_payload(ConfigProblem(key, ""), incident.id)
                    )
                    payload["opened_at"] = isoformat(incident.opened_at)
                    tx.add_event(
                        AlertEvent(
                            f"{CONFIG_FIXED}:{incident.id}",
                            CONFIG_FIXED,
                            incident_scope,
                            incident_scope,
                            told.node_id if told is not None else None,
                            now,
                            payload,
                        )
                    )
            self._step(now)

    def _invalid_routes(self, node_id: str, error: str) -> None:
        """A node's own alert routes are invalid: left out (the other routes work), and told as a problem."""
        log.error("alerts: the alert routes of node %s are left out: %s", node_id, self.redact(error))
        node = self.graph.nodes.get(node_id)
        self._route_problems[node_id] = ConfigProblem(
            f"alerts:{node_id}",
            f"the alert routes of node {node_id} are left out (its other alerts go to the routes of "
            f"orchestrate.yaml): {error}",
            node_id,
            node.owner if node is not None else None,
        )

    def _problem_payload(self, problem: ConfigProblem, incident_id: int) -> dict[str, Any]:
        """The item and routing data of a problem: its node (with the owner reported now), or none."""
        message = self.redact(problem.message)
        payload: dict[str, Any] = {"incident": incident_id}
        if problem.node_id is not None:
            node = self.capture.node(problem.node_id, "")
            if problem.owner is not None:
                node = replace(node, owner=problem.owner)
            name = problem.key.split(":", 1)[1] if problem.key.startswith("schedule:") else node.name
            item = NodeItem(
                node_id=node.id,
                name=f"schedule {name}" if problem.key.startswith("schedule:") else name,
                kind=node.kind,
                resource_type=node.resource_type,
                owner=node.owner,
                path=node.path,
                status="left out",
                error=message,
            )
            payload["node"] = node_data(node)
        else:
            name = problem.key.split(":", 1)[-1]
            if problem.key.startswith("schedule:"):
                name = f"schedule {name}"
            elif problem.key == "project":
                name = self.context.workspace.config_path.name
            kind = "schedule" if problem.key.startswith("schedule:") else PROJECT_KIND
            item = NodeItem(node_id=problem.key, name=name, kind=kind, resource_type=kind, error=message)
        payload["item"] = asdict(item)
        return payload

    # -- what happens on each change

    def _run(self, run_id: str) -> RunRecord:
        run = self._runs.get(run_id)
        if run is None:
            with self.runs_store.read() as runs:
                run = self._runs[run_id] = runs.get_run(run_id)
        return run

    def _payload(self, run: RunRecord, node_id: str | None, item: NodeItem | None) -> dict[str, Any]:
        payload: dict[str, Any] = {"run": asdict(run_info(run)), "schedule": run.schedule}
        if node_id is not None:
            payload["node"] = node_data(self.capture.node(node_id, item.kind if item else ""))
        if item is not None:
            payload["item"] = asdict(item)
            if item.exposures and node_id is not None:
                payload["exposures"] = [node_data(found) for found in self.capture.exposures(node_id)]
        return payload

    def _record(self, kind: str, change: NodeChanged, *, details: bool) -> None:
        run = self._run(change.run_id)
        item = self.capture.item(
            run.run_id,
            change.node_id,
            kind=change.kind,
            status=change.status.value.replace("_", " "),
            error=change.error,
            try_number=change.try_number,
            members=self._members.get(run.run_id),
            details=details,
        )
        event = AlertEvent(
            key=f"{kind}:{run.run_id}:{change.node_id}:{change.try_number}",
            kind=kind,
            run_id=run.run_id,
            scope=scope_of(run),
            node_id=change.node_id,
            created_at=self.clock.now(),
            payload=self._payload(run, change.node_id, item),
        )
        with self.store.transaction() as tx:
            tx.add_event(event)

    def _succeeded(self, change: NodeChanged) -> None:
        run = self._run(change.run_id)
        scope = scope_of(run)
        now = self.clock.now()
        with self.store.transaction() as tx:
            tx.record_success(change.node_id, now)
            recovering = tx.open_incident(scope, change.node_id) is not None or tx.has_buffered_failure(
                scope, change.node_id
            )
        if recovering:
            self._record(RECOVERY, change, details=False)

    # -- the periodic step: SLAs, composing, delivering

    def _step(self, now: datetime) -> None:
        self._check_slas(now)
        self._check_freshness(now)
        with self.store.transaction() as tx:
            self.composer.compose(tx, now)
        if self.background:
            self.worker.wake()
        else:
            self.worker.deliver_due()

    def _check_slas(self, now: datetime) -> None:
        with self.store.transaction() as tx:
            armed = tx.armed_slas()
        by_run: dict[str, list[Any]] = {}
        for record in armed:
            by_run.setdefault(record.run_id, []).append(record)
        for run_id, records in by_run.items():
            try:
                with self.runs_store.read() as runs:
                    run = runs.get_run(run_id)
            except LookupError:
                run = None
            if run is None:
                with self.store.transaction() as tx:
                    for record in records:
                        tx.settle_sla(record, "gone")
                continue
            with self.runs_store.read() as runs:
                states = {state.node_id: state for state in runs.node_states(run_id)}
            for record in records:
                verdict = judge(record, run, states, self.graph, now)
                if verdict is not None:
                    self._settle(run, verdict, now)

    def _settle(self, run: RunRecord, verdict: Verdict, now: datetime) -> None:
        record = verdict.record
        with self.store.transaction() as tx:
            if not tx.settle_sla(record, verdict.status) or verdict.status != MISSED:
                return
            if record.node_id == RUN_LEVEL:
                item = NodeItem(node_id="", name=f"run of {run_info(run).scope}", kind="run", resource_type="run")
            else:
                item = self.capture.item(run.run_id, record.node_id, details=False)
            state = verdict.state
            if verdict.late_by is not None:
                state = f"missed (finished {minutes_text(verdict.late_by)} late)"
            item = replace(
                item,
                sla=record.detail,
                deadline=isoformat(record.deadline),
                sla_state=state,
                blockers=list(verdict.blockers),
            )
            tx.add_event(
                AlertEvent(
                    key=f"sla:{run.run_id}:{record.node_id}:{record.sla}",
                    kind=SLA_MISS,
                    run_id=run.run_id,
                    scope=record.scope,
                    node_id=record.node_id or None,
                    created_at=now,
                    payload=self._payload(run, record.node_id or None, item),
                )
            )

    # -- freshness

    def _freshness_subjects(self) -> dict[str, float]:
        subjects = {
            node_id: float(node.settings["sla"]["freshness"])
            for node_id, node in self.graph.nodes.items()
            if (node.settings.get("sla") or {}).get("freshness")
        }
        for name, schedule in self.schedules.items():
            if schedule.sla is not None and schedule.sla.freshness:
                subjects[SCHEDULE_SUBJECT + name] = schedule.sla.freshness
        return subjects

    def _watch_freshness(self) -> None:
        subjects = self._fresh_subjects
        if not subjects:
            return
        now = self.clock.now()
        with self.store.transaction() as tx:
            for subject, max_age in subjects.items():
                tx.watch_freshness(subject, max_age, now)
            unknown = {row.subject for row in tx.freshness() if row.last_success_at is None and row.subject in subjects}
        for subject, at in self._history(unknown).items():
            with self.store.transaction() as tx:
                tx.record_success(subject, at)

    def _history(self, subjects: set[str]) -> dict[str, datetime]:
        """When each subject (a node, or ``schedule:<name>``) last succeeded, from the run history."""
        found: dict[str, datetime] = {}
        nodes = {subject for subject in subjects if not subject.startswith(SCHEDULE_SUBJECT)}
        with self.runs_store.read() as runs:
            for node_id, latest in runs.latest_node_states(nodes).items():
                if latest.last_success_at is not None:
                    found[node_id] = latest.last_success_at
            for subject in sorted(subjects - nodes):
                query = RunQuery(
                    statuses=frozenset({RunStatus.SUCCESS}),
                    schedules=frozenset({subject.removeprefix(SCHEDULE_SUBJECT)}),
                    limit=1,
                )
                for run in runs.find_runs(query):
                    found[subject] = run.finished_at or run.created_at
        return found

    def _check_freshness(self, now: datetime) -> None:
        subjects = self._fresh_subjects
        if not subjects:
            return
        with self.store.transaction() as tx:
            rows = tx.freshness()
        for row in rows:
            if row.subject not in subjects:
                continue
            reference = row.last_success_at or row.watched_since
            if now - reference <= timedelta(seconds=row.max_age):
                continue
            if row.alerted_for is not None and row.alerted_for >= reference:
                continue
            self._stale(row.subject, row.max_age, row.last_success_at, reference, now)

    def _stale(self, subject: str, max_age: float, last: datetime | None, reference: datetime, now: datetime) -> None:
        if last is None:
            state = f"no success seen since {isoformat(reference)}"
        else:
            state = f"last success {minutes_text(now - last)} ago ({isoformat(last)})"
        if subject.startswith(SCHEDULE_SUBJECT):
            name = subject.removeprefix(SCHEDULE_SUBJECT)
            item = NodeItem(node_id="", name=f"schedule '{name}'", kind="run", resource_type="run")
            schedule: str | None = name
        else:
            item = self.capture.item("", subject, details=False)
            schedule = None
        item = replace(
            item,
            sla=f"freshness {duration_text(max_age)}",
            deadline=isoformat(reference + timedelta(seconds=max_age)),
            sla_state=state,
        )
        run = RunInfo(run_id="", scope=f"schedule '{schedule}'" if schedule else "freshness", logical_date="")
        payload: dict[str, Any] = {"run": asdict(run), "schedule": schedule, "item": asdict(item)}
        if not schedule:
            payload["node"] = node_data(self.capture.node(subject))
        with self.store.transaction() as tx:
            if tx.mark_stale_alerted(subject, reference):
                key = f"fresh:{subject}:{isoformat(reference)}"
                tx.add_event(
                    AlertEvent(key, SLA_MISS, f"fresh:{subject}", "freshness", item.node_id or None, now, payload)
                )
