"""What determines a dbt node's result, for ``--only-changed`` runs (see :mod:`orchestrate_ext.execution.reuse`).

* **code**, from ``manifest.json`` alone: the node's entry (its ``checksum`` and ``raw_code``, its
  ``config``, a generic test's ``test_metadata``, a unit test's ``given``/``expect``, the relation it
  builds, its columns' types and constraints), without what never changes its output
  (:data:`IGNORED_KEYS`, :data:`IGNORED_CONFIG`: descriptions, docs, meta, tags, file paths, parse
  times, compiled SQL); the ``macro_sql`` of every project or package macro it calls
  (``depends_on.macros``, followed through the macros' own ``depends_on.macros``) and of its
  materialization when the project defines it; the relation of each source it reads; and one
  digest of all the macros dbt and its adapter ship (packages ``dbt`` and ``dbt_<name>`` not
  installed in the project), so an upgrade of dbt that changes a macro reruns everything. dbt adds
  the internal macros a node calls to its ``depends_on.macros`` when it compiles it, so the
  manifest a ``dbt build`` writes lists more of them than one ``dbt parse`` writes: counting them
  one by one would make nodes run after every build. A seed's entry holds its file's checksum (for
  a seed over 1 MiB dbt keeps only its path: the file's content is hashed here instead).
* **inputs**, per run: the values of the ``var()`` names it reads (the run's ``--vars``, else the
  project's ``vars:``), ``logical_date`` among them when it reads it (so a backfill never reuses it);
  the dbt profile and target; and, when the run asks (``check_sources``), the ``max_loaded_at`` of
  each source it reads that has a freshness rule and a ``loaded_at_field`` (or ``loaded_at_query``),
  found by one ``dbt source freshness`` for all of them (:mod:`dbt_adapter.source_freshness`).

A source freshness check node's code is its source's entry; its inputs are that source's
``max_loaded_at`` and freshness status, so it is reused only when asked to check sources.

The manifest-derived part (:class:`ManifestDigest`) is computed once per manifest file
(:class:`Digests` keeps the newest per path, keyed by its size and modification time); a
run only adds its inputs.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orchestrate_ext.errors import ManifestError
from orchestrate_ext.interfaces import NodeFingerprint
from orchestrate_ext.safe_load import MANIFEST_LIMITS, load_json_file

IGNORED_KEYS = frozenset(
    {
        "created_at",  # the parse time: new in every `dbt parse`
        "description",
        "doc_blocks",
        "docs",
        "meta",
        "tags",
        "group",
        "access",
        "patch_path",
        "original_file_path",
        "path",
        "root_path",
        "fqn",
        "file_key_name",
        "build_path",
        "compiled_path",
        "compiled",
        "compiled_code",
        "extra_ctes",
        "extra_ctes_injected",
        "deferred",
        "defer_relation",
        "unrendered_config",
        "config_call_dict",
        "unrendered_config_call_dict",
        "latest_version",
        "deprecation_date",
        "primary_key",
        "label",
        "owner",
        "_event_status",
        # taken apart below:
        "config",
        "columns",
        "depends_on",
    }
)
"""Keys of a manifest entry that do not change what the node builds or checks."""
IGNORED_CONFIG = frozenset({"docs", "meta", "tags", "group", "access", "freshness", "enabled", "static_analysis"})
"""Config keys that do not change the output (a model's ``freshness`` says when to build, not what)."""
_COLUMN_KEYS = ("data_type", "constraints", "quote", "granularity")
_MATERIALIZATION = {"unit_test": "unit"}
_VAR_CALL = re.compile(r"""\bvar\(\s*["']([A-Za-z_][A-Za-z0-9_]*)["']""")
"""A textual scan for ``var('name'``: dbt resolves var() at render time, so the manifest does not list
the vars a node reads; a var read through a computed name is missed (the project's own code is scanned
for those by :func:`dbt_adapter.parse.referenced_vars`, which decides what dbt is given)."""
_PER_RUN = frozenset({"run_id"})
"""New in every run: a node that stamps it is still reused (as notebooks are)."""
_SEED_BY_PATH = "path"


@dataclass(frozen=True, slots=True)
class Resource:
    """The manifest-derived part of one runnable resource's fingerprint."""

    code: str
    package: str
    reads_vars: tuple[str, ...] = ()
    reads_sources: tuple[str, ...] = ()
    """Sources it reads directly whose new rows ``dbt source freshness`` can tell."""


@dataclass(frozen=True, slots=True)
class Source:
    code: str
    selector: str
    """``source:<package>.<source>.<table>``"""
    checkable: bool
    """A freshness rule and a ``loaded_at_field`` or ``loaded_at_query``: dbt can tell its newest row."""


@dataclass(frozen=True)
class ManifestDigest:
    """Per dbt unique id: what the manifest says determines each resource's result."""

    resources: Mapping[str, Resource]
    sources: Mapping[str, Source]

    def sources_to_check(self, dbt_ids: Iterable[str], freshness_ids: Iterable[str] = ()) -> dict[str, str]:
        """The checkable sources read by ``dbt_ids`` and checked by ``freshness_ids``: their selectors by id."""
        wanted: set[str] = set()
        for uid in dbt_ids:
            resource = self.resources.get(uid)
            if resource is not None:
                wanted.update(resource.reads_sources)
        wanted.update(uid for uid in freshness_ids if uid in self.sources)
        return {uid: self.sources[uid].selector for uid in sorted(wanted) if self.sources[uid].checkable}

    def fingerprint(
        self, dbt_id: str, values: RunValues, loaded: Mapping[str, LoadedAt] | None
    ) -> NodeFingerprint | None:
        """A model's, seed's, test's ... fingerprint; None when it is unknown or a source it reads could not be checked.

        ``loaded`` holds each checked source's newest row when the run checks sources (None when it does not).
        """
        resource = self.resources.get(dbt_id)
        if resource is None:
            return None
        inputs: dict[str, Any] = {"target": values.target}
        inputs["vars"] = {name: values.var(resource.package, name) for name in resource.reads_vars}
        if loaded is not None and resource.reads_sources:
            found = {uid: loaded.get(uid) for uid in resource.reads_sources}
            if any(value is None or value.max_loaded_at is None for value in found.values()):
                return None  # dbt could not tell whether a source has new rows: the node runs
            inputs["sources"] = {uid: value.max_loaded_at for uid, value in found.items() if value is not None}
        return NodeFingerprint(code=resource.code, inputs=canonical(inputs))

    def freshness_fingerprint(
        self, source_id: str, values: RunValues, loaded: Mapping[str, LoadedAt] | None
    ) -> NodeFingerprint | None:
        """A source freshness check's: its source's newest row and status, known only when sources were checked."""
        source = self.sources.get(source_id)
        found = loaded.get(source_id) if loaded is not None else None
        if source is None or found is None or found.max_loaded_at is None:
            return None  # its result depends on the clock: reused only against a fresh check
        inputs = {"target": values.target, "max_loaded_at": found.max_loaded_at, "status": found.status}
        return NodeFingerprint(code=source.code, inputs=canonical(inputs))


@dataclass(frozen=True, slots=True)
class LoadedAt:
    """What ``dbt source freshness`` found for one source."""

    max_loaded_at: str | None
    status: str


@dataclass(frozen=True)
class RunValues:
    """What one run gives every dbt node: ``--vars``, the project's ``vars:`` and the profile and target."""

    run_vars: Mapping[str, Any]
    project_vars: Mapping[str, Any]
    target: str

    def var(self, package: str, name: str) -> Any:
        """dbt's lookup: ``--vars``, then ``vars: {<package>: {name: ...}}``, then ``vars: {name: ...}``."""
        if name in self.run_vars:
            return self.run_vars[name]
        scoped = self.project_vars.get(package)
        if isinstance(scoped, Mapping) and name in scoped:
            return scoped[name]
        return self.project_vars.get(name)


def canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str, separators=(",", ":"))


def _digest(*parts: str) -> str:
    hasher = hashlib.sha256()
    for part in parts:
        hasher.update(part.encode())
        hasher.update(b"\0")
    return hasher.hexdigest()[:16]


# -- reading the manifest


class Digests:
    """The digest of each manifest file, computed once per version of the file (shared by a plugin's runners)."""

    def __init__(self) -> None:
        self._found: dict[Path, tuple[tuple[int, int], ManifestDigest]] = {}

    def get(self, path: Path, project_dir: Path, packages_dir: Path | None = None) -> ManifestDigest:
        stat = path.stat()
        key = (stat.st_mtime_ns, stat.st_size)
        known = self._found.get(path)
        if known is not None and known[0] == key:
            return known[1]
        raw = load_json_file(path, MANIFEST_LIMITS, ManifestError)
        installed = frozenset(
            entry.name for entry in (packages_dir.iterdir() if packages_dir and packages_dir.is_dir() else ())
        )
        digest = digest_manifest(raw, project_dir, installed)
        self._found[path] = (key, digest)
        return digest


def digest_manifest(
    raw: Mapping[str, Any], project_dir: Path | None = None, installed: frozenset[str] = frozenset()
) -> ManifestDigest:
    """The :class:`ManifestDigest` of a loaded ``manifest.json``.

    Args:
        project_dir: where large seeds' files are found.
        installed: the packages in the project's packages folder (a ``dbt_utils`` is the user's, not dbt's).
    """
    return _DigestBuilder(raw, project_dir, installed).build()


class _DigestBuilder:
    def __init__(self, raw: Mapping[str, Any], project_dir: Path | None, installed: frozenset[str]) -> None:
        self.raw = raw
        self.project_dir = project_dir
        metadata = raw.get("metadata") or {}
        self.adapter = str(metadata.get("adapter_type") or "")
        project = str(metadata.get("project_name") or "")
        self.macros: dict[str, Any] = {}
        internal: list[str] = []
        for uid, macro in _section(raw, "macros").items():
            package = str(macro.get("package_name") or "") if isinstance(macro, dict) else ""
            if package == "dbt" or (package.startswith("dbt_") and package not in installed and package != project):
                internal.append(f"{uid}={_digest(str(macro.get('macro_sql') or ''))}")
            else:
                self.macros[uid] = macro
        self.internal = _digest(*sorted(internal))
        self.macro_sql: dict[str, str] = {}
        self.closures: dict[str, frozenset[str]] = {}
        self.set_digests: dict[tuple[str, ...], tuple[str, tuple[str, ...]]] = {}
        self.by_name: dict[str, list[str]] = {}
        for uid, macro in self.macros.items():
            if isinstance(macro, dict):
                self.by_name.setdefault(str(macro.get("name")), []).append(uid)
        self.sources: dict[str, Source] = {}
        self.source_relations: dict[str, str] = {}

    def build(self) -> ManifestDigest:
        for uid, item in _section(self.raw, "sources").items():
            if isinstance(item, dict):
                self.sources[uid] = self._source(uid, item)
        resources: dict[str, Resource] = {}
        for section in ("nodes", "unit_tests", "saved_queries", "exposures", "functions"):
            for uid, item in _section(self.raw, section).items():
                if isinstance(item, dict):
                    resources[uid] = self._resource(item)
        return ManifestDigest(resources, self.sources)

    def _source(self, uid: str, item: Mapping[str, Any]) -> Source:
        config = item.get("config") or {}
        freshness = config.get("freshness") or item.get("freshness")
        loaded_at = config.get("loaded_at_field") or item.get("loaded_at_field")
        loaded_query = config.get("loaded_at_query") or item.get("loaded_at_query")
        relation = [item.get(key) for key in ("database", "schema", "identifier", "relation_name", "quoting")]
        self.source_relations[uid] = canonical(relation)
        code = _digest(canonical(_kept(item)), canonical(_kept_config(config)), canonical(freshness))
        selector = f"source:{item.get('package_name')}.{item.get('source_name')}.{item.get('name')}"
        return Source(code, selector, _has_rule(freshness) and bool(loaded_at or loaded_query))

    def _resource(self, item: Mapping[str, Any]) -> Resource:
        config = item.get("config") or {}
        depends = item.get("depends_on") or {}
        macros = [str(uid) for uid in depends.get("macros") or () if uid in self.macros]
        macros += self._materialization(item, config)
        macro_digest, macro_vars = self._macro_set(tuple(sorted(set(macros))))
        parents = [str(uid) for uid in depends.get("nodes") or ()]
        sources = [uid for uid in parents if uid in self.sources]
        columns = item.get("columns") or {}
        kept_columns = {  # a column only documented (no type, no constraint) changes nothing
            str(name): kept
            for name, column in (columns.items() if isinstance(columns, dict) else ())
            if isinstance(column, dict) and any(kept := [column.get(key) for key in _COLUMN_KEYS])
        }
        entry = {**_kept(item), "config": _kept_config(config), "columns": kept_columns, "parents": sorted(parents)}
        code = _digest(
            canonical(entry),
            macro_digest,
            self.internal,
            *(self.source_relations[uid] for uid in sorted(sources)),
            self._seed_content(item),
        )
        names = set(_VAR_CALL.findall(str(item.get("raw_code") or ""))) | set(macro_vars)
        return Resource(
            code=code,
            package=str(item.get("package_name") or ""),
            reads_vars=tuple(sorted(names - _PER_RUN)),
            reads_sources=tuple(sorted(uid for uid in sources if self.sources[uid].checkable)),
        )

    def _materialization(self, item: Mapping[str, Any], config: Mapping[str, Any]) -> list[str]:
        """The materialization macros that may build it: the adapter's own and the default."""
        kind = _MATERIALIZATION.get(str(item.get("resource_type"))) or config.get("materialized")
        if not kind:
            return []
        found = []
        for suffix in (self.adapter, "default"):
            found += [uid for uid in self.by_name.get(f"materialization_{kind}_{suffix}", []) if uid in self.macros]
        return found

    def _macro_set(self, macros: tuple[str, ...]) -> tuple[str, tuple[str, ...]]:
        """A digest of these macros and every macro they call, and the vars they read (memoized per set)."""
        known = self.set_digests.get(macros)
        if known is None:
            closure: set[str] = set()
            for uid in macros:
                closure |= self._closure(uid)
            ordered = sorted(closure)
            names = sorted({name for uid in ordered for name in _VAR_CALL.findall(self._sql(uid))})
            known = _digest(*(f"{uid}={_digest(self._sql(uid))}" for uid in ordered)), tuple(names)
            self.set_digests[macros] = known
        return known

    def _closure(self, root: str) -> frozenset[str]:
        """The macro and every macro it calls, through ``depends_on.macros`` (cycles allowed)."""
        if root in self.closures:
            return self.closures[root]
        seen: set[str] = set()
        stack = [root]
        while stack:
            uid = stack.pop()
            if uid in seen:
                continue
            seen.add(uid)
            if uid in self.closures:
                seen |= self.closures[uid]
                continue
            macro = self.macros.get(uid)
            if isinstance(macro, dict):
                calls = (macro.get("depends_on") or {}).get("macros") or ()
                stack.extend(str(child) for child in calls if child in self.macros)
        found = frozenset(seen)
        self.closures[root] = found
        return found

    def _sql(self, uid: str) -> str:
        if uid not in self.macro_sql:
            macro = self.macros.get(uid)
            self.macro_sql[uid] = str(macro.get("macro_sql") or "") if isinstance(macro, dict) else "<missing>"
        return self.macro_sql[uid]

    def _seed_content(self, item: Mapping[str, Any]) -> str:
        """A large seed's file content (dbt's checksum is then its path); empty for everything else."""
        checksum = item.get("checksum") or {}
        if item.get("resource_type") != "seed" or checksum.get("name") != _SEED_BY_PATH or self.project_dir is None:
            return ""
        path = self.project_dir / str(item.get("original_file_path") or "")
        if not path.is_file():
            return "<missing>"
        hasher = hashlib.sha256()
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                hasher.update(block)
        return hasher.hexdigest()


def _section(raw: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = raw.get(key)
    return value if isinstance(value, dict) else {}


def _kept(item: Mapping[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in item.items() if key not in IGNORED_KEYS}


def _kept_config(config: Mapping[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in config.items() if key not in IGNORED_CONFIG}


def _has_rule(freshness: Any) -> bool:
    """A ``warn_after`` or ``error_after`` with a count and a period (dbt's ``FreshnessThreshold.__bool__``)."""
    if not isinstance(freshness, dict):
        return False
    return any(
        isinstance(rule, dict) and rule.get("count") is not None and rule.get("period") is not None
        for rule in (freshness.get("warn_after"), freshness.get("error_after"))
    )
