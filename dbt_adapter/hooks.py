"""dbt's project hooks (``on-run-start``, ``on-run-end``) as nodes of a run, so they run once per run.

``dbt build`` runs every ``on-run-start`` hook before its first node and every
``on-run-end`` hook after its last, the latter even when nodes failed
(``dbt/task/run.py``: ``before_run``/``after_run``, ``safe_run_hooks``); with
nothing selected it runs neither. A run here is several dbt invocations
(batches between notebooks, retries, resumptions), each of which would run the
hooks again, so each hook (``manifest.nodes``, ``resource_type: operation``,
``operation.<package>.<package>-on-run-start-<i>``) becomes a node:

- hooks of one type wait for each other in dbt's order (packages first, the root
  project last): after a failed one, the later ones are ``upstream_failed``
  (dbt: ``skipped``);
- every node ``dbt build`` runs waits for the last ``on-run-start`` hook, whose
  failure does not stop it (``failure_blocks``), unless the project sets dbt's
  ``skip_nodes_if_on_run_start_fails`` flag;
- the first ``on-run-end`` hook waits for every such node and starts once they
  have ended, whatever their status (``runs_after_failures``);
- like every node, a hook that succeeded is not run again by a retry or a
  resumption of its run: each hook runs once per run;
- they ``accompany`` the dbt nodes: any run with a dbt node has them.

Hooks of one type are ready together, so they share a batch. The runner tells
each dbt process which hook types it runs (:mod:`dbt_adapter.entry`; dbt runs a
type as a whole) and reads their status from dbt's ``LogHookStartLine`` and
``LogHookEndLine`` events.
A project without hooks gets no node and no change. With ``dbt.executable``
the process is not ours to instruct: every invocation runs the hooks, as before.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from dbt_adapter.manifest import Manifest, ManifestNode
from dbt_adapter.nodes import KIND
from dbt_adapter.values import read_yaml
from orchestrate_ext.model import Node, ReusePolicy

START = "on-run-start"
END = "on-run-end"
HOOK_SETTING = "hook"
"""The key of a hook node's ``settings`` that names its type."""


def hook_type(node: Node) -> str | None:
    """``on-run-start`` or ``on-run-end`` for a hook node, else None."""
    value = node.settings.get(HOOK_SETTING)
    return str(value) if value else None


def with_hooks(nodes: Sequence[Node], manifest: Manifest, project_dir: Path, path: str) -> list[Node]:
    """``nodes`` with the project's hooks as nodes, ordered as ``dbt build`` runs them.

    Args:
        path: the hook nodes' path (dbt_project.yml, relative to the workspace root).
    """
    starts = [hook for hook in manifest.hooks if START in hook.tags]
    ends = [hook for hook in manifest.hooks if END in hook.tags and START not in hook.tags]
    if not starts and not ends:
        return list(nodes)
    built = [node.id for node in nodes if node.kind == KIND and node.runnable]
    resources = next((node.resources for node in nodes if node.kind == KIND and node.runnable), ())
    blocks = _skip_nodes_if_start_fails(project_dir)
    hook_nodes: list[Node] = []
    before: tuple[str, ...] = ()
    for number, hook in enumerate(starts, 1):
        last = number == len(starts)
        hook_nodes.append(_node(hook, START, path, before, resources, failure_blocks=blocks or not last))
        before = (hook.unique_id,)
    last_start = before
    before = (*last_start, *built)
    for number, hook in enumerate(ends):
        hook_nodes.append(_node(hook, END, path, before, resources, failure_blocks=True, after_failures=number == 0))
        before = (hook.unique_id,)
    if not last_start:
        return [*nodes, *hook_nodes]
    wait = set(built)
    waiting = [replace(node, waits_for=(*node.waits_for, *last_start)) if node.id in wait else node for node in nodes]
    return [*waiting, *hook_nodes]


def _node(
    hook: ManifestNode,
    kind: str,
    path: str,
    waits_for: tuple[str, ...],
    resources: tuple[str, ...],
    *,
    failure_blocks: bool,
    after_failures: bool = False,
) -> Node:
    return Node(
        id=hook.unique_id,
        kind=KIND,
        resource_type=hook.resource_type,
        name=hook.name,
        path=path,
        waits_for=waits_for,
        failure_blocks=failure_blocks,
        runs_after_failures=after_failures,
        accompanies=True,
        aliases=(f"{hook.package_name}.{hook.name}",),
        tags=frozenset(hook.tags),
        resources=resources,
        reuse=ReusePolicy(allowed=False),
        settings={"dbt_id": hook.unique_id, HOOK_SETTING: kind},
    )


def _skip_nodes_if_start_fails(project_dir: Path) -> bool:
    """dbt's ``flags: skip_nodes_if_on_run_start_fails`` in dbt_project.yml (default false)."""
    raw = read_yaml(project_dir / "dbt_project.yml")
    flags = raw.get("flags") if isinstance(raw, dict) else None
    return isinstance(flags, dict) and flags.get("skip_nodes_if_on_run_start_fails") is True
