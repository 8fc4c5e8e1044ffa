"""Where a dbt project is and how to invoke dbt on it."""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from pydantic import Field

from orchestrate_ext.config import StrictModel
from orchestrate_ext.errors import ConfigError
from orchestrate_ext.interfaces import Workspace
from orchestrate_ext.model import Node
from orchestrate_ext.secrets import node_environment


class DbtConfig(StrictModel):
    """The ``dbt:`` section of orchestrate.yaml; paths are relative to that file."""

    project_dir: str = "."
    profiles_dir: str | None = None
    target: str | None = None
    resources: list[str] = Field(default_factory=lambda: ["warehouse"])
    """Exclusive resources every dbt invocation holds (DuckDB allows one writer per file)."""
    executable: str | None = None


@dataclass(frozen=True)
class DbtProject:
    project_dir: Path
    profiles_dir: Path | None
    target: str | None
    executable: str
    resources: tuple[str, ...]
    workspace_root: Path
    secret_env: frozenset[str] = frozenset()
    """Variables orchestrate.yaml names as secrets: dbt does not get them (see :meth:`env`)."""

    @classmethod
    def from_config(cls, workspace: Workspace, config: DbtConfig) -> DbtProject:
        project_dir = (workspace.root / config.project_dir).resolve()
        if not (project_dir / "dbt_project.yml").is_file():
            raise ConfigError(
                f"{workspace.config_path}: key 'dbt.project_dir': {project_dir} has no dbt_project.yml; "
                "point it at the folder of your dbt project"
            )
        profiles_dir = (workspace.root / config.profiles_dir).resolve() if config.profiles_dir else None
        if profiles_dir and not (profiles_dir / "profiles.yml").is_file():
            raise ConfigError(f"{workspace.config_path}: key 'dbt.profiles_dir': {profiles_dir} has no profiles.yml")
        return cls(
            project_dir=project_dir,
            profiles_dir=profiles_dir,
            target=config.target,
            executable=config.executable or _default_executable(),
            resources=tuple(config.resources),
            workspace_root=workspace.root,
            secret_env=workspace.secret_env,
        )

    @property
    def manifest_path(self) -> Path:
        return self.project_dir / "target" / "manifest.json"

    def argv(self, command: str, *args: str, variables: Mapping[str, object] | None = None) -> list[str]:
        """The argument list of one dbt command (run without a shell)."""
        argv = [self.executable, command, "--project-dir", str(self.project_dir)]
        if self.profiles_dir:
            argv += ["--profiles-dir", str(self.profiles_dir)]
        if self.target:
            argv += ["--target", self.target]
        if variables:
            argv += ["--vars", json.dumps(dict(variables))]
        return argv + list(args)

    def env(self, nodes: Sequence[Node] = ()) -> dict[str, str]:
        """dbt's environment: the engine's node environment for ``nodes`` (secrets withheld)."""
        env = node_environment(self.secret_env, nodes)
        env.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
        return env


def _default_executable() -> str:
    beside_python = Path(sys.executable).with_name("dbt")
    if beside_python.exists():
        return str(beside_python)
    found = shutil.which("dbt")
    if found is None:
        raise ConfigError("dbt is not installed; install dbt-core and an adapter (e.g. `pip install dbt-duckdb`)")
    return found
