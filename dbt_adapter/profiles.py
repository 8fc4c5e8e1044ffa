"""The profile dbt loads: its folder, name and target, found as ``dbt.config.profile.Profile.render`` finds them.

Only the selected output of the selected profile is rendered (as dbt does, so
that a missing variable in another target is no error); its values are never
shown in an error, since they may be secrets.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from dbt_adapter.rendering import Renderer, RenderError
from dbt_adapter.values import Found, absolute, first, read_yaml, text
from orchestrate_ext.errors import ConfigError

PROJECT_FILE = "dbt_project.yml"
PROFILES_FILE = "profiles.yml"
_SECRET_WORDS = ("pass", "secret", "token", "key", "credential")


class ProfileResolver:
    """Profiles dir, profile and target as ``dbt.config.profile.Profile.render`` finds them."""

    def __init__(
        self,
        project_dir: Path,
        project_file: Path,
        env: Mapping[str, str],
        variables: Mapping[str, Any],
        home: Path | None,
        config_name: str,
    ) -> None:
        self.project_dir = project_dir
        self.project_file = project_file
        self.env = env
        self.variables = variables
        self.home = home if home is not None else Path.home()
        self.config_name = config_name
        self.profiles_dir: Found | None = None
        self.profile: Found | None = None
        self.target: Found | None = None
        self.target_context: dict[str, Any] | None = None
        self.problem: str | None = None

    def resolve(
        self, profiles_dir: Path | None, profile: str | None, target: str | None, from_project: Callable[[], Any]
    ) -> None:
        try:
            self._resolve(profiles_dir, profile, target, from_project)
        except ConfigError as exc:
            self.problem = str(exc)

    def _resolve(
        self, profiles_dir: Path | None, profile: str | None, target: str | None, from_project: Callable[[], Any]
    ) -> None:
        self.profiles_dir = self._profiles_dir(profiles_dir)
        profile_file = Path(self.profiles_dir.value) / PROFILES_FILE
        self.profile = first(
            (profile, f"{self.config_name} dbt.profile"),
            (self.env.get("DBT_PROFILE"), "DBT_PROFILE"),
            (text(from_project()), PROJECT_FILE),
        )
        if not self.profile.value:
            raise ConfigError(
                f"{self.project_file} names no profile; add `profile: <name>` to it, "
                f"or set dbt.profile in {self.config_name}"
            )
        if not profile_file.is_file():
            raise ConfigError(
                f"{profile_file} does not exist (profiles dir from {self.profiles_dir.source}); "
                f"create it with a profile '{self.profile.value}', or point DBT_PROFILES_DIR "
                f"(or dbt.profiles_dir in {self.config_name}) at the folder that has your profiles.yml"
            )
        profiles = read_yaml(profile_file) or {}
        name = self.profile.value
        raw_profile = profiles.get(name) if isinstance(profiles, dict) else None
        if not isinstance(raw_profile, dict):
            names = profiles if isinstance(profiles, dict) else {}
            known = ", ".join(sorted(str(key) for key in names if key != "config"))
            raise ConfigError(
                f"{profile_file} has no profile '{name}' (profile from {self.profile.source}); "
                f"profiles there: {known or 'none'}. Add it, or point DBT_PROFILES_DIR "
                f"(or dbt.profiles_dir in {self.config_name}) at the folder that has it"
            )
        secret = Renderer(self.env, self.variables, secrets_allowed=True)
        self.target = first(
            (target, f"{self.config_name} dbt.target"),
            (self.env.get("DBT_TARGET"), "DBT_TARGET"),
            (
                text(_render_profile_value(secret, raw_profile.get("target"), profile_file, name, "target")),
                f"the default target of profile '{name}'",
            ),
            ("default", "dbt's default"),
        )
        outputs = raw_profile.get("outputs")
        output = outputs.get(self.target.value) if isinstance(outputs, dict) else None
        if not isinstance(output, dict):
            known = ", ".join(sorted(map(str, outputs))) if isinstance(outputs, dict) else ""
            raise ConfigError(
                f"{profile_file}: profile '{name}' has no target '{self.target.value}' "
                f"(target from {self.target.source}); its targets: {known or 'none'}. "
                f"Set DBT_TARGET or dbt.target in {self.config_name} to one of them"
            )
        rendered = {
            key: _render_profile_value(secret, value, profile_file, name, f"outputs.{self.target.value}.{key}")
            for key, value in output.items()
        }
        self.target_context = {
            **{key: value for key, value in rendered.items() if not _looks_secret(key)},
            "name": self.target.value,
            "target_name": self.target.value,
            "profile_name": name,
        }

    def _profiles_dir(self, configured: Path | None) -> Found:
        if configured is not None:
            return Found(str(configured), f"{self.config_name} dbt.profiles_dir")
        from_env = self.env.get("DBT_PROFILES_DIR")
        if from_env:
            return Found(str(absolute(self.project_dir, from_env)), "DBT_PROFILES_DIR")
        if (self.project_dir / PROFILES_FILE).is_file():
            return Found(str(self.project_dir), "the dbt project folder")
        return Found(str(self.home / ".dbt"), "dbt's default, ~/.dbt")


def _render_profile_value(renderer: Renderer, value: Any, path: Path, profile: str, key: str) -> Any:
    """A profile value rendered; the error names the key and never shows the value (it may be a secret)."""
    try:
        return renderer.render_tree(value)
    except RenderError as exc:
        if exc.missing_env:
            raise ConfigError(
                f"{path}: profile '{profile}', key '{key}' reads the environment variable "
                f"{exc.missing_env}, which is not set; export it, or point DBT_PROFILES_DIR at a profiles.yml "
                "that works here"
            ) from None
        raise ConfigError(f"{path}: profile '{profile}', key '{key}' cannot be rendered: {exc}") from None


def _looks_secret(key: str) -> bool:
    lowered = key.lower()
    return any(word in lowered for word in _SECRET_WORDS)
