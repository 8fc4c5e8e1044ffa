"""Every schedule of a project, wherever it is written, checked against the graph.

Schedules come from three places:

* ``schedules:`` in orchestrate.yaml: a name, a trigger and a ``select``ion;
* a notebook's metadata ``orchestrate.schedule`` (a cron string, with an
  optional ``orchestrate.timezone``, or a mapping);
* a dbt node's ``meta.orchestrate.schedule`` (the same forms).

A schedule on a node is named after the node (``daily_revenue``,
``notebooks/daily_report``) and runs it together with its ancestors that are
not fresh (see :func:`nodes_for`), unless its ``ancestors`` key says ``all``
or ``none``.
"""

from __future__ import annotations

import graphlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import Any

from orchestrate_ext.errors import BadInput, ConfigError, did_you_mean
from orchestrate_ext.graph import Graph
from orchestrate_ext.model import Node
from orchestrate_ext.scheduling.cron import CronSchedule, cron_schedule
from orchestrate_ext.scheduling.settings import CatchUp, NodeSchedule, ScheduleConfig
from orchestrate_ext.selection import select


class ScheduleNotFound(BadInput, LookupError):
    """A schedule name that no orchestrate.yaml entry, notebook or dbt node defines."""


@dataclass(frozen=True)
class ScheduleDefinition:
    """One schedule, as the scheduler uses it.

    Attributes:
        origin: where it is written, for messages: ``orchestrate.yaml`` or ``notebook 'x.ipynb'``.
        select: the selection a yaml schedule runs (None: every node).
        target: the node a node schedule runs (None for yaml schedules).
        ancestors: for node schedules, which ancestors run too: stale, all or none.
    """

    name: str
    origin: str
    cron: str | None = None
    timezone: str = "UTC"
    select: str | None = None
    target: str | None = None
    ancestors: str = "stale"
    catchup: CatchUp = CatchUp.LATEST
    max_catchup: int = 50
    max_active_runs: int = 1
    parameters: Mapping[str, Any] = field(default_factory=dict)
    after: tuple[str, ...] = ()
    on_file: tuple[str, ...] = ()
    only_changed: bool | None = None

    @cached_property
    def cron_schedule(self) -> CronSchedule | None:
        return cron_schedule(self.cron, self.timezone) if self.cron else None

    @property
    def fingerprint(self) -> str:
        """What the stored next fire time depends on; when it changes, the next fire time is computed anew."""
        return f"{self.cron or ''}|{self.timezone}"

    @property
    def selection_text(self) -> str | None:
        """The selection recorded on the runs of this schedule."""
        if self.target is None:
            return self.select
        return self.target if self.ancestors == "none" else f"+{self.target}"

    def triggers(self) -> list[str]:
        """Human-readable triggers: ``cron 0 6 * * * (Europe/Berlin)``, ``after nightly``, ``file data/*.csv``."""
        found = [f"cron {self.cron} ({self.timezone})"] if self.cron else []
        found += [f"after {name}" for name in self.after]
        found += [f"file {pattern}" for pattern in self.on_file]
        return found


def discover_schedules(
    schedules: Sequence[ScheduleConfig], graph: Graph, config_path: Path
) -> dict[str, ScheduleDefinition]:
    """Every schedule of the project by name.

    Raises:
        ConfigError: a selection matches nothing, two schedules share a name,
            ``after`` names an unknown schedule or the ``after`` links form a cycle.
    """
    found: dict[str, ScheduleDefinition] = {}
    for entry in schedules:
        _add(found, _from_config(entry, graph, config_path), config_path)
    for node in graph.nodes.values():
        raw = node.settings.get("schedule")
        if raw:
            _add(found, _from_node(node, raw), config_path)
    _check_after(found)
    return found


def _from_config(entry: ScheduleConfig, graph: Graph, config_path: Path) -> ScheduleDefinition:
    if entry.select:
        try:
            select(graph, entry.select)
        except BadInput as exc:
            raise ConfigError(f"{config_path}: schedule '{entry.name}': key 'select': {exc}") from exc
    return ScheduleDefinition(
        name=entry.name,
        origin=config_path.name,
        cron=entry.cron,
        timezone=entry.timezone or "UTC",
        select=entry.select,
        catchup=entry.catchup,
        max_catchup=entry.max_catchup,
        max_active_runs=entry.max_active_runs,
        parameters=dict(entry.parameters),
        after=tuple(entry.after),
        on_file=tuple(entry.on_file),
        only_changed=entry.only_changed,
    )


def _from_node(node: Node, raw: Mapping[str, Any]) -> ScheduleDefinition:
    settings = NodeSchedule.model_validate({key: value for key, value in raw.items() if value is not None})
    return ScheduleDefinition(
        name=node.name,
        origin=f"{node.resource_type} '{node.path or node.id}'",
        cron=settings.cron,
        timezone=settings.timezone or "UTC",
        target=node.id,
        ancestors=settings.ancestors,
        catchup=settings.catchup,
        max_catchup=settings.max_catchup,
        max_active_runs=settings.max_active_runs,
        parameters=dict(settings.parameters),
        after=tuple(settings.after),
        on_file=tuple(settings.on_file),
        only_changed=settings.only_changed,
    )


def _add(found: dict[str, ScheduleDefinition], definition: ScheduleDefinition, config_path: Path) -> None:
    other = found.get(definition.name)
    if other is not None:
        raise ConfigError(
            f"two schedules are called '{definition.name}' (in {other.origin} and in {definition.origin}); "
            f"rename the one in {config_path.name} or remove one of them"
        )
    found[definition.name] = definition


def _check_after(found: Mapping[str, ScheduleDefinition]) -> None:
    for definition in found.values():
        for upstream in definition.after:
            if upstream not in found:
                hint = did_you_mean(upstream, set(found)) or f"; schedules here: {', '.join(sorted(found)) or 'none'}"
                raise ConfigError(
                    f"schedule '{definition.name}' ({definition.origin}) runs after '{upstream}', "
                    f"which is no schedule{hint}"
                )
    sorter = graphlib.TopologicalSorter({name: list(d.after) for name, d in found.items()})
    try:
        sorter.prepare()
    except graphlib.CycleError as exc:
        cycle = " -> ".join(exc.args[1])
        raise ConfigError(
            f"the 'after' links of the schedules form a cycle ({cycle}), so they would trigger each other "
            "forever; remove one of them"
        ) from exc


def nodes_for(
    definition: ScheduleDefinition,
    graph: Graph,
    last_success: Mapping[str, datetime],
    fresh_since: datetime | None,
) -> set[str]:
    """The nodes one run of ``definition`` includes.

    For a node schedule with ``ancestors: stale``: the node, its ancestors that
    have not succeeded since ``fresh_since`` (any success counts when it is
    None), and every ancestor between one of those and the node, so nothing
    runs on top of data older than what it reads.

    Raises:
        SelectorError: the selection no longer matches (the project changed).
    """
    if definition.target is None:
        return select(graph, definition.select)
    target = definition.target
    if target not in graph.nodes:
        raise ConfigError(f"schedule '{definition.name}' runs the node '{target}', which is no longer in the project")
    if definition.ancestors == "none":
        return {target}
    ancestors = graph.ancestors([target])
    if definition.ancestors == "all":
        return ancestors | {target}
    stale = {
        node_id
        for node_id in ancestors
        if graph.nodes[node_id].runnable and _stale(last_success.get(node_id), fresh_since)
    }
    between = graph.descendants(stale) & ancestors
    return stale | between | {target}


def _stale(succeeded: datetime | None, fresh_since: datetime | None) -> bool:
    if succeeded is None:
        return True
    return fresh_since is not None and succeeded < fresh_since
