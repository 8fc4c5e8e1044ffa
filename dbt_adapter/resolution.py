"""Everything about a dbt project resolved the way dbt resolves it, in one place.

Precedence for each setting (first found wins), as in dbt-core 1.10/1.11:

================= ============================ ==================== ============================= ===============
setting           orchestrate.yaml (the flag)  environment          dbt_project.yml / profiles    dbt's default
================= ============================ ==================== ============================= ===============
profiles dir      ``dbt.profiles_dir``         ``DBT_PROFILES_DIR`` --                            project folder if it
                  (``--profiles-dir``)                                                            has profiles.yml, else
                                                                                                  ``~/.dbt``
profile           ``dbt.profile``              ``DBT_PROFILE``      ``profile:``                  (error)
target            ``dbt.target``               ``DBT_TARGET``       the profile's ``target:``     ``default``
target path       ``dbt.target_path``          ``DBT_TARGET_PATH``  ``target-path:``              ``target``
log path          --                           ``DBT_LOG_PATH``     ``log-path:`` (not rendered)  ``logs``
packages path     --                           --                   ``packages-install-path:``    ``dbt_packages``
vars              ``dbt.vars`` (``--vars``)    --                   --                            ``{}``
================= ============================ ==================== ============================= ===============

Sources: ``dbt/cli/params.py`` (flags and their ``DBT_*`` variables),
``dbt/cli/resolvers.py`` (``default_profiles_dir``, ``default_log_path``),
``dbt/config/project.py`` (``create_project``: paths and their defaults),
``dbt/config/profile.py`` (``Profile.render_profile``: the target name).
dbt looks for ``profiles.yml`` in its working directory; orchestrate-ext runs
dbt in the project folder, so that folder is "the current folder" here.

``resolve`` reads ``dbt_project.yml`` and ``profiles.yml`` (a few ms) and
never raises for a broken profile: the problem is kept in
:attr:`DbtSettings.profile_problem` so that showing the graph does not need
credentials, while running and validating do (:meth:`DbtSettings.require_profile`).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dbt_adapter.profiles import PROFILES_FILE, PROJECT_FILE, ProfileResolver
from dbt_adapter.rendering import Renderer, RenderError
from dbt_adapter.values import Found, absolute, first, read_yaml, text
from orchestrate_ext.errors import ConfigError

_UNRENDERED_KEYS = {"on-run-start", "on-run-end", "query-comment", "vars"}
_HOOK_KEYS = {"pre-hook", "post-hook", "pre_hook", "post_hook"}
_CONFIG_BLOCKS = {"seeds", "models", "snapshots", "tests", "data_tests"}
_SOURCE_PATH_KEYS = {
    "model-paths": ["models"],
    "seed-paths": ["seeds"],
    "snapshot-paths": ["snapshots"],
    "analysis-paths": ["analyses"],
    "macro-paths": ["macros"],
    "test-paths": ["tests"],
    "function-paths": ["functions"],
}
"""dbt/config/project.py ``create_project``: each path setting and its default."""
_DEPRECATED_PATH_KEYS = {"model-paths": "source-paths", "seed-paths": "data-paths"}


@dataclass(frozen=True)
class DbtSettings:
    """One dbt project, resolved. Paths are absolute."""

    project_dir: Path
    project_name: str
    target_path: Found
    log_path: Found
    packages_install_path: Path
    source_paths: tuple[str, ...]
    """Folders dbt reads resources from, relative to the project (model-paths, seed-paths, ...)."""
    packages_file: Path | None
    """packages.yml or dependencies.yml, whichever declares ``packages``."""
    packages_declared: int
    vars: Mapping[str, Any] = field(default_factory=dict)
    profiles_dir: Found | None = None
    profile: Found | None = None
    target: Found | None = None
    profile_problem: str | None = None
    """Why dbt could not load the profile (missing file, profile, target or env var), if it could not."""
    adapter_type: str | None = None
    """The target's ``type`` (``duckdb``, ``postgres``, ...), when the profile could be loaded."""
    connection: Mapping[str, Any] | None = None
    """The target's rendered values without those that look secret (``password``, ``token``, ``*key*``...):
    what names its warehouse (host, port, account, path); None without a profile."""
    profile_digest: str | None = None
    """A digest of the profile and target names and the target's rendered values (secrets and ``threads``
    left out): what of the profile can change how dbt parses (dbt's ``profile_hash``); None without a profile."""

    @property
    def manifest_path(self) -> Path:
        return Path(self.target_path.value) / "manifest.json"

    @property
    def profiles_file(self) -> Path | None:
        return Path(self.profiles_dir.value) / PROFILES_FILE if self.profiles_dir else None

    def require_profile(self) -> None:
        """Raise ``ConfigError`` when dbt could not load the profile."""
        if self.profile_problem:
            raise ConfigError(self.profile_problem)

    def describe(self) -> list[str]:
        """What ``orchestrate validate`` and ``orchestrate init`` say about the project."""
        lines = []
        if self.profile and self.target and self.profiles_file:
            lines.append(
                f"dbt profile '{self.profile.value}' (from {self.profile.source}), "
                f"target '{self.target.value}' (from {self.target.source}), "
                f"in {self.profiles_file} (from {self.profiles_dir.source if self.profiles_dir else ''})"
            )
        lines.append(f"dbt manifest: {self.manifest_path} (target path from {self.target_path.source})")
        return lines


def resolve(
    project_dir: Path,
    *,
    profiles_dir: Path | None = None,
    profile: str | None = None,
    target: str | None = None,
    target_path: Path | None = None,
    cli_vars: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
    home: Path | None = None,
    config_name: str = "orchestrate.yaml",
) -> DbtSettings:
    """Resolve a dbt project as dbt would, given orchestrate.yaml's values (``None`` when unset).

    Raises:
        ConfigError: dbt_project.yml cannot be read, or a setting it needs cannot be rendered.
    """
    env = os.environ if environ is None else environ
    variables = dict(cli_vars or {})
    project_file = project_dir / PROJECT_FILE
    raw = read_yaml(project_file)
    if not isinstance(raw, dict):
        raise ConfigError(f"{project_file}: the file must be a mapping of keys to values")
    plain = Renderer(env, variables)
    profile_state = ProfileResolver(project_dir, project_file, env, variables, home, config_name)
    profile_state.resolve(profiles_dir, profile, target, lambda: _render_key(plain, raw, "profile", project_file))
    try:
        project = _render_project(raw, Renderer(env, variables, target=profile_state.target_context), project_file)
    except ConfigError:
        if profile_state.problem:  # e.g. target-path uses `target`, which needs the profile
            raise ConfigError(profile_state.problem) from None
        raise

    found_target_path = first(
        (str(target_path) if target_path else None, f"{config_name} dbt.target_path"),
        (env.get("DBT_TARGET_PATH"), "DBT_TARGET_PATH"),
        (text(project.get("target-path")), f"{PROJECT_FILE} target-path"),
        ("target", "dbt's default"),
    )
    found_log_path = first(
        (env.get("DBT_LOG_PATH"), "DBT_LOG_PATH"),
        (text(raw.get("log-path")), f"{PROJECT_FILE} log-path"),  # dbt reads it unrendered (resolvers.py)
        ("logs", "dbt's default"),
    )
    packages_file, declared = _declared_packages(project_dir)
    return DbtSettings(
        project_dir=project_dir,
        project_name=str(project.get("name") or ""),
        target_path=Found(str(absolute(project_dir, found_target_path.value)), found_target_path.source),
        log_path=Found(str(absolute(project_dir, found_log_path.value)), found_log_path.source),
        packages_install_path=absolute(project_dir, text(project.get("packages-install-path")) or "dbt_packages"),
        source_paths=_source_paths(project),
        packages_file=packages_file,
        packages_declared=declared,
        vars=variables,
        profiles_dir=profile_state.profiles_dir,
        profile=profile_state.profile,
        target=profile_state.target,
        profile_problem=profile_state.problem,
        adapter_type=_adapter_type(profile_state.target_context),
        profile_digest=_profile_digest(profile_state.target_context),
        connection=_connection(profile_state.target_context),
    )


def _profile_digest(target: Mapping[str, Any] | None) -> str | None:
    if target is None:
        return None
    kept = {key: value for key, value in target.items() if key != "threads"}  # dbt re-parses for neither
    text = json.dumps(kept, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _connection(target: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
    if target is None:
        return None
    return {key: value for key, value in target.items() if key not in ("name", "target_name", "profile_name")}


def _adapter_type(target: Mapping[str, Any] | None) -> str | None:
    kind = target.get("type") if target else None
    return kind if isinstance(kind, str) and kind.isidentifier() else None


def _render_project(raw: dict[str, Any], renderer: Renderer, path: Path) -> dict[str, Any]:
    """dbt_project.yml rendered except where dbt renders later (``DbtProjectYamlRenderer.should_render_keypath``).

    A missing env var anywhere is an error (dbt fails on it too); other failures
    matter only for the keys orchestrate-ext reads, which are rendered strictly.
    """
    rendered: dict[str, Any] = {}
    for key, value in raw.items():
        if key in _UNRENDERED_KEYS:
            rendered[key] = value
            continue
        try:
            rendered[key] = renderer.render_tree(value, skip=_late_rendered(key))
        except RenderError as exc:
            if exc.missing_env:
                raise ConfigError(
                    f"{path}: key '{key}' reads the environment variable {exc.missing_env}, which is not set; "
                    "export it (dbt needs it too)"
                ) from None
            if key in {"name", "target-path", "packages-install-path", *_SOURCE_PATH_KEYS}:
                raise ConfigError(
                    f"{path}: key '{key}' cannot be rendered ({exc}); orchestrate-ext renders env_var(), var() "
                    "and target like dbt. Set the value plainly, or in orchestrate.yaml where it has a key"
                ) from None
            rendered[key] = value  # not read here: dbt reports it if it matters
    return rendered


def _late_rendered(top: str) -> Any:
    def skip(path: tuple[str | int, ...]) -> bool:
        if top not in _CONFIG_BLOCKS:
            return False
        return any(isinstance(part, str) and part.lstrip("+ ") in _HOOK_KEYS for part in path)

    return skip


def _render_key(renderer: Renderer, raw: Mapping[str, Any], key: str, path: Path) -> Any:
    try:
        return renderer.render(raw.get(key))
    except RenderError as exc:
        raise ConfigError(f"{path}: key '{key}' cannot be rendered: {exc}") from None


def _source_paths(project: Mapping[str, Any]) -> tuple[str, ...]:
    found: list[str] = []
    for key, default in _SOURCE_PATH_KEYS.items():
        value = project.get(key)
        if value is None and key in _DEPRECATED_PATH_KEYS:
            value = project.get(_DEPRECATED_PATH_KEYS[key])
        values = [value] if isinstance(value, str) else value if isinstance(value, list) else default
        found += [str(item).rstrip("/") for item in values]
    docs = project.get("docs-paths")
    if isinstance(docs, list):
        found += [str(item).rstrip("/") for item in docs]
    return tuple(dict.fromkeys(found))


def _declared_packages(project_dir: Path) -> tuple[Path | None, int]:
    """The file declaring packages and how many (dbt/config/project.py ``package_and_project_data_from_root``)."""
    for name in ("dependencies.yml", "packages.yml"):
        path = project_dir / name
        if not path.is_file():
            continue
        data = read_yaml(path) or {}
        packages = data.get("packages") if isinstance(data, dict) else None
        if isinstance(packages, list) and packages:
            return path, len(packages)
    return None, 0
