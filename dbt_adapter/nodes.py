"""Every resource of a dbt manifest as a graph node, waiting for what ``dbt build`` makes it wait for.

=================  =========  ===========================================================
resource type      runs       waits for
=================  =========  ===========================================================
model, seed,       yes        its parents, their tests (the gates of its parents), its unit
snapshot                      tests, and tests on several nodes that are all upstream of it
                              (ephemeral models do not run: they are compiled into others)
test               yes        the nodes it tests (a failing ``error`` test blocks what
                              waits for it; a ``warn`` test that finds rows is ``warned``)
unit_test          yes        what its model waits for; its model then waits for it
saved_query,       yes        their parents (through metrics and semantic models), not
exposure                      their parents' tests: dbt runs them as no-ops
function           yes        its parents
source             no         the notebook that produces it, if any; its tests and its
                              freshness check gate everything that reads it
source freshness   yes        the source (``dbt source freshness``, kind ``dbt_freshness``)
semantic_model,    no         shown with their edges
metric, analysis
=================  =========  ===========================================================

Tests without an owner, tags or alert routes of their own take those of the
node they test (``attached_node``, or their only parent; a unit test's model).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from dbt_adapter.lineage_names import dataset_name
from dbt_adapter.manifest import Manifest, ManifestNode
from dbt_adapter.test_edges import multi_parent_test_waits, single_parent_tests
from orchestrate_ext.errors import ConfigError
from orchestrate_ext.model import Node, ReusePolicy
from orchestrate_ext.node_settings import NodeSettings, parse_settings

KIND = "dbt"
SOURCE_KIND = "source"
FRESHNESS_KIND = "dbt_freshness"
FRESHNESS_PREFIX = "freshness."
RUNNABLE = frozenset({"model", "seed", "snapshot", "test", "unit_test", "saved_query", "exposure", "function"})
"""What ``dbt build`` runs (``dbt/task/build.py`` ``RUNNER_MAP``); ephemeral models are compiled, not run."""
UNGATED = frozenset({"test", "saved_query", "exposure", "semantic_model", "metric", "function"})
"""Not in ``manifest.nodes`` or tests: dbt adds no test edges to them (``dbt/compilation.py``)."""
TEST_TYPES = frozenset({"test", "unit_test"})
_DEFAULT_SETTINGS = NodeSettings()
_DEFAULT_PARTS: tuple[Mapping[str, Any], Mapping[str, Any]] = ({}, {})


@dataclass(frozen=True, slots=True)
class _Own:
    """What a resource says about itself: its settings, owner and tags."""

    settings: NodeSettings
    owner: str | None
    tags: frozenset[str]
    observer: Mapping[str, Any]
    """``sla`` and ``alerts`` as plain data."""
    schedule: Mapping[str, Any]


def runs_in_build(item: ManifestNode) -> bool:
    """True for the resources ``dbt build`` executes."""
    return item.resource_type in RUNNABLE and item.materialized != "ephemeral"


def freshness_id(source_id: str) -> str:
    return FRESHNESS_PREFIX + source_id


def nodes_from_manifest(
    manifest: Manifest,
    project_dir: Path,
    workspace_root: Path,
    resources: Sequence[str] = ("warehouse",),
    problems: dict[str, str] | None = None,
    naming: Naming | None = None,
) -> list[Node]:
    """Every dbt resource of ``manifest`` (and a freshness check per source that has a rule) as a graph node.

    Args:
        resources: the exclusive resources every dbt node holds (``dbt.resources``).
        problems: when given, a resource whose ``meta.orchestrate`` is invalid does not raise: it
            becomes a node with default settings and its error is put here by node id (the partial
            graph then leaves it out). Without it, the first invalid ``meta`` raises ``ConfigError``.
        naming: the adapter and warehouse namespace (from the profile) that name each relation as an
            OpenLineage dataset, put in the node's ``settings["dataset"]`` (read by
            :func:`orchestrate_ext.datasets.node_datasets`); None when the profile did not load.
    """
    return _Builder(manifest, project_dir, workspace_root, tuple(resources), problems, naming).build()


@dataclass(frozen=True, slots=True)
class Naming:
    """How the relations of one dbt target are named as datasets (:mod:`dbt_adapter.lineage_names`)."""

    adapter: str
    namespace: str

    def dataset(self, item: ManifestNode) -> dict[str, str] | None:
        if item.relation is None:
            return None
        return {"namespace": self.namespace, "name": dataset_name(self.adapter, *item.relation)}


class _Builder:
    def __init__(
        self,
        manifest: Manifest,
        project_dir: Path,
        workspace_root: Path,
        resources: tuple[str, ...],
        problems: dict[str, str] | None = None,
        naming: Naming | None = None,
    ) -> None:
        self.manifest = manifest
        self.naming = naming
        self.problems = problems
        self.resources = resources
        self.known = manifest.nodes.keys() | manifest.sources.keys()
        self.gates = single_parent_tests(manifest)
        self.waits = multi_parent_test_waits(manifest)
        self.unit_tests: dict[str, list[str]] = {}
        for item in manifest.nodes.values():
            if item.resource_type == "unit_test" and item.tested_node:
                self.unit_tests.setdefault(item.tested_node, []).append(item.unique_id)
        prefix = os.path.relpath(project_dir, workspace_root).replace(os.sep, "/")
        self.path_prefix = "" if prefix == "." else prefix + "/"
        self.own = {item.unique_id: self._own(item) for item in manifest.all()}
        self._derived: dict[int, tuple[tuple[str, ...], tuple[str, ...], ReusePolicy]] = {}

    def _from_settings(self, settings: NodeSettings) -> tuple[tuple[str, ...], tuple[str, ...], ReusePolicy]:
        """Resources, passed-through variables and reuse policy of ``settings``, worked out once per
        settings object (most nodes share the default one)."""
        found = self._derived.get(id(settings))
        if found is None:
            found = self._derived[id(settings)] = (
                self._resources(settings),
                tuple(settings.env_passthrough),
                settings.reuse_policy(),
            )
        return found

    def build(self) -> list[Node]:
        nodes: list[Node] = []
        for source in self.manifest.sources.values():
            nodes.append(self._source(source))
            if source.has_freshness:
                nodes.append(self._freshness(source))
        nodes += [self._node(item) for item in self.manifest.nodes.values()]
        return nodes

    # -- what each resource says about itself

    def _own(self, item: ManifestNode) -> _Own:
        raw = item.meta.get("orchestrate") if item.meta else None
        if raw is None:  # most nodes: no validation, shared empty parts
            settings = _DEFAULT_SETTINGS
            observer, schedule = _DEFAULT_PARTS
        else:
            where = f"dbt {item.resource_type} '{item.unique_id}' ({item.original_file_path}) meta"
            try:
                settings = parse_settings(NodeSettings, raw, where)
            except ConfigError as exc:
                if self.problems is None:
                    raise
                self.problems[item.unique_id] = str(exc)
                settings = _DEFAULT_SETTINGS
                observer, schedule = _DEFAULT_PARTS
            else:
                observer, schedule = settings.observer_settings(), settings.schedule_settings()
        owner = settings.owner or _meta_owner(item) or item.owner or self.manifest.group_owners.get(item.group or "")
        return _Own(settings, owner or None, frozenset(item.tags) | frozenset(settings.tags), observer, schedule)

    def _inherited(self, item: ManifestNode) -> tuple[str | None, frozenset[str], list[dict[str, Any]]]:
        """Owner, tags and alert routes: the node's own, else (for tests) those of the node it tests."""
        own = self.own[item.unique_id]
        alerts = own.observer.get("alerts") or []
        owner, tags = own.owner, own.tags
        tested = item.tested_node if item.resource_type in TEST_TYPES else None
        parent = self.own.get(tested) if tested else None
        if parent is not None:
            owner = owner or parent.owner
            tags = tags or parent.tags
            alerts = alerts or parent.observer.get("alerts") or []
        return owner, tags, alerts

    def _path(self, item: ManifestNode) -> str:
        return self.path_prefix + item.original_file_path if item.original_file_path else ""

    # -- each kind of node

    def _source(self, source: ManifestNode) -> Node:
        qualified = f"{source.source_name}.{source.name}"
        gates = list(self.gates.get(source.unique_id, ()))
        if source.has_freshness:
            gates.append(freshness_id(source.unique_id))
        own = self.own[source.unique_id]
        return Node(
            id=source.unique_id,
            kind=SOURCE_KIND,
            resource_type="source",
            name=qualified,
            path=self._path(source),
            aliases=(f"source:{qualified}", f"{source.package_name}.{qualified}"),
            gated_by=tuple(gates),
            runnable=False,
            owner=own.owner,
            tags=own.tags,
            settings={"dbt_id": source.unique_id, **self._dataset(source), **own.observer},
        )

    def _freshness(self, source: ManifestNode) -> Node:
        qualified = f"{source.source_name}.{source.name}"
        own = self.own[source.unique_id]
        settings = own.settings
        return Node(
            id=freshness_id(source.unique_id),
            kind=FRESHNESS_KIND,
            resource_type="source_freshness",
            name=f"{qualified}.freshness",
            path=self._path(source),
            depends_on=(source.unique_id,),
            gated=False,
            owner=own.owner,
            tags=own.tags,
            resources=self._resources(settings),
            env_passthrough=tuple(settings.env_passthrough),
            retries=settings.retries if settings.retries is not None else 0,
            retry_backoff=settings.retry_backoff,
            timeout=settings.timeout,
            reuse=settings.reuse_policy(),
            settings={"dbt_id": source.unique_id, "freshness": source.freshness, **own.observer},
        )

    def _node(self, item: ManifestNode) -> Node:
        own = self.own[item.unique_id]
        settings = own.settings
        owner, tags, alerts = self._inherited(item)
        depends_on = self._depends_on(item)
        waits = self.waits.get(item.unique_id, ())
        if item.resource_type == "unit_test" and item.tested_node:
            waits = self.waits.get(item.tested_node, ())
        retries = settings.retries
        if retries is None and item.resource_type in TEST_TYPES:
            retries = 0  # a failing test fails again: not retried unless configured
        observer = {**own.observer, "alerts": alerts} if alerts else own.observer
        runnable = runs_in_build(item)
        resources, env_passthrough, reuse = self._from_settings(settings)
        extra: dict[str, Any] = {}
        if item.severity:
            extra.update(severity=item.severity, warn_if=item.warn_if, error_if=item.error_if)
        if item.exports:  # shown by `graph --format json` (see Graph.to_json)
            extra["details"] = {"exports": [asdict(export) for export in item.exports]}
        return Node(
            id=item.unique_id,
            kind=KIND,
            resource_type=item.resource_type,
            name=item.name,
            path=self._path(item),
            depends_on=depends_on,
            gated_by=tuple(self.gates.get(item.unique_id, ())),
            waits_for=tuple(waits),
            gated=item.resource_type not in UNGATED,
            aliases=(f"{item.package_name}.{item.name}",),
            runnable=runnable,
            owner=owner,
            tags=tags,
            resources=resources if runnable else (),
            env_passthrough=env_passthrough,
            retries=retries,
            retry_backoff=settings.retry_backoff,
            timeout=settings.timeout,
            reuse=reuse,
            settings={"dbt_id": item.unique_id, **self._dataset(item), **extra, **observer, **own.schedule},
        )

    def _dataset(self, item: ManifestNode) -> dict[str, Any]:
        dataset = self.naming.dataset(item) if self.naming is not None else None
        return {"dataset": dataset} if dataset else {}

    def _depends_on(self, item: ManifestNode) -> tuple[str, ...]:
        """Its parents; a unit test takes its model's parents, and the model waits for its unit tests."""
        parents: Iterable[str] = item.depends_on
        tested = item.tested_node if item.resource_type == "unit_test" else None
        if tested is not None and tested in self.manifest.nodes:
            parents = self.manifest.nodes[tested].depends_on
        found = [dep for dep in parents if dep in self.known]
        found += self.unit_tests.get(item.unique_id, ())
        return tuple(found)

    def _resources(self, settings: NodeSettings) -> tuple[str, ...]:
        return tuple(dict.fromkeys([*self.resources, *settings.resources]))


def _meta_owner(item: ManifestNode) -> str | None:
    owner = item.meta.get("owner")
    return str(owner) if owner else None
