"""The dbt plugin: models, seeds, snapshots, tests and sources as graph nodes."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

from dbt_adapter.manifest import Manifest, ManifestNode, read_manifest
from dbt_adapter.parse import ensure_manifest
from dbt_adapter.project import DbtConfig, DbtProject
from dbt_adapter.runner import DbtRunner
from orchestrate_ext.interfaces import NodeRunner, Workspace
from orchestrate_ext.model import Node
from orchestrate_ext.node_settings import NodeSettings, parse_settings

KIND = "dbt"
SOURCE_KIND = "source"


class DbtPlugin:
    config_key = "dbt"
    config_model = DbtConfig

    def discover(self, workspace: Workspace, config: DbtConfig) -> Sequence[Node]:
        project = DbtProject.from_config(workspace, config)
        manifest = read_manifest(ensure_manifest(project))
        return nodes_from_manifest(manifest, project)

    def runners(self, workspace: Workspace, config: DbtConfig) -> Mapping[str, NodeRunner]:
        return {KIND: DbtRunner(DbtProject.from_config(workspace, config))}


def nodes_from_manifest(manifest: Manifest, project: DbtProject) -> list[Node]:
    """Every dbt node of ``manifest`` as a graph node."""
    gates = _single_parent_tests(manifest)
    nodes = [_source_node(source, project, gates) for source in manifest.sources.values()]
    nodes += [_dbt_node(item, manifest, project, gates) for item in manifest.nodes.values()]
    return nodes


def _single_parent_tests(manifest: Manifest) -> dict[str, list[str]]:
    """Tests on exactly one node, by that node: its dependants wait for them, as in `dbt build`."""
    gates: dict[str, list[str]] = {}
    for item in manifest.nodes.values():
        if item.resource_type == "test" and len(item.depends_on) == 1:
            gates.setdefault(item.depends_on[0], []).append(item.unique_id)
    return gates


def _relative_path(project: DbtProject, item: ManifestNode) -> str:
    absolute = project.project_dir / item.original_file_path
    return os.path.relpath(absolute, project.workspace_root).replace(os.sep, "/")


def _source_node(source: ManifestNode, project: DbtProject, gates: Mapping[str, list[str]]) -> Node:
    qualified = f"{source.source_name}.{source.name}"
    return Node(
        id=source.unique_id,
        kind=SOURCE_KIND,
        resource_type="source",
        name=qualified,
        path=_relative_path(project, source),
        aliases=(f"source:{qualified}", f"{source.package_name}.{qualified}"),
        gated_by=tuple(gates.get(source.unique_id, ())),
        runnable=False,
        tags=frozenset(source.tags),
    )


def _dbt_node(item: ManifestNode, manifest: Manifest, project: DbtProject, gates: Mapping[str, list[str]]) -> Node:
    where = f"dbt {item.resource_type} '{item.unique_id}' ({item.original_file_path}) meta"
    settings: NodeSettings = parse_settings(NodeSettings, item.meta.get("orchestrate"), where)
    known = manifest.nodes.keys() | manifest.sources.keys()
    owner = settings.owner or _meta_owner(item) or manifest.group_owners.get(item.group or "")
    retries = settings.retries
    if retries is None and item.resource_type == "test":
        retries = 0  # a failing test fails again: not retried unless configured
    return Node(
        id=item.unique_id,
        kind=KIND,
        resource_type=item.resource_type,
        name=item.name,
        path=_relative_path(project, item),
        depends_on=tuple(dep for dep in item.depends_on if dep in known),
        gated_by=tuple(gates.get(item.unique_id, ())),
        aliases=(f"{item.package_name}.{item.name}",),
        runnable=item.materialized != "ephemeral",
        owner=owner or None,
        tags=frozenset(item.tags) | frozenset(settings.tags),
        resources=tuple(dict.fromkeys([*project.resources, *settings.resources])),
        env_passthrough=tuple(settings.env_passthrough),
        retries=retries,
        retry_backoff=settings.retry_backoff,
        timeout=settings.timeout,
        reuse=settings.reuse_policy(),
        settings={"selector": item.selector, **settings.observer_settings(), **settings.schedule_settings()},
    )


def _meta_owner(item: ManifestNode) -> str | None:
    owner = item.meta.get("owner")
    return str(owner) if owner else None
