"""The datasets each node reads and writes, named as OpenLineage names them.

A node plugin names the relation a node stands for in its
``settings["dataset"]`` (``{"namespace": ..., "name": ...}``; the dbt plugin
does it for models, seeds, snapshots and sources from the adapter and the
profile, see :mod:`dbt_adapter.lineage_names`). From those and the graph's
declared edges this module derives, for every node, the one answer the Lab
graph (:meth:`orchestrate_ext.graph.Graph.to_json`) and the OpenLineage events
both use:

- outputs: the node's own relation when it runs, and the relations of the
  non-runnable nodes it produces (a notebook's ``produces``: the dbt sources it fills);
- inputs: the relations of its declared parents, looking through parents that
  have none (an ephemeral model is compiled into its children; a test reads
  the node it tests); a produced source is no input of its producer.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from orchestrate_ext.graph import Graph
    from orchestrate_ext.model import Node


@dataclass(frozen=True, slots=True, order=True)
class Dataset:
    """One dataset as OpenLineage names it."""

    namespace: str
    name: str

    def to_json(self) -> dict[str, str]:
        return {"namespace": self.namespace, "name": self.name}


@dataclass(frozen=True, slots=True)
class NodeDatasets:
    inputs: tuple[Dataset, ...] = ()
    outputs: tuple[Dataset, ...] = ()

    def to_json(self) -> dict[str, list[dict[str, str]]]:
        return {
            "inputs": [dataset.to_json() for dataset in self.inputs],
            "outputs": [dataset.to_json() for dataset in self.outputs],
        }


NO_DATASETS = NodeDatasets()


def own_dataset(node: Node) -> Dataset | None:
    """The relation ``node`` stands for, as its plugin named it, if any."""
    found = node.settings.get("dataset")
    if not isinstance(found, Mapping):
        return None
    namespace, name = found.get("namespace"), found.get("name")
    if isinstance(namespace, str) and isinstance(name, str) and namespace and name:
        return Dataset(namespace, name)
    return None


def node_datasets(graph: Graph, node_id: str, owns: Mapping[str, Dataset | None] | None = None) -> NodeDatasets:
    """What ``node_id`` reads and writes (see the module docstring).

    Args:
        owns: :func:`own_datasets` of the graph, when asked for many nodes (else each is worked out here).
    """
    node = graph.nodes[node_id]
    own = owns[node_id] if owns is not None else own_dataset(node)
    outputs = [own] if own is not None and node.runnable else []
    if owns is not None and not node.produces:  # the common case: every parent has its own dataset
        direct = [found for parent in graph.declared[node_id] if (found := owns[parent]) is not None]
        if len(direct) == len(graph.declared[node_id]):
            return NodeDatasets(_ordered(direct), _ordered(outputs)) if direct or outputs else NO_DATASETS
    produced = set(_produced(graph, node_id)) if node.produces else set()
    for child in produced:
        found = own_dataset(graph.nodes[child])
        if found is not None:
            outputs.append(found)
    inputs: list[Dataset] = []
    seen: set[str] = set()
    stack = [parent for parent in graph.declared[node_id] if parent not in produced]
    while stack:
        parent = stack.pop()
        if parent in seen:
            continue
        seen.add(parent)
        found = owns[parent] if owns is not None else own_dataset(graph.nodes[parent])
        if found is not None:
            inputs.append(found)
        elif not graph.nodes[parent].runnable:
            stack.extend(graph.declared[parent])  # an ephemeral model: what it reads is read through it
    if not inputs and not outputs:
        return NO_DATASETS
    return NodeDatasets(_ordered(inputs), _ordered(outputs))


def _ordered(found: list[Dataset]) -> tuple[Dataset, ...]:
    """Sorted, without repeats."""
    return tuple(found) if len(found) < 2 else tuple(sorted(set(found)))


def own_datasets(graph: Graph) -> dict[str, Dataset | None]:
    """:func:`own_dataset` of every node of ``graph``, by id."""
    return {node_id: own_dataset(node) for node_id, node in graph.nodes.items()}


def all_datasets(graph: Graph, node_ids: Any = None) -> dict[str, NodeDatasets]:
    """:func:`node_datasets` of each node of ``node_ids`` (default: every node)."""
    chosen = graph.nodes if node_ids is None else node_ids
    owns = own_datasets(graph)
    return {node_id: node_datasets(graph, node_id, owns) for node_id in chosen}


def _produced(graph: Graph, node_id: str) -> list[str]:
    """The non-runnable nodes ``node_id`` produces: they declare it as a parent although it is theirs."""
    node = graph.nodes[node_id]
    if not node.produces:
        return []
    return [
        other_id
        for other_id, other in graph.nodes.items()
        if not other.runnable and node_id in graph.declared[other_id]
    ]
