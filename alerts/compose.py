"""Turning buffered events into outbox messages: incidents, suppression, digests.

Runs inside one store transaction, so an event becomes messages exactly once
even when two processes compose at the same time.

- A node's first final failure in a scope (schedule or pipeline) opens an
  incident and posts; the failures of one run that arrive within
  ``group_window`` of each other go to each destination as one digest.
- A repeat within ``suppress_for`` only updates the incident's message (Slack
  ``chat_update``) and adds a quiet thread reply; after the window it is said
  out loud again (a broadcast thread reply; an e-mail in the same thread).
- The first success afterwards resolves the incident with a reply in its thread.
- A config problem (``config_error``) is one incident per problem key, opened
  and resolved by the observer as problems are reported; here its event posts
  one message per destination (the thread root), and its ``config_fixed``
  event a reply in that thread (and, on Slack, a line added to the root).
  Both go to the destinations of ``config_error``, for the node's owner or any
  route that matches no node in particular.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from alerts import messages
from alerts.channels import EMAIL, POST, SLACK, UPDATE, WEBHOOK
from alerts.config import AlertsConfig
from alerts.content import AlertContent, NodeItem, RunInfo
from alerts.routing import Destination, Router
from alerts.store import AlertEvent, AlertTx, Incident, NewMessage
from orchestrate_ext.model import Node

FAILURE = "failure"
RETRY = "retry"
RECOVERY = "recovery"
SLA_MISS = "sla_miss"
RUN_FINISHED = "run_finished"
TEST_WARNING = "test_warning"
CONFIG_ERROR = "config_error"
CONFIG_FIXED = "config_fixed"
_WAITING_KINDS = (FAILURE, RETRY)
_CONFIG_KINDS = (CONFIG_ERROR, CONFIG_FIXED)


def event_node(payload: dict[str, Any]) -> Node | None:
    """The node as captured with the event (routing does not depend on today's graph)."""
    data = payload.get("node")
    if not data:
        return None
    return Node(
        id=data["id"],
        kind=data["kind"],
        resource_type=data["resource_type"],
        name=data["name"],
        path=data.get("path", ""),
        owner=data.get("owner"),
        tags=frozenset(data.get("tags") or ()),
    )


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _key(*parts: object) -> str:
    return hashlib.sha1("|".join(map(str, parts)).encode()).hexdigest()


@dataclass
class _Batch:
    """The messages of one run being composed."""

    run: RunInfo
    schedule: str | None
    now: datetime
    new_failures: dict[str, tuple[Destination, list[tuple[NodeItem, Incident]]]] = field(default_factory=dict)


class Composer:
    def __init__(self, config: AlertsConfig, router: Router) -> None:
        self.config = config
        self.router = router

    def compose(self, tx: AlertTx, now: datetime, *, force: bool = False) -> int:
        """Compose every run whose events are ready; return how many events were used."""
        by_run: dict[str, list[AlertEvent]] = defaultdict(list)
        config: list[AlertEvent] = []
        for event in tx.buffered_events():
            (config if event.kind in _CONFIG_KINDS else by_run[event.run_id]).append(event)
        for event in config:
            self._config(tx, now, event)
        tx.mark_composed([event.id for event in config if event.id is not None], now)
        used = len(config)
        window = timedelta(seconds=self.config.group_window)
        for events in by_run.values():
            waiting = [event.created_at for event in events if event.kind in _WAITING_KINDS]
            finished = any(event.kind == RUN_FINISHED for event in events)
            if force or finished or not waiting or now - min(waiting) >= window:
                self._compose_run(tx, now, events)
                tx.mark_composed([event.id for event in events if event.id is not None], now)
                used += len(events)
        return used

    def _compose_run(self, tx: AlertTx, now: datetime, events: list[AlertEvent]) -> None:
        first = events[0].payload
        batch = _Batch(RunInfo(**first["run"]), first.get("schedule"), now)
        grouped: dict[str, list[AlertEvent]] = defaultdict(list)
        for event in events:
            grouped[event.kind].append(event)
        for event in grouped[FAILURE]:
            self._failure(tx, batch, event)
        self._post_new_failures(tx, batch)
        self._recoveries(tx, batch, grouped[RECOVERY])
        self._simple(tx, batch, RETRY, grouped[RETRY], messages.retry)
        self._simple(tx, batch, SLA_MISS, grouped[SLA_MISS], messages.sla_miss)
        self._simple(tx, batch, TEST_WARNING, grouped[TEST_WARNING], messages.test_warning)
        for event in grouped[RUN_FINISHED]:
            self._run_finished(tx, batch, event)

    # -- failures

    def _failure(self, tx: AlertTx, batch: _Batch, event: AlertEvent) -> None:
        node = event_node(event.payload)
        item = NodeItem.from_dict(event.payload["item"])
        assert event.node_id is not None
        destinations = self.router.destinations(FAILURE, node, batch.schedule)
        for data in event.payload.get("exposures") or []:  # their owners hear of what hits them
            known = {destination.key for destination in destinations}
            exposure = event_node({"node": data})
            destinations += [
                destination
                for destination in self.router.destinations(FAILURE, exposure, batch.schedule)
                if destination.key not in known
            ]
        incident = tx.open_incident(event.scope, event.node_id)
        if incident is None:
            incident = tx.create_incident(event.scope, event.node_id, batch.run.run_id, event.created_at)
            for destination in destinations:
                self._add_new(batch, destination, item, incident)
            return
        incident = replace(
            incident, failures=incident.failures + 1, last_failure_at=event.created_at, last_run_id=batch.run.run_id
        )
        quiet = event.created_at - incident.last_notified_at < timedelta(seconds=self.config.suppress_for)
        if not quiet:
            incident = replace(incident, last_notified_at=event.created_at)
        tx.save_incident(incident)
        for destination in destinations:
            root = tx.thread_root(incident.id, destination.key)
            if root is None:
                self._add_new(batch, destination, item, incident)
                continue
            line = messages.update_line(item, incident, batch.run, event.created_at)
            if destination.channel == SLACK:
                self._update_root(tx, batch, destination, root.id, line, event.key)
            if quiet:
                if destination.channel == SLACK:
                    content = messages.repeat(batch.run, item, incident)
                    self._add(tx, batch, destination, content, event.key, parent_id=root.id)
                continue
            content = messages.reminder(batch.run, item, incident)
            parent = None if destination.channel == WEBHOOK else root.id
            self._add(tx, batch, destination, content, event.key, parent_id=parent, broadcast=True)

    @staticmethod
    def _add_new(batch: _Batch, destination: Destination, item: NodeItem, incident: Incident) -> None:
        batch.new_failures.setdefault(destination.key, (destination, []))[1].append((item, incident))

    def _post_new_failures(self, tx: AlertTx, batch: _Batch) -> None:
        for destination, entries in batch.new_failures.values():
            content = messages.failure(batch.run, [item for item, _ in entries])
            ids = sorted(incident.id for _, incident in entries)
            message_id = self._add(tx, batch, destination, content, FAILURE, *ids)
            if message_id is not None:
                for _, incident in entries:
                    tx.set_thread_root(incident.id, destination.key, message_id)

    def _update_root(
        self, tx: AlertTx, batch: _Batch, destination: Destination, root_id: int, line: str, *key: object
    ) -> None:
        current = tx.latest_content(root_id)
        if current is not None:
            self._add(
                tx, batch, destination, current.with_updates(line), UPDATE, *key, action=UPDATE, parent_id=root_id
            )

    # -- recoveries

    def _recoveries(self, tx: AlertTx, batch: _Batch, events: list[AlertEvent]) -> None:
        groups: dict[tuple[str, int | None], tuple[Destination, list[NodeItem], list[Incident]]] = {}
        for event in events:
            assert event.node_id is not None
            incident = tx.open_incident(event.scope, event.node_id)
            if incident is None:
                continue
            tx.save_incident(replace(incident, status="resolved"), resolved_at=event.created_at)
            item = NodeItem.from_dict(event.payload["item"])
            for destination in self.router.destinations(RECOVERY, event_node(event.payload), batch.schedule):
                root = tx.thread_root(incident.id, destination.key)
                group = groups.setdefault((destination.key, root.id if root else None), (destination, [], []))
                group[1].append(item)
                group[2].append(incident)
        for (_, root_id), (destination, items, incidents) in groups.items():
            content = messages.recovery(batch.run, items, incidents)
            key = [incident.id for incident in incidents]
            parent = root_id if destination.channel in (SLACK, EMAIL) else None
            self._add(tx, batch, destination, content, RECOVERY, *key, parent_id=parent)
            if root_id is not None and destination.channel == SLACK:
                line = messages.recovery_line(items, batch.run, batch.now)
                self._update_root(tx, batch, destination, root_id, line, RECOVERY, *key)

    # -- the rest: one message per destination

    def _simple(self, tx: AlertTx, batch: _Batch, kind: str, events: list[AlertEvent], build: Any) -> None:
        groups: dict[str, tuple[Destination, list[NodeItem], list[str]]] = {}
        for event in events:
            for destination in self.router.destinations(kind, event_node(event.payload), batch.schedule):
                group = groups.setdefault(destination.key, (destination, [], []))
                group[1].append(NodeItem.from_dict(event.payload["item"]))
                group[2].append(event.key)
        for destination, items, keys in groups.values():
            self._add(tx, batch, destination, build(batch.run, items), kind, *keys)

    def _run_finished(self, tx: AlertTx, batch: _Batch, event: AlertEvent) -> None:
        run = RunInfo(**event.payload["run"])
        failed = [NodeItem.from_dict(item) for item in event.payload.get("failed") or []]
        content = messages.run_finished(run, dict(event.payload.get("counts") or {}), failed)
        for destination in self.router.destinations(RUN_FINISHED, None, batch.schedule):
            self._add(tx, batch, destination, content, RUN_FINISHED, event.key)

    # -- config problems

    def _config(self, tx: AlertTx, now: datetime, event: AlertEvent) -> None:
        item = NodeItem.from_dict(event.payload["item"])
        incident_id = int(event.payload["incident"])
        fixed = event.kind == CONFIG_FIXED
        for destination in self.router.destinations(CONFIG_ERROR, event_node(event.payload), None):
            root = tx.thread_root(incident_id, destination.key) if fixed else None
            if fixed and root is None:
                continue  # the problem was never told here (the route came later): nothing to settle
            if fixed:
                assert root is not None
                incident = Incident(
                    incident_id,
                    event.scope,
                    item.node_id,
                    "resolved",
                    _at(event.payload["opened_at"]),
                    now,
                    now,
                    0,
                    "",
                    "",
                )
                content = messages.config_fixed(item, incident)
                parent = root.id if destination.channel in (SLACK, EMAIL) else None
            else:
                content = messages.config_error(item)
                parent = None
            message_id = tx.add_message(
                NewMessage(
                    key=_key("config", incident_id, destination.key, event.kind),
                    channel=destination.channel,
                    target=destination.target,
                    action=POST,
                    content=content,
                    created_at=now,
                    route=destination.route,
                    parent_id=parent,
                    fallbacks=tuple((f.channel, f.target, f.route) for f in destination.fallback),
                )
            )
            if not fixed and message_id is not None:
                tx.set_thread_root(incident_id, destination.key, message_id)
            if fixed and root is not None and destination.channel == SLACK:
                current = tx.latest_content(root.id)
                if current is not None:
                    tx.add_message(
                        NewMessage(
                            key=_key("config", incident_id, destination.key, UPDATE),
                            channel=destination.channel,
                            target=destination.target,
                            action=UPDATE,
                            content=current.with_updates(messages.config_fixed_line(item, now)),
                            created_at=now,
                            route=destination.route,
                            parent_id=root.id,
                        )
                    )

    def _add(
        self,
        tx: AlertTx,
        batch: _Batch,
        destination: Destination,
        content: AlertContent,
        *key: object,
        action: str = POST,
        parent_id: int | None = None,
        broadcast: bool = False,
    ) -> int | None:
        return tx.add_message(
            NewMessage(
                key=_key(batch.run.run_id, destination.key, action, parent_id, *key),
                channel=destination.channel,
                target=destination.target,
                action=action,
                content=content,
                created_at=batch.now,
                route=destination.route,
                parent_id=parent_id,
                broadcast=broadcast,
                fallbacks=tuple((f.channel, f.target, f.route) for f in destination.fallback),
            )
        )
