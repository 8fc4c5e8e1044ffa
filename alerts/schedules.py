"""Each schedule's time zone and SLA, read from the ``schedules:`` key of orchestrate.yaml.

The scheduler validates that key; the alerts only need three fields of each
schedule (``name``, ``timezone``, ``sla``), read tolerantly here (through the
engine's safe loader) so the two plugins stay independent. Both shapes are accepted: a list of schedules
with a ``name`` each, or a mapping of names to schedules.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import ValidationError

from alerts.sla import ScheduleSla
from orchestrate_ext.config import format_validation_error
from orchestrate_ext.errors import ConfigError
from orchestrate_ext.safe_load import load_yaml_file
from orchestrate_ext.sla import SlaSettings

SCHEDULES_KEY = "schedules"


def _entries(raw: Any) -> list[tuple[str, dict[str, Any]]]:
    if isinstance(raw, dict):
        return [(str(name), spec) for name, spec in raw.items() if isinstance(spec, dict)]
    if isinstance(raw, list):
        return [(str(spec["name"]), spec) for spec in raw if isinstance(spec, dict) and spec.get("name")]
    return []


def schedule_slas(config_path: Path) -> dict[str, ScheduleSla]:
    """The schedules of ``config_path`` by name; raises ``ConfigError`` for an invalid ``sla``."""
    try:
        document = load_yaml_file(config_path) or {}  # the engine's safe loader (size, depth, aliases)
    except ConfigError:
        return {}  # the configuration loader reports these
    if not isinstance(document, dict):
        return {}
    found = {}
    for name, spec in _entries(document.get(SCHEDULES_KEY)):
        sla = None
        if spec.get("sla") is not None:
            try:
                sla = SlaSettings.model_validate(spec["sla"])
            except ValidationError as exc:
                raise ConfigError(
                    format_validation_error(exc, str(config_path), prefix=f"{SCHEDULES_KEY}.{name}.sla")
                ) from exc
        zone = spec.get("timezone") or spec.get("tz") or "UTC"
        found[name] = ScheduleSla(name=name, timezone=str(zone), sla=sla)
    return found
