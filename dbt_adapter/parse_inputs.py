"""What a manifest was parsed with, and whether dbt would parse again with today's inputs.

Files are not all dbt checks before it reuses a parse (``dbt/parser/manifest.py``,
``ManifestLoader.is_partial_parsable`` and ``build_manifest_state_check``; ``dbt/parser/partial.py``,
``build_env_vars_to_files``). It parses again when any of these differ from the saved parse:

- the dbt version;
- ``vars_hash``: sha256 of ``pprint.pformat(cli_vars)``, the ``--profile`` and ``--target`` flags
  (or ``DBT_PROFILE``/``DBT_TARGET``) and the dbt version, joined by NUL;
- ``project_env_vars_hash``: sha256 of ``NAME:value|`` for each ``env_var()`` dbt_project.yml reads
  (sorted; a variable read with its default counts as ``DBT_DEFAULT_PLACEHOLDER``);
- ``profile_hash``: the target's connection values;
- ``env_vars``: each ``env_var()`` a model, macro or properties file read, and its value.

:class:`ParseInputs` holds these for one parse. After our own ``dbt parse`` they are written to
``orchestrate_parse.json`` beside the manifest (env values only as digests, never in clear), keyed
by the manifest file's size and modification time. A manifest that key does not match was written
by another dbt command (the user's ``dbt seed --vars ...``, or a run's ``dbt build``): its inputs
are then read from dbt's own record of that parse, ``partial_parse.msgpack`` (its ``metadata``,
``state_check`` and ``env_vars``, the rest of the file skipped unread), exactly as dbt would judge
it. A manifest with neither record is of unknown provenance: stale once. A foreign manifest found
current is adopted (its record written) so the next check is the cheap one.

One exception, so that a project reading ``var('logical_date')`` is not parsed again after every
run: a manifest written by a run's own ``dbt build`` (its ``run_results.json`` of the same
invocation names the vars) whose vars are orchestrate.yaml's plus the run's ``logical_date`` or
``run_id`` counts as current. dbt parsed it with those vars; orchestrate-ext's own parse never
passes them, so parsing again could only differ for a project that enables nodes by the run's date.

Known gaps, each costing at most one extra parse and never a wrong graph: dbt_project.yml's
``env_var()`` names are found by a textual scan (a name dbt computes is missed; dbt's hash then
differs once); the profile of a foreign manifest cannot be compared without dbt's adapter classes
(the target name, which is in ``vars_hash`` when it is a flag, is); with ``dbt.executable`` the dbt
version is not known and not compared. The check reads two small files and the environment and
starts no process (see ``benchmarks/parse_check.py``).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import os
import pprint
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from dbt_adapter.project import DbtProject
from dbt_adapter.resolution import resolve
from orchestrate_ext.errors import ConfigError
from orchestrate_ext.launcher import WORKER_PYTHON

log = logging.getLogger(__name__)

STAMP_FILE = "orchestrate_parse.json"
PARTIAL_PARSE_FILE = "partial_parse.msgpack"
DEFAULT_ENV_PLACEHOLDER = "DBT_DEFAULT_PLACEHOLDER"
"""dbt/constants.py: what dbt records for an ``env_var()`` that fell back to its default."""
_STAMP_VERSION = 1
VARS_DIFFER = "the vars, profile or target differ from those it was parsed with"
PER_RUN_VARS = frozenset({"logical_date", "run_id"})
"""Vars a run gives its ``dbt build`` (when the project reads them) and never ``dbt parse``."""
_ENV_CALL = re.compile(r"""\benv_var\(\s*["']([A-Za-z_][A-Za-z0-9_]*)["']\s*(,)?""")
_VERSION_LINE = re.compile(r"""^version\s*=\s*["']([^"']+)["']""", re.MULTILINE)


@dataclass(frozen=True)
class ParseInputs:
    """What one parse of the project depended on besides its files."""

    dbt_version: str | None
    vars_hash: str
    """dbt's ``vars_hash`` (cli vars, profile and target flags, dbt version)."""
    project_env_hash: str
    """dbt's ``project_env_vars_hash``."""
    profile: str | None
    """:attr:`DbtSettings.profile_digest`; None when unknown (a manifest another dbt command wrote)."""
    env_vars: Mapping[str, str] = field(default_factory=dict)
    """Each ``env_var()`` the project's files read: a digest of its value (or of the placeholder)."""


def changed_input(
    recorded: ParseInputs,
    project: DbtProject,
    environ: Mapping[str, str],
    cli_vars: Mapping[str, Any] | None = None,
) -> str | None:
    """Why dbt would not reuse a parse made with ``recorded`` today, or None when it would.

    Args:
        cli_vars: the ``--vars`` to compare with (default: those orchestrate-ext parses with).
    """
    version = dbt_version(project) or recorded.dbt_version
    if recorded.dbt_version is not None and version != recorded.dbt_version:
        return f"dbt {version} differs from the dbt {recorded.dbt_version} that parsed it"
    if vars_hash(project, environ, version, cli_vars) != recorded.vars_hash and not (
        _flags(project, environ) != ("", "")
        and vars_hash(project, environ, version, cli_vars, flags=("", "")) == recorded.vars_hash
        and _same_without_flags(project, environ)
    ):
        return VARS_DIFFER
    if recorded.profile is not None and project.settings.profile_digest != recorded.profile:
        return "the profile's target changed"
    if project_env_hash(project.project_dir, environ) != recorded.project_env_hash:
        return "an environment variable dbt_project.yml reads changed"
    for name, digest in sorted(recorded.env_vars.items()):
        if _env_digest(environ.get(name)) != digest:  # unset now and read with its default then: unchanged
            return f"the environment variable {name}, read by the project's files, changed"
    return None


def current_inputs(project: DbtProject, environ: Mapping[str, str], env_names: list[str]) -> ParseInputs:
    """The inputs a parse made now has; ``env_names`` are the variables dbt recorded reading."""
    version = dbt_version(project)
    return ParseInputs(
        dbt_version=version,
        vars_hash=vars_hash(project, environ, version),
        project_env_hash=project_env_hash(project.project_dir, environ),
        profile=project.settings.profile_digest,
        env_vars={name: _env_digest(environ.get(name)) for name in env_names},
    )


def vars_hash(
    project: DbtProject,
    environ: Mapping[str, str],
    version: str | None,
    cli_vars: Mapping[str, Any] | None = None,
    flags: tuple[str, str] | None = None,
) -> str:
    """dbt's ``vars_hash`` for the command orchestrate-ext runs (:meth:`DbtProject.argv`).

    Args:
        flags: the ``--profile`` and ``--target`` flags (default: those orchestrate-ext passes).
    """
    cli_vars = parsed_vars(project.settings.vars if cli_vars is None else cli_vars)
    profile, target = _flags(project, environ) if flags is None else flags
    return _sha256("\x00".join([pprint.pformat(cli_vars), profile, target, version or ""]))


def _flags(project: DbtProject, environ: Mapping[str, str]) -> tuple[str, str]:
    """The ``--profile`` and ``--target`` dbt sees (the flags, else ``DBT_PROFILE``/``DBT_TARGET``)."""
    profile = project.profile_override or environ.get("DBT_PROFILE") or ""
    target = project.target_override or environ.get("DBT_TARGET") or ""
    return profile, target


def _same_without_flags(project: DbtProject, environ: Mapping[str, str]) -> bool:
    """Whether dbt without ``--profile``/``--target`` loads the very profile and target orchestrate-ext names.

    dbt's hash holds the flags, not what they resolve to: a user's plain ``dbt seed`` and orchestrate-ext's
    ``dbt.target: dev`` naming the default target parse alike, so such a manifest is current.
    """
    settings = project.settings
    plain = {name: value for name, value in environ.items() if name not in ("DBT_PROFILE", "DBT_TARGET")}
    profiles_dir = Path(settings.profiles_dir.value) if settings.profiles_dir else None
    try:
        found = resolve(project.project_dir, profiles_dir=profiles_dir, cli_vars=settings.vars, environ=plain)
    except ConfigError:
        return False
    return found.profile_problem is None and found.profile_digest == settings.profile_digest


def parsed_vars(cli_vars: Mapping[str, Any]) -> Any:
    """``--vars`` as dbt reads them back from the JSON orchestrate-ext passes."""
    return json.loads(json.dumps(dict(cli_vars), sort_keys=True, default=str))


def run_vars(manifest_path: Path, invocation_id: str | None, project: DbtProject) -> dict[str, Any] | None:
    """The ``--vars`` of a run's ``dbt build`` that wrote the manifest, when they are ours plus the run's own.

    Read from ``run_results.json`` of the same invocation; None when another command wrote the manifest,
    or with other vars than orchestrate.yaml's ``dbt.vars`` and :data:`PER_RUN_VARS`.
    """
    if not invocation_id:
        return None
    try:
        raw = json.loads((manifest_path.parent / "run_results.json").read_text(encoding="utf-8"))
        if raw["metadata"]["invocation_id"] != invocation_id:
            return None
        found = raw["args"].get("vars") or {}
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return None
    if not isinstance(found, dict) or not PER_RUN_VARS & found.keys():
        return None
    others = {name: value for name, value in found.items() if name not in PER_RUN_VARS}
    return found if others == parsed_vars(project.settings.vars) else None


def project_env_hash(project_dir: Path, environ: Mapping[str, str]) -> str:
    """dbt's ``project_env_vars_hash``, for the ``env_var()`` names found in dbt_project.yml."""
    try:
        text = (project_dir / "dbt_project.yml").read_text(encoding="utf-8", errors="replace")
    except OSError:
        text = ""
    values: dict[str, str] = {}
    for name, has_default in _ENV_CALL.findall(text):
        if name in environ:
            values[name] = environ[name]
        elif has_default:
            values[name] = DEFAULT_ENV_PLACEHOLDER
    return _sha256("".join(f"{name}:{values[name]}|" for name in sorted(values)))


def dbt_version(project: DbtProject) -> str | None:
    """The version of the dbt orchestrate-ext runs: this Python's (None with ``dbt.executable``).

    Read from ``dbt/__version__.py`` without importing dbt (its package import costs ≈ 17 ms).
    """
    if not project.program or project.program[0] != WORKER_PYTHON:
        return None
    spec = importlib.util.find_spec("dbt")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        path = Path(folder) / "__version__.py"
        if path.is_file():
            match = _VERSION_LINE.search(path.read_text(encoding="utf-8", errors="replace"))
            if match:
                return match.group(1)
    return None


# -- the two records


def read_stamp(manifest_path: Path) -> ParseInputs | None:
    """Our record of the parse that wrote ``manifest_path``; None when another command wrote the manifest since."""
    try:
        raw = json.loads((manifest_path.parent / STAMP_FILE).read_text(encoding="utf-8"))
        if raw.get("version") != _STAMP_VERSION or raw.get("manifest") != _file_key(manifest_path):
            return None
        return ParseInputs(**raw["inputs"])
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return None


def write_stamp(manifest_path: Path, inputs: ParseInputs) -> None:
    """Record ``inputs`` for the manifest as it is now; a folder we cannot write only costs a check next time."""
    target = manifest_path.parent / STAMP_FILE
    temporary = target.with_name(f".{STAMP_FILE}.{os.getpid()}")
    try:
        document = {"version": _STAMP_VERSION, "manifest": _file_key(manifest_path), "inputs": asdict(inputs)}
        temporary.write_text(json.dumps(document, indent=1, sort_keys=True), encoding="utf-8")
        os.replace(temporary, target)
    except OSError as exc:
        log.warning("cannot record what %s was parsed with in %s: %s", manifest_path, target, exc)


def dbt_state(target_dir: Path) -> tuple[ParseInputs, list[str]] | None:
    """dbt's own record of its newest parse (``partial_parse.msgpack``) and the env var names it read.

    Only ``metadata``, ``state_check`` and ``env_vars`` are decoded; None when the file is missing or unreadable.
    """
    path = target_dir / PARTIAL_PARSE_FILE
    try:
        import msgpack  # dbt-core's own dependency
    except ImportError:
        return None
    wanted: dict[str, Any] = {}
    try:
        with path.open("rb") as handle:
            unpacker = msgpack.Unpacker(handle, raw=False, strict_map_key=False, max_buffer_size=0)
            for _ in range(unpacker.read_map_header()):
                key = unpacker.unpack()
                if key in ("metadata", "state_check", "env_vars"):
                    wanted[key] = unpacker.unpack()
                    if len(wanted) == 3:
                        break
                else:
                    unpacker.skip()
        check = wanted["state_check"]
        env_vars = {str(name): str(value) for name, value in (wanted.get("env_vars") or {}).items()}
        inputs = ParseInputs(
            dbt_version=str(wanted["metadata"]["dbt_version"]),
            vars_hash=str(check["vars_hash"]["checksum"]),
            project_env_hash=str(check["project_env_vars_hash"]["checksum"]),
            profile=None,
            env_vars={name: _digest(value) for name, value in env_vars.items()},
        )
        return inputs, sorted(env_vars)
    except (OSError, ValueError, TypeError, KeyError, msgpack.UnpackException):
        return None


def _file_key(path: Path) -> list[int]:
    stat = path.stat()
    return [stat.st_mtime_ns, stat.st_size]


def _env_digest(value: str | None) -> str:
    return _digest(DEFAULT_ENV_PLACEHOLDER if value is None else value)


def _digest(value: str) -> str:
    return _sha256(value)[:16]


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
