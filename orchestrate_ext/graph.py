"""One dependency graph of every node, whatever plugin discovered it."""

from __future__ import annotations

import graphlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from orchestrate_ext.datasets import node_datasets, own_datasets
from orchestrate_ext.errors import ConfigError, CycleError, NodeNotFound, did_you_mean
from orchestrate_ext.model import Node


@dataclass(frozen=True)
class Graph:
    """A validated DAG.

    Attributes:
        nodes: every node by id.
        parents: the ids each node waits for: its dependencies, references
            resolved, plus the producers of what it reads and the gates (tests)
            of its parents.
        declared: the dependencies alone (with producers), without gates: the
            edges a person drew, used when the graph is shown.
        order: every id in a topological order.
    """

    nodes: Mapping[str, Node]
    parents: Mapping[str, tuple[str, ...]]
    declared: Mapping[str, tuple[str, ...]]
    order: tuple[str, ...]

    def children(self) -> dict[str, list[str]]:
        result: dict[str, list[str]] = {node_id: [] for node_id in self.nodes}
        for node_id in self.order:
            for parent in self.parents[node_id]:
                result[parent].append(node_id)
        return result

    def ancestors(self, node_ids: Iterable[str]) -> set[str]:
        return _closure(node_ids, self.parents)

    def descendants(self, node_ids: Iterable[str]) -> set[str]:
        return _closure(node_ids, self.children())

    def runnable_parents(self, node_id: str, within: set[str]) -> set[str]:
        """The nearest runnable ancestors of ``node_id`` that are in ``within``.

        Non-runnable nodes (sources) are looked through, so a model reading a
        source waits for the notebook that produces it.
        """
        return self._nearest_runnable(node_id, self.parents, within)

    def runnable_inputs(self, node_id: str) -> set[str]:
        """The runnable nodes whose results ``node_id`` reads: its declared dependencies, through sources."""
        return self._nearest_runnable(node_id, self.declared, None)

    def _nearest_runnable(
        self, node_id: str, edges: Mapping[str, tuple[str, ...]], within: set[str] | None
    ) -> set[str]:
        found: set[str] = set()
        stack = list(edges[node_id])
        seen: set[str] = set()
        while stack:
            parent = stack.pop()
            if parent in seen:
                continue
            seen.add(parent)
            if self.nodes[parent].runnable:
                if within is None or parent in within:
                    found.add(parent)
            else:
                stack.extend(edges[parent])
        return found

    def to_json(self, node_ids: Iterable[str] | None = None) -> dict[str, Any]:
        """The ``orchestrate graph --format json`` document.

        A node whose plugin put a JSON-able mapping in ``settings["details"]`` (what it wants shown
        about the node, e.g. a dbt saved query's exports) has it as ``details``. ``datasets`` are the
        OpenLineage names of what the node reads and writes (:func:`orchestrate_ext.datasets.node_datasets`).
        """
        chosen = set(self.nodes) if node_ids is None else set(node_ids)
        owns = own_datasets(self)
        found: list[dict[str, Any]] = []
        for node_id in self.order:
            if node_id not in chosen:
                continue
            node, declared = self.nodes[node_id], self.declared[node_id]
            found.append(
                {
                    "id": node_id,
                    "kind": node.kind,
                    "resource_type": node.resource_type,
                    "name": node.name,
                    "path": node.path,
                    "owner": node.owner,
                    "tags": sorted(node.tags),
                    "depends_on": list(declared),
                    "waits_for": [gate for gate in self.parents[node_id] if gate not in declared],
                    "datasets": node_datasets(self, node_id, owns).to_json(),
                    **_details(node),
                }
            )
        return {"nodes": found}


def _details(node: Node) -> dict[str, Any]:
    details = node.settings.get("details")
    return {"details": dict(details)} if isinstance(details, Mapping) and details else {}


def _closure(start: Iterable[str], edges: Mapping[str, Sequence[str]]) -> set[str]:
    seen: set[str] = set()
    stack = list(start)
    while stack:
        current = stack.pop()
        for neighbour in edges[current]:
            if neighbour not in seen:
                seen.add(neighbour)
                stack.append(neighbour)
    return seen


def build_graph(nodes: Iterable[Node]) -> Graph:
    """Resolve every reference and check the result is acyclic.

    Raises:
        ConfigError: two nodes share an id.
        NodeNotFound: a reference matches no node (with the closest match).
        CycleError: the dependencies form a cycle (listing it).
    """
    by_id: dict[str, Node] = {}
    for node in nodes:
        if node.id in by_id:
            raise ConfigError(f"two nodes have the id '{node.id}' ({by_id[node.id].path} and {node.path}); rename one")
        by_id[node.id] = node
    resolver = _Resolver(by_id)
    parents: dict[str, set[str]] = {
        node.id: {resolver.resolve(ref, node) for ref in node.depends_on} for node in by_id.values()
    }
    for node in by_id.values():
        for ref in node.produces:
            parents[resolver.resolve(ref, node, verb="produces")].add(node.id)
    declared = {node_id: tuple(sorted(deps)) for node_id, deps in parents.items()}
    _add_gates(by_id, parents)
    for node in by_id.values():
        parents[node.id].update(resolver.resolve(ref, node, verb="waits for") for ref in node.waits_for)
    order = _topological_order(parents)
    return Graph(
        nodes=by_id,
        parents={node_id: tuple(sorted(parents[node_id])) for node_id in order},
        declared={node_id: declared[node_id] for node_id in order},
        order=order,
    )


def _add_gates(by_id: Mapping[str, Node], parents: dict[str, set[str]]) -> None:
    """Make dependants of a node also wait for that node's gates (its tests)."""
    for node_id, node_parents in parents.items():
        if not by_id[node_id].gated:
            continue
        extra = {
            gate
            for parent in node_parents
            for gate in by_id[parent].gated_by
            if gate != node_id and node_id not in by_id[parent].gated_by and gate in by_id
        }
        node_parents |= extra


def _topological_order(parents: Mapping[str, set[str]]) -> tuple[str, ...]:
    """The order of ``graphlib.TopologicalSorter(...).static_order()`` on the sorted graph, worked out here.

    graphlib's own sorter checks for cycles with a walk in Python before it starts and keeps an
    object per node: a third of building a 10,000-node graph. This is its algorithm (nodes in the
    order they were first named, then Kahn's walk, first ready first out) on plain dicts; graphlib
    is asked only when a cycle is left, to name it.
    """
    order: dict[str, None] = {}
    waiting: dict[str, int] = {}
    successors: dict[str, list[str]] = {}
    for node_id in sorted(parents):
        deps = sorted(parents[node_id])
        order[node_id] = None
        waiting[node_id] = len(deps)
        for parent in deps:
            order[parent] = None
            successors.setdefault(parent, []).append(node_id)
    ready = [node_id for node_id in order if not waiting.get(node_id)]
    for node_id in ready:  # grows while it is walked: first ready, first out
        for child in successors.get(node_id, ()):
            waiting[child] -= 1
            if not waiting[child]:
                ready.append(child)
    if len(ready) == len(order):
        return tuple(ready)
    sorter = graphlib.TopologicalSorter({node_id: sorted(deps) for node_id, deps in sorted(parents.items())})
    try:
        sorter.prepare()
    except graphlib.CycleError as exc:
        # graphlib lists the cycle in run order: each node is a dependency of the next.
        raise CycleError(list(exc.args[1])) from exc
    raise AssertionError("a node was left out of the order, yet graphlib finds no cycle")


class _Resolver:
    """Finds the node a reference means: an id, a name, a path or an alias.

    The names and aliases are indexed at the first reference that is no id (dbt's references all are).
    """

    def __init__(self, by_id: Mapping[str, Node]) -> None:
        self._by_id = by_id
        self._aliases: dict[str, set[str]] | None = None

    @property
    def _by_alias(self) -> dict[str, set[str]]:
        if self._aliases is None:
            self._aliases = {}
            for node in self._by_id.values():
                for alias in {node.name, *node.aliases}:
                    self._aliases.setdefault(alias, set()).add(node.id)
        return self._aliases

    def resolve(self, ref: str, owner: Node, verb: str = "depends on") -> str:
        if ref in self._by_id:
            return ref
        matches = self._by_alias.get(ref, set())
        if len(matches) == 1:
            return next(iter(matches))
        where = f"{owner.kind} '{owner.path or owner.id}'"
        if len(matches) > 1:
            raise NodeNotFound(
                f"{where} {verb} '{ref}', which matches several nodes ({', '.join(sorted(matches))}); use the full id"
            )
        hint = did_you_mean(ref, set(self._by_alias) | set(self._by_id))
        raise NodeNotFound(
            f"{where} {verb} '{ref}', which is no dbt node, source or notebook{hint or '; check the name'}"
        )
