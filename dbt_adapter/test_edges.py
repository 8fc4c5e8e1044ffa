"""Which tests a node waits for in ``dbt build``: dbt-core's test edges, computed from the manifest.

dbt-core adds these edges in ``dbt/compilation.py`` (``Linker.add_test_edges``,
used by ``dbt build`` through ``compile(..., add_test_edges=True)``):

- ``add_test_edges_1`` states the rule: for every executable non-test node N
  of ``manifest.nodes``, a test T on any node upstream of N gates N if and
  only if *every* node T depends on is upstream of N (the ancestors of N,
  N excluded). A test on one node therefore gates that node's children;
  a test on several nodes (``relationships``) gates only the nodes that are
  downstream of all of them, which never creates a cycle.
- ``add_test_edges_2`` (the default, ``USE_FAST_TEST_EDGES``) gives the same
  graph up to transitive reduction: single-parent tests gate the executable
  direct successors of their node; multi-parent tests are found by a
  breadth-first walk.

Only nodes of ``manifest.nodes`` that are not tests receive edges: unit tests,
saved queries, exposures, metrics, semantic models and functions do not
(a unit test runs when its model is dequeued, so it waits for what its model
waits for). Here single-parent tests become the ``gated_by`` of their node,
and multi-parent tests the ``waits_for`` of the nearest nodes downstream of
all their parents.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from dbt_adapter.manifest import Manifest

GATED_TYPES = frozenset({"model", "seed", "snapshot", "analysis"})
"""The executable non-test resource types of ``manifest.nodes``."""


def single_parent_tests(manifest: Manifest) -> dict[str, list[str]]:
    """Data tests on exactly one node, by that node."""
    gates: dict[str, list[str]] = {}
    for item in manifest.nodes.values():
        if item.resource_type == "test" and len(item.depends_on) == 1:
            gates.setdefault(item.depends_on[0], []).append(item.unique_id)
    return gates


def multi_parent_test_waits(manifest: Manifest) -> dict[str, tuple[str, ...]]:
    """For each node, the tests on several nodes it must wait for (the nearest such nodes only)."""
    multi = [
        (item.unique_id, item.depends_on)
        for item in manifest.nodes.values()
        if item.resource_type == "test" and len(set(item.depends_on)) > 1
    ]
    if not multi:
        return {}
    children: dict[str, list[str]] = {}
    for item in manifest.all():
        for parent in item.depends_on:
            children.setdefault(parent, []).append(item.unique_id)
    below: dict[str, frozenset[str]] = {}
    waits: dict[str, list[str]] = {}
    for test_id, parents in multi:
        common: set[str] | None = None
        for parent in sorted(set(parents)):
            if parent not in below:
                below[parent] = _descendants(parent, children)
            common = set(below[parent]) if common is None else common & below[parent]
            if not common:
                break
        gated = {
            node_id
            for node_id in common or ()
            if node_id in manifest.nodes and manifest.nodes[node_id].resource_type in GATED_TYPES
        }
        for node_id in sorted(gated):
            if not any(parent in gated for parent in manifest.nodes[node_id].depends_on):
                waits.setdefault(node_id, []).append(test_id)
    return {node_id: tuple(tests) for node_id, tests in waits.items()}


def _descendants(start: str, children: Mapping[str, Iterable[str]]) -> frozenset[str]:
    seen: set[str] = set()
    stack = list(children.get(start, ()))
    while stack:
        current = stack.pop()
        if current in seen:
            continue
        seen.add(current)
        stack.extend(children.get(current, ()))
    return frozenset(seen)
