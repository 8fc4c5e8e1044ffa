"""Reading manifest.json: every section, and values of the wrong shape refused by name."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrate_ext.errors import ManifestError
from tests.dbt_adapter.manifests import ManifestDoc


def test_every_section_is_read(tmp_path: Path) -> None:
    doc = ManifestDoc()
    doc.add("model", "orders", path="models/orders.sql", patch_path="shop://models/schema.yml")
    doc.add("operation", "hook", path="hooks/x.sql")
    for resource_type in ("unit_test", "saved_query", "semantic_model", "metric", "exposure", "function"):
        doc.add(resource_type, f"a_{resource_type}", ["model.shop.orders"], path="models/schema.yml")
    doc.raw["macros"]["macro.shop.m"] = {"package_name": "shop", "original_file_path": "macros/m.sql"}
    doc.raw["macros"]["macro.dbt.x"] = {"package_name": "dbt", "original_file_path": "macros/x.sql"}
    manifest = doc.read(tmp_path)
    types = sorted(item.resource_type for item in manifest.nodes.values())
    assert types == ["exposure", "function", "metric", "model", "saved_query", "semantic_model", "unit_test"]
    assert manifest.files == {"models/orders.sql", "models/schema.yml", "macros/m.sql"}


@pytest.mark.parametrize(
    ("field", "value", "shown"),
    [
        ("depends_on", {"nodes": "model.shop.orders"}, "'depends_on.nodes' must be a list of strings, not str"),
        ("depends_on", {"nodes": [1, 2]}, "'depends_on.nodes' must be a list of strings, not list"),
        ("depends_on", ["model.shop.orders"], "'depends_on' must be a mapping, not list"),
        ("fqn", "shop.orders", "'fqn' must be a list of strings, not str"),
        ("tags", "nightly", "'tags' must be a list of strings, not str"),
    ],
)
def test_a_value_of_the_wrong_shape_is_an_error_not_characters(
    tmp_path: Path, field: str, value: object, shown: str
) -> None:
    doc = ManifestDoc()
    doc.add("model", "orders")
    doc.add("model", "mart", ["model.shop.orders"])
    doc.raw["nodes"]["model.shop.mart"][field] = value
    with pytest.raises(ManifestError) as caught:
        doc.read(tmp_path)
    message = str(caught.value)
    assert "model.shop.mart" in message and shown in message and "dbt parse" in message


def test_a_missing_field_names_the_node(tmp_path: Path) -> None:
    doc = ManifestDoc()
    doc.add("model", "orders")
    del doc.raw["nodes"]["model.shop.orders"]["name"]
    with pytest.raises(ManifestError, match=r"model.shop.orders is missing the field 'name'"):
        doc.read(tmp_path)


def test_what_msgspec_refuses_is_read_by_json(tmp_path: Path) -> None:
    """NaN and numbers beyond a float are JSON as Python writes it: the manifest still reads."""
    doc = ManifestDoc()
    doc.add("model", "orders", meta={"ratio": float("nan"), "big": 10**400})
    manifest = doc.read(tmp_path)
    assert manifest.nodes["model.shop.orders"].meta["big"] == 10**400


@pytest.mark.parametrize(
    ("section", "value", "shown"),
    [
        ("nodes", [], "'nodes' of the manifest must be a mapping, not list"),
        ("sources", {"source.shop.raw.x": "x"}, "source.shop.raw.x: 'source.shop.raw.x' must be a mapping, not str"),
    ],
)
def test_a_section_of_the_wrong_shape_is_named(tmp_path: Path, section: str, value: object, shown: str) -> None:
    doc = ManifestDoc()
    doc.add("model", "orders")
    doc.raw[section] = value
    with pytest.raises(ManifestError) as caught:
        doc.read(tmp_path)
    assert shown in str(caught.value) and "dbt parse" in str(caught.value)
