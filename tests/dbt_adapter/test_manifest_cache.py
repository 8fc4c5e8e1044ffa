"""The read manifest kept between commands: used while manifest.json is unchanged, never after."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

from dbt_adapter.manifest_cache import FILE_NAME, load_manifest
from tests.dbt_adapter.manifests import ManifestDoc


def test_the_cache_serves_an_unchanged_manifest_and_misses_a_changed_one(tmp_path: Path) -> None:
    doc = ManifestDoc()
    doc.add("model", "orders")
    path = doc.write(tmp_path)
    cache = tmp_path / "cache"
    assert set(load_manifest(path, cache).nodes) == {"model.shop.orders"}
    assert (cache / FILE_NAME).is_file()
    stat = path.stat()
    path.write_text(path.read_text().replace('"orders"', '"ORDERS"'))  # same size, same mtime: a cache hit
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert load_manifest(path, cache).nodes["model.shop.orders"].name == "orders"
    doc.add("model", "customers")
    doc.write(tmp_path)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    assert set(load_manifest(path, cache).nodes) == {"model.shop.orders", "model.shop.customers"}


def test_a_broken_or_foreign_cache_is_ignored(tmp_path: Path) -> None:
    doc = ManifestDoc()
    doc.add("model", "orders")
    path = doc.write(tmp_path)
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / FILE_NAME).write_bytes(b"not a pickle")
    assert set(load_manifest(path, cache).nodes) == {"model.shop.orders"}
    (cache / FILE_NAME).write_bytes(pickle.dumps(("some other key", {"x": 1})))
    assert set(load_manifest(path, cache).nodes) == {"model.shop.orders"}
