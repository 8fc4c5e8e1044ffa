"""A small typed layer over dbt's ``manifest.json``.

Only the fields orchestrate-ext uses are read, each in one place, so a change
in dbt's schema shows up here and nowhere else. Every resource type of the
manifest is read: ``nodes`` (models, seeds, snapshots, data tests, analyses),
``sources``, ``unit_tests``, ``saved_queries``, ``semantic_models``,
``metrics``, ``exposures`` and ``functions``. A value of the wrong shape is a
``ManifestError`` that names the resource and the field, never a
half-read graph.

The file is decoded with msgspec into the structs at the end of this module, which name only
those fields: the rest of the manifest (compiled code, columns, docs, the parent and child maps:
most of its bytes) is skipped without being built, so reading a 5,000-model manifest takes a
fraction of the time and memory of ``json.load``. The structs type every field ``Any``: the
checks, and their messages, are this module's own.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec

from orchestrate_ext.errors import ManifestError
from orchestrate_ext.safe_load import MANIFEST_LIMITS, ShapeMismatch, load_json_file_typed

SUPPORTED_SCHEMA_VERSIONS = range(10, 13)
"""manifest v10 (dbt 1.6) to v12 (dbt 1.8 to 1.11)."""

_EMPTY: Mapping[str, Any] = {}
NODE_TYPES = ("model", "seed", "snapshot", "test", "analysis")
"""The resource types of ``manifest.nodes`` that become graph nodes (hooks and operations do not)."""
OTHER_SECTIONS = {
    "unit_tests": "unit_test",
    "saved_queries": "saved_query",
    "semantic_models": "semantic_model",
    "metrics": "metric",
    "exposures": "exposure",
    "functions": "function",
}


class ManifestUnreadable(ManifestError):
    """The file is no JSON a manifest can be (cut short by a dbt process killed while writing it,
    too large); dbt writes a new one on its next parse."""


@dataclass(frozen=True, slots=True)
class SavedQueryExport:
    """One export of a saved query (``exports[].config``): the relation dbt writes its result to."""

    name: str
    export_as: str | None
    schema: str | None
    alias: str | None


@dataclass(frozen=True, slots=True)
class ManifestNode:
    unique_id: str
    resource_type: str
    name: str
    package_name: str
    original_file_path: str
    fqn: tuple[str, ...]
    depends_on: tuple[str, ...]
    tags: tuple[str, ...]
    meta: Mapping[str, Any]
    materialized: str | None = None
    group: str | None = None
    source_name: str | None = None
    attached_node: str | None = None
    patch_path: str | None = None
    severity: str | None = None
    """``warn`` or ``error`` for data tests."""
    warn_if: str | None = None
    error_if: str | None = None
    freshness: str | None = None
    """A source's freshness rule as text: ``warn after 12 hours, error after 1 day``."""
    has_freshness: bool = False
    """A source with ``warn_after`` or ``error_after`` (dbt's ``SourceDefinition.has_freshness``)."""
    owner: str | None = None
    """An exposure's owner (e-mail, else name)."""
    exports: tuple[SavedQueryExport, ...] = ()
    """A saved query's exports."""
    version: str | None = None
    """A versioned model's version (its fqn then ends with ``v<version>``)."""
    incremental_strategy: str | None = None
    batch_size: str | None = None
    """A microbatch model's ``batch_size`` (``hour``, ``day``, ``month``, ``year``)."""
    relation: tuple[str | None, str | None, str] | None = None
    """``(database, schema, identifier)`` of the relation a model, seed or snapshot writes (its ``alias``)
    or a source reads (its ``identifier``); None for ephemeral models and resources without one."""

    @property
    def tested_node(self) -> str | None:
        """The node a data test or unit test is about (its ``attached_node``, else its one parent)."""
        if self.resource_type == "unit_test":
            return self.depends_on[0] if self.depends_on else None
        if self.resource_type != "test":
            return None
        if self.attached_node:
            return self.attached_node
        return self.depends_on[0] if len(self.depends_on) == 1 else None


@dataclass(frozen=True)
class Manifest:
    path: Path
    schema_version: int
    project_name: str
    nodes: Mapping[str, ManifestNode]
    """Every resource but sources, by unique id."""
    sources: Mapping[str, ManifestNode]
    group_owners: Mapping[str, str] = field(default_factory=dict)
    """Owner (e-mail, else name) of each dbt group, by group name."""
    files: frozenset[str] = frozenset()
    """The root project's files the manifest was parsed from, relative to the project folder."""
    invocation_id: str | None = None
    """The dbt invocation that wrote it."""
    hooks: tuple[ManifestNode, ...] = ()
    """The project hooks (``operation`` nodes tagged ``on-run-start``/``on-run-end``), in dbt's order."""

    def all(self) -> Iterator[ManifestNode]:
        yield from self.sources.values()
        yield from self.nodes.values()


def read_manifest(path: Path) -> Manifest:
    """Read ``manifest.json``; raises ``ManifestError`` naming the file and the problem."""
    if not path.is_file():
        raise ManifestError(f"{path} does not exist; run `dbt parse` in the dbt project")
    try:
        raw = load_json_file_typed(path, _Raw, MANIFEST_LIMITS, ManifestUnreadable)
    except ShapeMismatch as exc:  # a section or a resource that is no mapping: say which
        _schema_version(exc.value, path)
        raise ManifestError(_shape_problem(path, exc.value) or f"{exc}; regenerate it with `dbt parse`") from None
    metadata = raw.metadata
    version = _schema_version({"metadata": metadata} if isinstance(metadata, dict) else {}, path)
    reader = _Reader(path, version)
    return reader.read(raw)


_UNSET: Any = msgspec.UNSET


class _Config(msgspec.Struct):
    materialized: Any = None
    meta: Any = None
    group: Any = None
    severity: Any = None
    warn_if: Any = None
    error_if: Any = None
    incremental_strategy: Any = None
    batch_size: Any = None


_NO_CONFIG = _Config()


class _Resource(msgspec.Struct):
    """The fields of one resource that are read (the required ones are ``UNSET`` when missing)."""

    resource_type: Any = _UNSET
    name: Any = _UNSET
    package_name: Any = _UNSET
    original_file_path: Any = None
    fqn: Any = None
    depends_on: Any = None
    tags: Any = None
    meta: Any = None
    config: _Config | None = None
    group: Any = None
    source_name: Any = None
    attached_node: Any = None
    patch_path: Any = None
    freshness: Any = None
    owner: Any = None
    exports: Any = None
    version: Any = None
    identifier: Any = None
    alias: Any = None
    database: Any = None
    schema: Any = None
    index: Any = None


class _File(msgspec.Struct):
    """A macro or doc: only where it comes from."""

    package_name: Any = None
    original_file_path: Any = None


class _Raw(msgspec.Struct):
    metadata: Any = None
    nodes: dict[str, _Resource] | None = None
    sources: dict[str, _Resource] | None = None
    unit_tests: dict[str, _Resource] | None = None
    saved_queries: dict[str, _Resource] | None = None
    semantic_models: dict[str, _Resource] | None = None
    metrics: dict[str, _Resource] | None = None
    exposures: dict[str, _Resource] | None = None
    functions: dict[str, _Resource] | None = None
    groups: Any = None
    macros: dict[str, _File] | None = None
    docs: dict[str, _File] | None = None


def _shape_problem(path: Path, raw: Any) -> str | None:
    """What in ``raw`` (the manifest read by ``json``) does not fit :class:`_Raw`, named, or None."""
    regenerate = "the manifest was not written by dbt, or was edited: regenerate it with `dbt parse`"
    if not isinstance(raw, dict):
        return f"{path}: the manifest must be a mapping, not {type(raw).__name__}; {regenerate}"
    for section in _Raw.__struct_fields__:
        value = raw.get(section)
        if value is None or section in ("metadata", "groups"):
            continue
        if not isinstance(value, dict):
            return f"{path}: '{section}' of the manifest must be a mapping, not {type(value).__name__}; {regenerate}"
        for unique_id, item in value.items():
            if not isinstance(item, dict):
                return f"{path}: {unique_id}: '{unique_id}' must be a mapping, not {type(item).__name__}; {regenerate}"
            config = item.get("config")
            if section not in ("macros", "docs") and config is not None and not isinstance(config, dict):
                return f"{path}: {unique_id}: 'config' must be a mapping, not {type(config).__name__}; {regenerate}"
    return None


class _Reader:
    def __init__(self, path: Path, version: int) -> None:
        self.path = path
        self.version = version

    def read(self, raw: _Raw) -> Manifest:
        metadata = raw.metadata if isinstance(raw.metadata, dict) else _EMPTY
        project_name = str(metadata.get("project_name") or "")
        nodes: dict[str, ManifestNode] = {}
        hooks: list[tuple[tuple[bool, str, int], ManifestNode]] = []
        for unique_id, item in self._section(raw.nodes, "nodes").items():
            resource_type = item.resource_type
            if resource_type in NODE_TYPES:
                nodes[unique_id] = self._node(unique_id, item)
            elif resource_type == "operation":
                hook = self._node(unique_id, item)
                index = item.index
                # dbt/task/run.py _hook_keyfunc: packages by name, the root project last; then index
                order = (hook.package_name == project_name, hook.package_name, index if isinstance(index, int) else 0)
                hooks.append((order, hook))
        for section in OTHER_SECTIONS:
            for unique_id, item in (getattr(raw, section) or {}).items():
                nodes[unique_id] = self._node(unique_id, item)
        sources = {
            unique_id: self._node(unique_id, item) for unique_id, item in self._section(raw.sources, "sources").items()
        }
        groups = raw.groups if isinstance(raw.groups, dict) else {}
        owners = {
            str(group.get("name")): _owner_text(group.get("owner"))
            for group in groups.values()
            if isinstance(group, dict)
        }
        files = self._files(raw, project_name, [*nodes.values(), *sources.values()])
        invocation = str(metadata.get("invocation_id") or "") or None
        ordered = tuple(hook for _, hook in sorted(hooks, key=lambda pair: pair[0]))
        return Manifest(self.path, self.version, project_name, nodes, sources, owners, files, invocation, ordered)

    def _files(self, raw: _Raw, project: str, resources: list[ManifestNode]) -> frozenset[str]:
        found = {item.original_file_path for item in resources if item.package_name == project}
        found |= {item.patch_path for item in resources if item.patch_path and item.package_name == project}
        for section in (raw.macros, raw.docs):
            for item in (section or {}).values():
                if item.package_name == project and item.original_file_path:
                    found.add(str(item.original_file_path))
        return frozenset(path.split("://", 1)[-1] for path in found)

    def _node(self, unique_id: str, item: _Resource) -> ManifestNode:
        """One resource; runs for every node of the manifest, so it avoids work a plain model does not need."""
        try:
            config = item.config or _NO_CONFIG
            own_meta, config_meta = item.meta, config.meta
            meta = {**own_meta, **config_meta} if own_meta and config_meta else own_meta or config_meta or _EMPTY
            resource_type = str(self._required(item.resource_type, "resource_type"))
            fqn = self._strings(item.fqn or [unique_id], unique_id, "fqn")
            depends = item.depends_on or _EMPTY
            if not isinstance(depends, dict):
                raise ManifestError(self._shape(unique_id, "depends_on", "a mapping", depends))
            freshness = item.freshness if resource_type == "source" else None
            exports = item.exports or () if resource_type == "saved_query" else ()
            return ManifestNode(
                unique_id=unique_id,
                resource_type=resource_type,
                name=str(self._required(item.name, "name")),
                package_name=str(self._required(item.package_name, "package_name")),
                original_file_path=str(item.original_file_path or ""),
                fqn=fqn,
                depends_on=self._strings(depends.get("nodes") or [], unique_id, "depends_on.nodes"),
                tags=self._strings(item.tags or [], unique_id, "tags"),
                meta=meta,
                materialized=config.materialized,
                group=config.group or item.group,
                source_name=item.source_name,
                attached_node=item.attached_node,
                patch_path=item.patch_path,
                severity=str(config.severity).lower() if config.severity else None,
                has_freshness=freshness is not None and _has_freshness(freshness),
                warn_if=config.warn_if,
                error_if=config.error_if,
                freshness=_freshness_text(freshness) if freshness is not None else None,
                owner=_owner_text(item.owner) or None if resource_type == "exposure" else None,
                exports=tuple(_export(export) for export in exports if isinstance(export, dict)),
                version=None if item.version is None else str(item.version),
                incremental_strategy=config.incremental_strategy,
                batch_size=config.batch_size,
                relation=_relation(item, resource_type, config),
            )
        except (KeyError, TypeError, AttributeError) as exc:
            raise ManifestError(
                f"{self.path}: {unique_id} is missing the field {exc} that manifest schema v{self.version} should "
                "have, or holds a value of the wrong type; regenerate it with `dbt parse`"
            ) from exc

    @staticmethod
    def _required(value: Any, key: str) -> Any:
        if value is _UNSET:
            raise KeyError(key)
        return value

    def _strings(self, value: Any, unique_id: str, key: str) -> tuple[str, ...]:
        """A list of strings; a string where a list belongs is an error, never split into characters."""
        if type(value) is not list:
            raise ManifestError(self._shape(unique_id, key, "a list of strings", value))
        try:
            "".join(value)  # a TypeError names no position, but is the fastest check that all are strings
        except TypeError:
            raise ManifestError(self._shape(unique_id, key, "a list of strings", value)) from None
        return tuple(value)

    def _shape(self, unique_id: str, key: str, expected: str, value: Any) -> str:
        shown = repr(value) if len(repr(value)) <= 80 else repr(value)[:77] + "..."
        return (
            f"{self.path}: {unique_id}: '{key}' must be {expected}, not {type(value).__name__} {shown}; "
            "the manifest was not written by dbt, or was edited: regenerate it with `dbt parse`"
        )

    def _section(self, value: dict[str, _Resource] | None, key: str) -> dict[str, _Resource]:
        if value is None:
            raise ManifestError(
                f"{self.path}: '{key}' of the manifest must be a mapping, not NoneType; "
                "regenerate the manifest with `dbt parse`"
            )
        return value


def _schema_version(raw: Any, path: Path) -> int:
    url = raw.get("metadata", {}).get("dbt_schema_version", "") if isinstance(raw, dict) else ""
    match = re.search(r"/manifest/v(\d+)\.json$", url if isinstance(url, str) else "")
    if not match:
        raise ManifestError(f"{path} has no dbt_schema_version; is it a dbt manifest? Regenerate it with `dbt parse`")
    version = int(match.group(1))
    if version not in SUPPORTED_SCHEMA_VERSIONS:
        raise ManifestError(
            f"{path} uses manifest schema v{version}; orchestrate-ext reads "
            f"v{SUPPORTED_SCHEMA_VERSIONS.start} to v{SUPPORTED_SCHEMA_VERSIONS.stop - 1} "
            "(dbt-core 1.6 to 1.11); install a supported dbt-core and run `dbt parse` again"
        )
    return version


def _has_freshness(freshness: Any) -> bool:
    """dbt's ``FreshnessThreshold.__bool__``: a ``warn_after`` or ``error_after`` with a count and a period."""
    if not isinstance(freshness, dict):
        return False
    return any(
        isinstance(rule, dict) and rule.get("count") is not None and rule.get("period") is not None
        for rule in (freshness.get("warn_after"), freshness.get("error_after"))
    )


def _freshness_text(freshness: Any) -> str | None:
    if not _has_freshness(freshness):
        return None
    rules = []
    for key in ("warn_after", "error_after"):
        rule = freshness.get(key)
        if isinstance(rule, dict) and rule.get("count") is not None and rule.get("period") is not None:
            rules.append(f"{key.replace('_', ' ')} {rule['count']} {rule['period']}")
    return ", ".join(rules)


def _export(export: Mapping[str, Any]) -> SavedQueryExport:
    config = export.get("config") or _EMPTY
    return SavedQueryExport(
        name=str(export.get("name")),
        export_as=_text_or_none(config.get("export_as")),
        schema=_text_or_none(config.get("schema_name")),
        alias=_text_or_none(config.get("alias")),
    )


_RELATION_TYPES = frozenset({"model", "seed", "snapshot", "source"})


def _relation(item: _Resource, resource_type: str, config: _Config) -> tuple[str | None, str | None, str] | None:
    """The relation of a resource that has one in the warehouse (see :attr:`ManifestNode.relation`)."""
    if resource_type not in _RELATION_TYPES or config.materialized == "ephemeral":
        return None
    identifier = item.identifier if resource_type == "source" else item.alias
    identifier = identifier or item.name
    if not identifier:
        return None
    return _text_or_none(item.database), _text_or_none(item.schema), str(identifier)


def _text_or_none(value: Any) -> str | None:
    return None if value is None else str(value)


def _owner_text(owner: Any) -> str:
    if not isinstance(owner, dict):
        return ""
    return str(owner.get("email") or owner.get("name") or "")
