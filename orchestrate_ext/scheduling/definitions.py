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

One broken schedule never hides the others: :func:`discover_schedule_set`
checks each on its own against the partial graph
(:mod:`orchestrate_ext.partial_graph`) and returns the good ones with the
broken ones and why (a selection that matches nothing, a second schedule of
the same name, ``after`` naming no schedule or a broken one, ``after`` links
in a cycle, invalid settings). A good schedule whose node is left out (broken,
or waiting for a broken node) keeps its fire times; its ``left_out`` says why
its runs cannot start, which the scheduler records on each tick it skips.
:func:`discover_schedules` is the strict form: the first problem is an error.
"""

from __future__ import annotations

import graphlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from orchestrate_ext.config import format_validation_error
from orchestrate_ext.cron import CronSchedule, cron_schedule
from orchestrate_ext.errors import BadInput, ConfigError, did_you_mean
from orchestrate_ext.graph import Graph
from orchestrate_ext.model import Node
from orchestrate_ext.partial_graph import PartialGraph
from orchestrate_ext.schedule_settings import CatchUp, NodeSchedule, ScheduleConfig
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
    left_out: str | None = field(default=None, compare=False)
    """Why its runs cannot start now (its node is broken or waits for a broken node); None when they can."""

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


@dataclass(frozen=True)
class ScheduleSet:
    """Every schedule of a project: those that fire, and those left out with why.

    Attributes:
        definitions: the schedules that fire, by name (some with ``left_out`` set: their node
            is left out, so their ticks are skipped with that reason).
        broken: the schedules that cannot fire at all, by name, with what is wrong and how to fix it.
        targets: the node each broken node schedule is written on, by schedule name (for routing).
    """

    definitions: dict[str, ScheduleDefinition]
    broken: dict[str, str]
    targets: dict[str, str] = field(default_factory=dict)


def discover_schedules(
    schedules: Sequence[ScheduleConfig],
    graph: Graph,
    config_path: Path,
    invalid: Mapping[str, str] | None = None,
) -> dict[str, ScheduleDefinition]:
    """Every schedule of the project by name.

    Raises:
        ConfigError: an entry is ``invalid``, a selection matches nothing, two schedules share a
            name, ``after`` names an unknown schedule or the ``after`` links form a cycle.
    """
    found = discover_schedule_set(schedules, PartialGraph(graph, {}), config_path, invalid)
    if found.broken:
        raise ConfigError(next(iter(found.broken.values())))
    return found.definitions


def discover_schedule_set(
    schedules: Sequence[ScheduleConfig],
    partial: PartialGraph,
    config_path: Path,
    invalid: Mapping[str, str] | None = None,
) -> ScheduleSet:
    """Every schedule of the project, each checked on its own (see the module docstring); never raises.

    Args:
        invalid: entries of orchestrate.yaml's ``schedules:`` that did not validate, by name, with the
            error (:attr:`~orchestrate_ext.config.WorkspaceConfig.broken_schedules`): broken too.
    """
    graph = partial.graph
    left_out = partial.left_out(graph.nodes)
    found: dict[str, ScheduleDefinition] = {}
    broken: dict[str, str] = dict(invalid or {})
    targets: dict[str, str] = {}
    for entry in schedules:
        try:
            definition = _from_config(entry, graph, config_path)
        except ConfigError as exc:
            broken.setdefault(entry.name, str(exc))
            continue
        if definition.select is not None and left_out:
            definition = _with_left_out(definition, select(graph, definition.select), left_out)
        _add(found, broken, definition, config_path)
    for node in graph.nodes.values():
        raw = node.settings.get("schedule")
        if not raw:
            continue
        try:
            definition = _from_node(node, raw)
        except ValidationError as exc:
            where = f"{node.resource_type} '{node.path or node.id}'"
            broken.setdefault(node.name, format_validation_error(exc, where, prefix="schedule"))
            targets[node.name] = node.id
            continue
        if node.id in left_out:
            definition = replace(definition, left_out=f"node {node.id} is left out: {left_out[node.id]}")
        if _add(found, broken, definition, config_path) is not None:
            targets[node.name] = node.id
    _check_after(found, broken)
    return ScheduleSet(found, broken, targets)


def _with_left_out(definition: ScheduleDefinition, chosen: set[str], left_out: Mapping[str, str]) -> ScheduleDefinition:
    """A yaml schedule all of whose runnable nodes are left out cannot start a run: say why."""
    runnable = [node_id for node_id in sorted(chosen) if node_id not in left_out]
    missing = [node_id for node_id in sorted(chosen) if node_id in left_out]
    if runnable or not missing:
        return definition
    reasons = "; ".join(f"{node_id}: {left_out[node_id]}" for node_id in missing[:3])
    more = f" (and {len(missing) - 3} more)" if len(missing) > 3 else ""
    return replace(definition, left_out=f"every node it selects is left out: {reasons}{more}")


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


def _add(
    found: dict[str, ScheduleDefinition], broken: dict[str, str], definition: ScheduleDefinition, config_path: Path
) -> ScheduleDefinition | None:
    """Add ``definition``; a second schedule of the same name is broken (the first keeps firing)."""
    other = found.get(definition.name)
    if other is None and definition.name not in broken:
        found[definition.name] = definition
        return None
    where = other.origin if other is not None else "another place"
    broken.setdefault(
        definition.name,
        f"two schedules are called '{definition.name}' (in {where} and in {definition.origin}); "
        f"rename the one in {config_path.name} or remove one of them",
    )
    return other


def _check_after(found: dict[str, ScheduleDefinition], broken: dict[str, str]) -> None:
    """Move the schedules whose ``after`` names no schedule or a broken one, or closes a cycle, to ``broken``."""
    while True:
        unresolved = next(
            ((d, upstream) for d in found.values() for upstream in d.after if upstream not in found), None
        )
        if unresolved is not None:
            definition, upstream = unresolved
            if upstream in broken:
                reason = f"which is left out ({broken[upstream]})"
            else:
                known = set(found) | set(broken)
                hint = did_you_mean(upstream, known) or f"; schedules here: {', '.join(sorted(known)) or 'none'}"
                reason = f"which is no schedule{hint}"
            broken[definition.name] = (
                f"schedule '{definition.name}' ({definition.origin}) runs after '{upstream}', {reason}"
            )
            del found[definition.name]
            continue
        sorter = graphlib.TopologicalSorter({name: list(d.after) for name, d in found.items()})
        try:
            sorter.prepare()
        except graphlib.CycleError as exc:
            cycle = " -> ".join(exc.args[1])
            for name in dict.fromkeys(exc.args[1]):
                broken[name] = (
                    f"the 'after' links of the schedules form a cycle ({cycle}), so they would trigger each other "
                    "forever; remove one of them"
                )
                found.pop(name, None)
            continue
        return


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
