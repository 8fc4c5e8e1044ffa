"""The ``dbt:`` section of orchestrate.yaml and how to invoke dbt on the project it names.

Every dbt command is run in the project folder with the profiles dir and
target path resolved by :mod:`dbt_adapter.resolution` passed explicitly, so
the manifest orchestrate-ext reads is the one dbt writes.
"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import Field

from dbt_adapter.entry import DBT_MAIN
from dbt_adapter.rendering import SECRET_ENV_PREFIX
from dbt_adapter.resolution import DbtSettings, resolve
from orchestrate_ext.config import StrictModel
from orchestrate_ext.errors import ConfigError
from orchestrate_ext.interfaces import Workspace
from orchestrate_ext.launcher import WORKER_PYTHON
from orchestrate_ext.model import Node
from orchestrate_ext.secrets import node_environment


class DbtConfig(StrictModel):
    """The ``dbt:`` section of orchestrate.yaml; paths are relative to that file.

    Leave a key out to get what dbt does on its own (``DBT_*`` variables,
    dbt_project.yml, dbt's defaults); see :mod:`dbt_adapter.resolution`.
    """

    project_dir: str = "."
    profiles_dir: str | None = None
    profile: str | None = None
    target: str | None = None
    target_path: str | None = None
    vars: dict[str, Any] = Field(default_factory=dict)
    """Passed to every dbt command as ``--vars`` (with the run's ``logical_date`` and ``run_id`` when read)."""
    warn_blocks: bool = False
    """Treat a dbt warning (a ``severity: warn`` test, a ``warn`` freshness) as a failure that blocks dependants."""
    resources: list[str] = Field(default_factory=lambda: ["warehouse"])
    """Exclusive resources every dbt invocation holds (DuckDB allows one writer per file)."""
    executable: str | None = None


@dataclass(frozen=True)
class DbtProject:
    settings: DbtSettings
    program: tuple[str, ...]
    """dbt's command: ``dbt.executable``, else :data:`~dbt_adapter.entry.DBT_MAIN`, run where the try runs."""
    resources: tuple[str, ...]
    workspace_root: Path
    profile_override: str | None = None
    target_override: str | None = None
    warn_blocks: bool = False
    config_path: Path | None = field(default=None, compare=False)
    secret_env: frozenset[str] = frozenset()
    """Variables orchestrate.yaml names as secrets: dbt does not get them (see :meth:`env`)."""

    @classmethod
    def from_config(
        cls, workspace: Workspace, config: DbtConfig, environ: Mapping[str, str] | None = None
    ) -> DbtProject:
        project_dir = (workspace.root / config.project_dir).resolve()
        if not (project_dir / "dbt_project.yml").is_file():
            raise ConfigError(
                f"{workspace.config_path}: key 'dbt.project_dir': {project_dir} has no dbt_project.yml; "
                "point it at the folder of your dbt project"
            )
        profiles_dir = (workspace.root / config.profiles_dir).resolve() if config.profiles_dir else None
        if profiles_dir and not (profiles_dir / "profiles.yml").is_file():
            raise ConfigError(f"{workspace.config_path}: key 'dbt.profiles_dir': {profiles_dir} has no profiles.yml")
        settings = resolve(
            project_dir,
            profiles_dir=profiles_dir,
            profile=config.profile,
            target=config.target,
            target_path=(workspace.root / config.target_path).resolve() if config.target_path else None,
            cli_vars=config.vars,
            environ=environ,
            config_name=workspace.config_path.name,
        )
        return cls(
            settings=settings,
            program=(config.executable,) if config.executable else _dbt_here(),
            resources=tuple(config.resources),
            workspace_root=workspace.root,
            profile_override=config.profile,
            target_override=config.target,
            warn_blocks=config.warn_blocks,
            config_path=workspace.config_path,
            secret_env=workspace.secret_env,
        )

    @property
    def controls_hooks(self) -> bool:
        """True when dbt runs through :mod:`dbt_adapter.entry`, which can be told which project hooks to run."""
        return self.program[-1:] == (DBT_MAIN,)

    @property
    def project_dir(self) -> Path:
        return self.settings.project_dir

    @property
    def manifest_path(self) -> Path:
        return self.settings.manifest_path

    def argv(self, command: str, *args: str, variables: Mapping[str, object] | None = None) -> list[str]:
        """The argument list of one dbt command (run without a shell, in the project folder)."""
        argv = [*self.program, *command.split(), "--project-dir", str(self.project_dir)]
        if self.settings.profiles_dir:
            argv += ["--profiles-dir", self.settings.profiles_dir.value]
        argv += ["--target-path", self.settings.target_path.value]
        if self.profile_override:
            argv += ["--profile", self.profile_override]
        if self.target_override:
            argv += ["--target", self.target_override]
        merged = {**self.settings.vars, **(variables or {})}
        if merged:
            argv += ["--vars", json.dumps(merged, sort_keys=True, default=str)]
        return argv + list(args)

    def env(self, nodes: Sequence[Node] = ()) -> dict[str, str]:
        """dbt's environment: the engine's node environment for ``nodes`` (secrets withheld, but for
        ``DBT_ENV_SECRET_*``: dbt's own credentials, which ``profiles.yml`` reads)."""
        env = node_environment(self.secret_env, nodes, given_prefixes=(SECRET_ENV_PREFIX,))
        env.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
        return env


def _dbt_here() -> tuple[str, ...]:
    if importlib.util.find_spec("dbt.cli") is None:
        raise ConfigError("dbt is not installed; install dbt-core and an adapter (e.g. `pip install dbt-duckdb`)")
    return (WORKER_PYTHON, "-c", DBT_MAIN)
