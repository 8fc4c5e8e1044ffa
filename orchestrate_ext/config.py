"""Loading and validating ``orchestrate.yaml``.

The engine owns a few keys (``concurrency``, ``defaults``, ``state``, ``schedules``); every
other top-level key belongs to a plugin, which validates it with its own model.
Unknown keys and wrong types are errors naming the key and the file.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, TypeAdapter, ValidationError

from orchestrate_ext.clock import parse_duration
from orchestrate_ext.errors import ConfigError, did_you_mean
from orchestrate_ext.interfaces import Plugin, Workspace
from orchestrate_ext.scheduling.settings import ScheduleConfig

CONFIG_FILE = "orchestrate.yaml"

Duration = Annotated[float, BeforeValidator(parse_duration)]
"""Seconds, written in YAML as a number or a text like ``30s``, ``5m``, ``1h``."""


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Defaults(StrictModel):
    retries: int = Field(default=0, ge=0)
    retry_backoff: Duration = 10.0
    timeout: Duration | None = None


class StateConfig(StrictModel):
    path: str = ".orchestrate/state.db"


class CoreConfig(StrictModel):
    concurrency: int = Field(default=4, ge=1)
    defaults: Defaults = Defaults()
    state: StateConfig = StateConfig()
    schedules: list[ScheduleConfig] = []
    """When the pipeline (or a selection of it) runs by itself; see "Scheduling" in the README."""


@dataclass(frozen=True)
class WorkspaceConfig:
    """A validated ``orchestrate.yaml``: the engine's part and each plugin's."""

    workspace: Workspace
    core: CoreConfig
    sections: Mapping[str, Any]
    """Validated plugin sections, by top-level key; absent keys are absent."""

    @property
    def state_path(self) -> Path:
        return self.workspace.root / self.core.state.path


def find_config(project: Path | None) -> Path:
    """The ``orchestrate.yaml`` in ``project`` (default: the current directory)."""
    folder = (project or Path.cwd()).resolve()
    if folder.is_file():
        return folder
    path = folder / CONFIG_FILE
    if not path.is_file():
        raise ConfigError(
            f"no {CONFIG_FILE} in {folder}; run `orchestrate init` there, "
            "or pass --project pointing at the folder that has one"
        )
    return path


def load_config(path: Path, plugins: Mapping[str, Plugin]) -> WorkspaceConfig:
    """Read and validate ``path``; ``plugins`` maps config keys to plugins."""
    raw = _read_yaml(path)
    core_keys = set(CoreConfig.model_fields)
    allowed = sorted(core_keys | set(plugins))
    for key in raw:
        if key not in allowed:
            hint = did_you_mean(str(key), allowed) or f"; allowed keys: {', '.join(allowed)}"
            raise ConfigError(f"{path}: unknown key '{key}'{hint}")
    core_raw = {key: value for key, value in raw.items() if key in core_keys}
    core = _validate(CoreConfig, core_raw, path, prefix="")
    sections = {
        key: _validate(plugin.config_model, raw[key] if raw[key] is not None else {}, path, prefix=key)
        for key, plugin in plugins.items()
        if key in raw
    }
    root = path.parent
    workspace = Workspace(
        root=root,
        config_path=path,
        state_dir=(root / core.state.path).parent,
    )
    return WorkspaceConfig(workspace=workspace, core=core, sections=sections)


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(f"{path}: not valid YAML{where}: {getattr(exc, 'problem', exc)}") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the file must be a mapping of keys to values, not {type(data).__name__}")
    return data


def _validate(model: Any, value: Any, path: Path, prefix: str) -> Any:
    try:
        return TypeAdapter(model).validate_python(value)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, str(path), prefix)) from exc


def format_validation_error(exc: ValidationError, source: str, prefix: str = "") -> str:
    """One line per problem: ``source: key 'a.b': what is wrong (got X)``."""
    lines = []
    for error in exc.errors():
        parts = [prefix] if prefix else []
        parts += [str(part) for part in error["loc"]]
        key = ".".join(parts) or "(top level)"
        if error["type"] == "extra_forbidden":
            lines.append(f"{source}: unknown key '{key}'; remove it or check its spelling")
        else:
            got = error.get("input")
            shown = "" if isinstance(got, dict) else f" (got {got!r})"
            lines.append(f"{source}: key '{key}': {error['msg']}{shown}")
    return "\n".join(lines)
