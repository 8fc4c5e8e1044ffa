"""Small manifest.json documents written by hand, in dbt's schema (v12), for tests that need no dbt run."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dbt_adapter.manifest import Manifest, read_manifest

SCHEMA = "https://schemas.getdbt.com/dbt/manifest/v12.json"
NODE_SECTIONS = {
    "unit_test": "unit_tests",
    "saved_query": "saved_queries",
    "semantic_model": "semantic_models",
    "metric": "metrics",
    "exposure": "exposures",
    "function": "functions",
}


@dataclass
class ManifestDoc:
    project: str = "shop"
    raw: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.raw = {
            "metadata": {"dbt_schema_version": SCHEMA, "project_name": self.project},
            "nodes": {},
            "sources": {},
            "macros": {},
            "docs": {},
            "groups": {},
            **{section: {} for section in NODE_SECTIONS.values()},
        }

    def add(
        self,
        resource_type: str,
        name: str,
        depends_on: list[str] | tuple[str, ...] = (),
        *,
        path: str | None = None,
        fqn: list[str] | None = None,
        config: dict[str, Any] | None = None,
        unique_id: str | None = None,
        **extra: Any,
    ) -> str:
        unique_id = unique_id or f"{resource_type}.{self.project}.{name}"
        item = {
            "unique_id": unique_id,
            "resource_type": resource_type,
            "name": name,
            "package_name": self.project,
            "original_file_path": path or f"models/{name}.sql",
            "fqn": fqn or [self.project, name],
            "depends_on": {"macros": [], "nodes": list(depends_on)},
            "tags": [],
            "meta": {},
            "config": {"materialized": "table", **(config or {})},
            **extra,
        }
        if resource_type == "source":
            item.setdefault("source_name", "raw")
            self.raw["sources"][unique_id] = item
        else:
            self.raw[NODE_SECTIONS.get(resource_type, "nodes")][unique_id] = item
        return unique_id

    def test(self, name: str, *parents: str, severity: str = "ERROR", **extra: Any) -> str:
        config = {"materialized": "test", "severity": severity, "warn_if": "!= 0", "error_if": "!= 0"}
        return self.add("test", name, parents, path="models/schema.yml", config=config, **extra)

    def write(self, folder: Path) -> Path:
        path = folder / "manifest.json"
        path.write_text(json.dumps(self.raw))
        return path

    def read(self, folder: Path) -> Manifest:
        return read_manifest(self.write(folder))
