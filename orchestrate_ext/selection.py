"""Node selection in dbt's spirit.

A selection is terms separated by spaces; the result is their union. A term is
``name``, ``tag:x``, ``path:dir``, ``kind:dbt|notebook|source`` (or a full
node id), optionally prefixed with ``+`` (add its ancestors) and/or suffixed
with ``+`` (add its descendants). Names may use ``*`` wildcards.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable

from orchestrate_ext.errors import SelectorError, did_you_mean
from orchestrate_ext.graph import Graph
from orchestrate_ext.model import Node

_METHODS = ("tag", "path", "kind", "name")
_EXAMPLES = {"tag": "tag:nightly", "path": "path:notebooks/reports", "kind": "kind:notebook", "name": "name:orders"}
_METHODS_HELP = (
    "tag:NAME (e.g. tag:nightly), path:FOLDER (e.g. path:models/staging), kind:dbt|notebook|source "
    "(e.g. kind:notebook), name:NAME or a plain name (e.g. orders), with + for ancestors/descendants"
)


def select(graph: Graph, expression: str | None) -> set[str]:
    """The ids of the nodes ``expression`` selects; every node when it is empty.

    Raises:
        SelectorError: a term is malformed or matches no node.
    """
    if expression is None or not expression.strip():
        return set(graph.nodes)
    chosen: set[str] = set()
    for term in expression.split():
        chosen |= _select_term(graph, term)
    return chosen | _companions(graph, chosen)


def _companions(graph: Graph, chosen: set[str]) -> set[str]:
    """The ``accompanies`` nodes next to a chosen node or to another of them (dbt's hooks, with any dbt node)."""
    companions = {node_id for node_id, node in graph.nodes.items() if node.accompanies}
    found: set[str] = set()
    near = chosen
    while near:
        before = {parent for node_id in near for parent in graph.parents[node_id] if parent in companions}
        after = {node_id for node_id in companions if any(parent in near for parent in graph.parents[node_id])}
        near = (before | after) - found - chosen
        found |= near
    return found


def _select_term(graph: Graph, term: str) -> set[str]:
    with_ancestors = term.startswith("+")
    with_descendants = term.endswith("+")
    core = term.removeprefix("+").removesuffix("+")
    if not core:
        raise SelectorError(f"selector '{term}' names nothing; write e.g. '+orders' or 'tag:finance+'")
    method, _, value = core.partition(":") if ":" in core else ("name", "", core)
    if method not in _METHODS:
        raise SelectorError(f"selector '{term}' uses the unknown method '{method}'; methods: {_METHODS_HELP}")
    if not value.strip():
        raise SelectorError(
            f"selector '{term}' gives the method '{method}:' no value; write e.g. '{_EXAMPLES[method]}' "
            f"(methods: {_METHODS_HELP})"
        )
    matches = {node.id for node in graph.nodes.values() if _matcher(method, value)(node)}
    if not matches:
        raise SelectorError(_no_match_message(graph, term, method, value))
    result = set(matches)
    if with_ancestors:
        result |= graph.ancestors(matches)
    if with_descendants:
        result |= graph.descendants(matches)
    return result


def _matcher(method: str, value: str) -> Callable[[Node], bool]:
    if method == "tag":
        return lambda node: value in node.tags
    if method == "kind":
        return lambda node: node.kind == value
    if method == "path":
        wanted = "/" + value.strip("/")
        return lambda node: _path_matches("/" + node.path, wanted)
    return lambda node: any(fnmatch.fnmatchcase(candidate, value) for candidate in (node.id, node.name, *node.aliases))


def _path_matches(path: str, wanted: str) -> bool:
    """True when ``wanted`` is a run of whole folders (or the file) inside ``path``."""
    start = path.find(wanted)
    while start != -1:
        end = start + len(wanted)
        if end == len(path) or path[end] == "/":
            return True
        start = path.find(wanted, start + 1)
    return False


def _no_match_message(graph: Graph, term: str, method: str, value: str) -> str:
    if method == "tag":
        known = {tag for node in graph.nodes.values() for tag in node.tags}
        return f"selector '{term}': no node has the tag '{value}'{did_you_mean(value, known)}"
    if method == "kind":
        known = {node.kind for node in graph.nodes.values()}
        return f"selector '{term}': no node of kind '{value}'; kinds here: {', '.join(sorted(known))}"
    if method == "path":
        return f"selector '{term}': no node lives under '{value}'; paths are relative to the project folder"
    names = {name for node in graph.nodes.values() for name in (node.name, *node.aliases)}
    return f"selector '{term}': no node is called '{value}'{did_you_mean(value, names)}"
