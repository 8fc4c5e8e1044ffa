"""Small helpers for reading dbt's YAML files and the values resolved from them."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from dbt_adapter.rendering import has_jinja
from orchestrate_ext.errors import ConfigError


@dataclass(frozen=True, slots=True)
class Found:
    """A resolved value and where it came from, e.g. ``DBT_PROFILES_DIR``."""

    value: str
    source: str


def read_yaml(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path} does not exist") from None
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise ConfigError(f"{path}: not valid YAML{where}: {getattr(exc, 'problem', exc)}") from None


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
