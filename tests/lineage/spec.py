"""Validation of OpenLineage events against the spec's JSON schemas, resolved offline.

No package on PyPI ships the spec's JSON schema files (the ``openlineage-python`` wheel has classes
generated from them, not the files), so the schemas come from a checkout of the OpenLineage repository's
``spec/`` folder at the version the client declares, named by ``OPENLINEAGE_SPEC_DIR``. Every ``*.json``
under it is registered by its ``$id``; an event is validated against the ``schemaURL`` it declares and
each facet against its own ``_schemaURL``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

SPEC_DIR_ENV = "OPENLINEAGE_SPEC_DIR"


def spec_dir() -> Path | None:
    value = os.environ.get(SPEC_DIR_ENV)
    return Path(value) if value and Path(value).is_dir() else None


def _facets(event: dict[str, Any]) -> Iterator[dict[str, Any]]:
    holders = [event.get("run", {}), event.get("job", {})]
    for dataset in [*event.get("inputs", []), *event.get("outputs", [])]:
        holders.append(dataset)
        holders.append({"facets": dataset.get("inputFacets") or dataset.get("outputFacets") or {}})
    for holder in holders:
        for facet in (holder.get("facets") or {}).values():
            if isinstance(facet, dict) and "_schemaURL" in facet:
                yield facet


def validator(folder: Path) -> Any:
    """A function that raises ``jsonschema.ValidationError`` for an event that breaks the spec."""
    from jsonschema import Draft202012Validator, FormatChecker
    from referencing import Registry, Resource

    resources = []
    for path in folder.rglob("*.json"):
        try:
            document = json.loads(path.read_text())
        except (ValueError, UnicodeDecodeError):
            continue
        if isinstance(document, dict) and isinstance(document.get("$id"), str):
            resources.append((document["$id"], Resource.from_contents(document)))
    registry: Registry = Registry().with_resources(resources)
    checker = FormatChecker()

    def validate(event: dict[str, Any]) -> None:
        Draft202012Validator({"$ref": event["schemaURL"]}, registry=registry, format_checker=checker).validate(event)
        for facet in _facets(event):
            Draft202012Validator({"$ref": facet["_schemaURL"]}, registry=registry, format_checker=checker).validate(
                facet
            )

    return validate
