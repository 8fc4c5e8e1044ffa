"""Small helpers for reading dbt's YAML files and the values resolved from them."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dbt_adapter.rendering import has_jinja
from orchestrate_ext.errors import ConfigError
from orchestrate_ext.safe_load import CONFIG_LIMITS, load_yaml_file


@dataclass(frozen=True, slots=True)
class Found:
    """A resolved value and where it came from, e.g. ``DBT_PROFILES_DIR``."""

    value: str
    source: str


def read_yaml(path: Path) -> Any:
    """A dbt YAML file (dbt_project.yml, profiles.yml, packages.yml) through the engine's safe loader."""
    if not path.is_file():
        raise ConfigError(f"{path} does not exist")
    return load_yaml_file(path, CONFIG_LIMITS, ConfigError)


def first(*candidates: tuple[str | None, str]) -> Found:
    for value, source in candidates:
        if value:
            return Found(value, source)
    return Found("", "")


def text(value: Any) -> str | None:
    if value is None or has_jinja(value):
        return None
    return str(value)


def absolute(base: Path, value: str) -> Path:
    path = Path(os.path.expanduser(value))
    return path if path.is_absolute() else (base / path).resolve()
