"""The graph as text, Mermaid or Graphviz dot (JSON lives on the Graph itself)."""

from __future__ import annotations

import re

from orchestrate_ext.graph import Graph


def as_text(graph: Graph, node_ids: set[str]) -> str:
    lines = []
    for node_id in graph.order:
        if node_id not in node_ids:
            continue
        node = graph.nodes[node_id]
        parents = [parent for parent in graph.declared[node_id] if parent in node_ids]
        after = f"  <- {', '.join(parents)}" if parents else ""
        lines.append(f"{node.kind:<8} {node_id}{after}")
    return "\n".join(lines)


def _mermaid_id(node_id: str) -> str:
    return "n_" + re.sub(r"[^A-Za-z0-9_]", "_", node_id)


def as_mermaid(graph: Graph, node_ids: set[str]) -> str:
    shapes = {"notebook": ('(["', '"])'), "source": ('[("', '")]')}
    lines = ["flowchart LR"]
    for node_id in graph.order:
        if node_id in node_ids:
            left, right = shapes.get(graph.nodes[node_id].kind, ('["', '"]'))
            label = graph.nodes[node_id].name.replace('"', "'")
            lines.append(f"  {_mermaid_id(node_id)}{left}{label}{right}")
    for node_id in graph.order:
        for parent in graph.declared[node_id]:
            if node_id in node_ids and parent in node_ids:
                lines.append(f"  {_mermaid_id(parent)} --> {_mermaid_id(node_id)}")
    return "\n".join(lines)


def as_dot(graph: Graph, node_ids: set[str]) -> str:
    shapes = {"notebook": "note", "source": "cylinder"}
    lines = ["digraph orchestrate {", "  rankdir=LR;"]
    for node_id in graph.order:
        if node_id in node_ids:
            node = graph.nodes[node_id]
            lines.append(f'  "{node_id}" [label="{node.name}", shape={shapes.get(node.kind, "box")}];')
    for node_id in graph.order:
        for parent in graph.declared[node_id]:
            if node_id in node_ids and parent in node_ids:
                lines.append(f'  "{parent}" -> "{node_id}";')
    lines.append("}")
    return "\n".join(lines)
