"""A graph that survives broken nodes, for everything that must keep working while one node is wrong.

:func:`~orchestrate_ext.graph.build_graph` refuses the whole project when one
reference does not resolve or the dependencies form a cycle: right for
``orchestrate validate``. Everything that runs or shows the project (the
scheduler, ``run``, ``backfill``, ``retry``, ``plan``, the REST API and the
JupyterLab panel) uses this graph instead, so that one broken node never stops
the rest while the user fixes it.

Protocol: :func:`build_partial_graph` keeps every node, drops each reference
that does not resolve and every edge of a cycle, and records for each node
concerned why it is broken (the message ``build_graph`` would raise, with its
"did you mean"). :meth:`PartialGraph.runnable` is the graph without the broken
nodes and without everything downstream of them (but for what a failure there would not
stop either: ``failure_blocks``, ``runs_after_failures``): what may still run. Plugins
that read node settings themselves may report nodes whose own settings are
invalid as placeholders (``problems``), which are broken the same way. A
plugin that gives no nodes at all (``dbt parse`` failed) is ``unloaded``: the
references into it are broken, and say why.
:func:`choose` splits what a run's selection chose into what the run includes
and what it leaves out (with why), the same way for every entry point.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from itertools import pairwise

from orchestrate_ext.errors import BadInput, ConfigError, CycleError, NodeNotFound
from orchestrate_ext.graph import Graph, _add_gates, _Resolver, _topological_order
from orchestrate_ext.model import Node


@dataclass(frozen=True)
class PartialGraph:
    """Every node, with the broken ones marked.

    Attributes:
        graph: every node; the references that did not resolve and the edges of
            cycles are left out of it.
        broken: by node id, what is wrong with the node and how to fix it.
        unloaded: by plugin key (``dbt``), why that part of the project gave no nodes at
            all (e.g. ``dbt parse`` failed); a reference to one of its nodes is broken.
    """

    graph: Graph
    broken: Mapping[str, str]
    unloaded: Mapping[str, str] = field(default_factory=dict)

    def blocked(self) -> dict[str, str]:
        """Nodes downstream of a broken node (not broken themselves), with the broken ancestor they wait for."""
        blocked: dict[str, str] = {}
        children = self.graph.children()
        nodes = self.graph.nodes
        for node_id in self.graph.order:
            if node_id not in self.broken:
                continue
            stack = [(node_id, child) for child in children[node_id]]
            while stack:
                parent, child = stack.pop()
                if child in self.broken or child in blocked:
                    continue
                if not nodes[parent].failure_blocks or nodes[child].runs_after_failures:
                    continue  # its parent's failure would not stop it; nor does its being left out
                blocked[child] = node_id
                stack.extend((child, grandchild) for grandchild in children[child])
        return blocked

    def left_out(self, chosen: Iterable[str]) -> dict[str, str]:
        """The runnable nodes of ``chosen`` that cannot run, by id, with why: broken, or waiting for a broken node.

        The one rule every entry point (run, retry, backfill, the scheduler, the REST API, ``plan``)
        uses to say what a run leaves out; the reasons are what runs record and views show.
        """
        blocked = self.blocked()
        return {
            node_id: self.broken.get(node_id) or f"it waits for {blocked[node_id]}, which is broken"
            for node_id in sorted(chosen)
            if (node_id in self.broken or node_id in blocked) and self.graph.nodes[node_id].runnable
        }

    def runnable(self) -> Graph:
        """The graph without broken nodes and without anything downstream of one."""
        if not self.broken:
            return self.graph
        left_out = set(self.broken) | set(self.blocked())
        keep = [node_id for node_id in self.graph.order if node_id not in left_out]
        kept = set(keep)
        # A kept node waits for no left-out node, except one whose failure would not stop it (dbt's on-run-end).
        return Graph(
            nodes={node_id: self.graph.nodes[node_id] for node_id in keep},
            parents={node_id: tuple(p for p in self.graph.parents[node_id] if p in kept) for node_id in keep},
            declared={node_id: tuple(p for p in self.graph.declared[node_id] if p in kept) for node_id in keep},
            order=tuple(keep),
        )


def build_partial_graph(
    nodes: Iterable[Node], problems: Mapping[str, str] | None = None, unloaded: Mapping[str, str] | None = None
) -> PartialGraph:
    """Resolve what resolves; mark the rest broken instead of raising.

    Args:
        problems: nodes a plugin could only read in part (their own settings are
            invalid), by id, with the error; they are broken too.
        unloaded: plugins that gave no nodes, by key, with why; a reference that does
            not resolve then says so (the node it names may be one of theirs).

    Raises:
        ConfigError: two nodes share an id (a plugin's error, not a node's).
    """
    by_id: dict[str, Node] = {}
    for node in nodes:
        if node.id in by_id:
            raise ConfigError(f"two nodes have the id '{node.id}' ({by_id[node.id].path} and {node.path}); rename one")
        by_id[node.id] = node
    broken: dict[str, list[str]] = {node_id: [message] for node_id, message in (problems or {}).items()}
    resolver = _Resolver(by_id)
    unloaded = dict(unloaded or {})
    because = "".join(f" (nothing of `{key}:` could be loaded: {why})" for key, why in sorted(unloaded.items()))
    declared: dict[str, set[str]] = {}
    for node in by_id.values():
        declared[node.id] = set()
        for ref in node.depends_on:
            try:
                declared[node.id].add(resolver.resolve(ref, node))
            except NodeNotFound as exc:
                broken.setdefault(node.id, []).append(f"{exc}{because}")
    for node in by_id.values():
        for ref in node.produces:
            try:
                declared[resolver.resolve(ref, node, verb="produces")].add(node.id)
            except NodeNotFound as exc:
                broken.setdefault(node.id, []).append(f"{exc}{because}")
    waits: dict[str, set[str]] = {}
    for node in by_id.values():
        waits[node.id] = set()
        for ref in node.waits_for:
            try:
                waits[node.id].add(resolver.resolve(ref, node, verb="waits for"))
            except NodeNotFound as exc:
                broken.setdefault(node.id, []).append(f"{exc}{because}")
    while True:
        parents = {node_id: set(deps) for node_id, deps in declared.items()}
        _add_gates(by_id, parents)
        for node_id, extra in waits.items():
            parents[node_id] |= extra
        try:
            order = _topological_order(parents)
            break
        except CycleError as exc:
            for dependency, dependant in pairwise(exc.cycle):
                broken.setdefault(dependant, []).append(str(exc))
                if dependency in declared[dependant]:
                    declared[dependant].discard(dependency)
                elif dependency in waits[dependant]:
                    waits[dependant].discard(dependency)
                else:  # a gate closed the cycle: drop the declared edge that brought the gate in
                    declared[dependant] = {p for p in declared[dependant] if dependency not in by_id[p].gated_by}
    graph = Graph(
        nodes=by_id,
        parents={node_id: tuple(sorted(parents[node_id])) for node_id in order},
        declared={node_id: tuple(sorted(declared[node_id])) for node_id in order},
        order=order,
    )
    messages_by_node = {node_id: "; ".join(dict.fromkeys(messages)) for node_id, messages in broken.items()}
    return PartialGraph(graph, messages_by_node, unloaded)


@dataclass(frozen=True)
class Choice:
    """What a run of some chosen nodes includes and what it leaves out.

    Attributes:
        graph: the runnable graph (:meth:`PartialGraph.runnable`), which the run executes on.
        node_ids: the chosen nodes in ``graph`` (sources included: the run skips them).
        left_out: the chosen runnable nodes it cannot include, by id, with why (:meth:`PartialGraph.left_out`).
    """

    graph: Graph
    node_ids: frozenset[str]
    left_out: Mapping[str, str]
    warnings: tuple[str, ...] = ()
    """One line per left-out node: why, and for a node that waits, what is wrong with the one it waits for."""


def choose(partial: PartialGraph, chosen: Iterable[str]) -> Choice:
    """Split ``chosen`` into the nodes a run includes and those it leaves out.

    Raises:
        BadInput: nodes are left out and none that runs remains ("nothing can run: X is left out
            because ..."). A choice of sources only is no error here (nothing is left out).
    """
    chosen = set(chosen)
    runnable = partial.runnable()
    left_out = partial.left_out(chosen)
    kept = frozenset(node_id for node_id in chosen if node_id in runnable.nodes)
    if left_out and not any(runnable.nodes[node_id].runnable for node_id in kept):
        node_id, reason = next(iter(left_out.items()))
        raise BadInput(f"nothing can run: {node_id} is left out because {reason}")
    blocked = partial.blocked()
    warnings = []
    for node_id, reason in left_out.items():
        cause = blocked.get(node_id)
        if cause is not None and cause not in left_out:
            reason += f" ({cause}: {partial.broken[cause]})"
        warnings.append(f"{node_id} is left out: {reason}")
    return Choice(runnable, kept, left_out, tuple(warnings))
