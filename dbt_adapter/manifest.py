"""A small typed layer over dbt's ``target/manifest.json``.

Only the fields orchestrate-ext uses are read, each in one place, so a change
in dbt's schema shows up here and nowhere else.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from orchestrate_ext.errors import ManifestError

SUPPORTED_SCHEMA_VERSIONS = range(10, 13)
"""manifest v10 (dbt 1.6) to v12 (dbt 1.8 to 1.11)."""

RUNNABLE_TYPES = ("model", "seed", "snapshot", "test")


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

    @property
    def selector(self) -> str:
        """The ``--select`` term that picks exactly this node."""
        return "fqn:" + ".".join(self.fqn)


@dataclass(frozen=True)
class Manifest:
    path: Path
    schema_version: int
    project_name: str
    nodes: Mapping[str, ManifestNode]
    sources: Mapping[str, ManifestNode]
    group_owners: Mapping[str, str] = field(default_factory=dict)
    """Owner (e-mail, else name) of each dbt group, by group name."""


def read_manifest(path: Path) -> Manifest:
    """Read ``manifest.json``; raises ``ManifestError`` naming the file and the problem."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ManifestError(f"{path} does not exist; run `dbt parse` in the dbt project") from None
    except (OSError, json.JSONDecodeError) as exc:
        raise ManifestError(f"{path} cannot be read as JSON ({exc}); delete it and run `dbt parse`") from exc
    version = _schema_version(raw, path)
    try:
        nodes = {
            unique_id: _node(item)
            for unique_id, item in raw["nodes"].items()
            if item["resource_type"] in RUNNABLE_TYPES
        }
        sources = {unique_id: _node(item) for unique_id, item in raw["sources"].items()}
        owners = {group["name"]: _owner_text(group.get("owner") or {}) for group in (raw.get("groups") or {}).values()}
        project_name = raw["metadata"].get("project_name") or ""
    except (KeyError, TypeError, AttributeError) as exc:
        raise ManifestError(
            f"{path} is missing the field {exc} that manifest schema v{version} should have; "
            "regenerate it with `dbt parse`"
        ) from exc
    return Manifest(
        path=path,
        schema_version=version,
        project_name=project_name,
        nodes=nodes,
        sources=sources,
        group_owners=owners,
    )


def _schema_version(raw: Any, path: Path) -> int:
    url = raw.get("metadata", {}).get("dbt_schema_version", "") if isinstance(raw, dict) else ""
    match = re.search(r"/manifest/v(\d+)\.json$", url or "")
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


def _node(item: Mapping[str, Any]) -> ManifestNode:
    config = item.get("config") or {}
    meta = {**(item.get("meta") or {}), **(config.get("meta") or {})}
    return ManifestNode(
        unique_id=item["unique_id"],
        resource_type=item["resource_type"],
        name=item["name"],
        package_name=item["package_name"],
        original_file_path=item["original_file_path"],
        fqn=tuple(item["fqn"]),
        depends_on=tuple((item.get("depends_on") or {}).get("nodes") or ()),
        tags=tuple(item.get("tags") or ()),
        meta=meta,
        materialized=config.get("materialized"),
        group=config.get("group") or item.get("group"),
        source_name=item.get("source_name"),
        attached_node=item.get("attached_node"),
    )


def _owner_text(owner: Mapping[str, Any]) -> str:
    return str(owner.get("email") or owner.get("name") or "")
