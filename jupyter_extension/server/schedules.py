"""Scheduling a notebook: checking a request and writing it into the notebook's metadata.

``POST /orchestrate/api/schedules`` takes a body like::

    {"notebook": "reports/daily.ipynb", "cron": "0 7 * * 1-5", "timezone": "Europe/Berlin",
     "parameters": {"top_n": 5}, "depends_on": ["daily_revenue"], "owner": "ana@example.com"}

Keys present in the body are set (``null`` removes the key), absent keys are
left as they are. The body itself is strict: unknown keys (also inside each
alert route), wrong types and out-of-range numbers (``retries`` 0 to 100, a
``timeout`` up to ten years) are a 400 naming the key. Nothing is written
unless the whole result is valid: the same checks ``orchestrate validate``
makes (the metadata model, every dependency resolving, no cycle), with the
same messages.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, JsonValue, ValidationError, field_validator

from jupyter_extension.notebook_meta import NotebookSettings
from jupyter_extension.plugin import HELD_SCHEDULE, node_id_for
from jupyter_extension.server import cron
from jupyter_extension.server.errors import FieldError
from jupyter_extension.server.notebook_file import (
    INJECTED_PARAMETERS,
    orchestrate_metadata,
    parameters_cell,
    read_document,
    write_metadata,
)
from jupyter_extension.server.paths import resolve_notebook
from orchestrate_ext.clock import parse_duration
from orchestrate_ext.config import MAX_RETRIES, format_validation_error
from orchestrate_ext.errors import BadInput, ConfigError
from orchestrate_ext.parameters import parameter_name_problem
from orchestrate_ext.partial_graph import build_partial_graph
from orchestrate_ext.project import Project

SCHEDULE_KEYS = ("schedule", "timezone", "scheduled_as")


class AlertRouteRequest(BaseModel):
    """One alert route of a notebook (the alerts plugin checks the values when the project loads)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    on: str | list[str] | None = None
    slack: str | None = None
    email: str | list[str] | None = None


class ScheduleRequest(BaseModel):
    """The body of ``POST /orchestrate/api/schedules``."""

    model_config = ConfigDict(extra="forbid", strict=True)

    notebook: str
    cron: str | None = None
    timezone: str | None = None
    parameters: dict[str, JsonValue] | None = None
    depends_on: list[str] | None = None
    owner: str | None = None
    retries: int | None = Field(default=None, ge=0, le=MAX_RETRIES)
    timeout: str | float | int | None = None
    alerts: list[AlertRouteRequest] | None = None
    sla: dict[str, JsonValue] | None = None

    @field_validator("timeout")
    @classmethod
    def _a_duration(cls, value: str | float | None) -> str | float | None:
        if value is not None:
            parse_duration(value)
        return value

    def value_of(self, key: str) -> Any:
        """The request's value for ``key`` as plain data (alert routes as mappings of the keys given)."""
        if key == "alerts" and self.alerts:
            return [route.model_dump(exclude_unset=True) for route in self.alerts]
        return getattr(self, key)

    @classmethod
    def parse(cls, body: object) -> ScheduleRequest:
        try:
            return cls.model_validate(body)
        except ValidationError as exc:
            raise BadInput(format_validation_error(exc, "request body")) from None


def supported_keys() -> list[str]:
    """Metadata keys this installation's notebook settings accept."""
    return sorted(NotebookSettings.model_fields)


def check_parameters(parameters: dict[str, Any]) -> None:
    """Names must be Python identifiers (not keywords) that orchestrate-ext does not set itself."""
    for name in parameters:
        if problem := parameter_name_problem(name):
            raise BadInput(problem)


def _require(key: str) -> None:
    if key not in supported_keys():
        raise BadInput(
            f"this installation of orchestrate-ext has no notebook setting 'orchestrate.{key}'; "
            "remove it from the request or upgrade orchestrate-ext"
        )


def _empty(value: object) -> bool:
    return value is None or value == [] or value == {} or value == ""


def updated_settings(request: ScheduleRequest, current: dict[str, Any]) -> dict[str, Any]:
    """``current`` metadata with the request's keys applied (and checked where the API knows best)."""
    settings = dict(current)
    fields = request.model_fields_set - {"notebook"}
    for field in sorted(fields - {"cron", "timezone"}):
        _require(field)
        value = request.value_of(field)
        if _empty(value):
            settings.pop(field, None)
            continue
        if field == "parameters":
            check_parameters(value)
        settings[field] = value
    if fields & {"cron", "timezone"}:
        _apply_schedule(settings, request, fields)
    return settings


def _apply_schedule(settings: dict[str, Any], request: ScheduleRequest, fields: set[str]) -> None:
    """Write ``schedule`` (a cron string, or the ``cron`` of a schedule mapping) and its time zone."""
    _require("schedule")
    if "cron" in fields and _empty(request.cron):
        settings.pop("schedule", None)
        settings.pop("timezone", None)
        return
    # The cron text and the time zone are checked with the rest, by the metadata model (the CLI's messages).
    cron_text = " ".join(request.cron.split()) if "cron" in fields and request.cron else None
    timezone = request.timezone if "timezone" in fields else None
    existing = settings.get("schedule")
    if cron_text is None and existing is None:
        raise BadInput(f"notebook '{request.notebook}' has no schedule; give 'cron' together with 'timezone'")
    if isinstance(existing, dict):
        mapping = dict(existing)
        if cron_text is not None:
            mapping["cron"] = cron_text
        if "timezone" in fields:
            mapping.pop("timezone", None)
            if timezone:
                mapping["timezone"] = timezone
        settings["schedule"] = mapping
        settings.pop("timezone", None)
        return
    if cron_text is not None:
        settings["schedule"] = cron_text
    if "timezone" in fields:
        settings.pop("timezone", None)
        if timezone:
            _require("timezone")
            settings["timezone"] = timezone


def save_schedule(project: Project, root: Path, request: ScheduleRequest) -> dict[str, Any]:
    """Check ``request`` against the project and write it into the notebook; return the new state."""
    path, relative = resolve_notebook(root, project.root, request.notebook)
    label = relative
    document = read_document(path, label)
    settings = updated_settings(request, orchestrate_metadata(document, label))
    if "parameters" in request.model_fields_set and request.parameters:
        _check_known_parameters(path, label, request.parameters)
    if settings.get("schedule"):
        settings["scheduled_as"] = relative  # a copy of the notebook will not fire until saved for its own path
    else:
        settings.pop("scheduled_as", None)
    parsed = _validated(settings, label)
    _check_graph(project, relative, parsed)
    write_metadata(path, document, settings)
    return {"notebook": request.notebook, "node_id": node_id_for(relative), "metadata": settings}


def remove_schedule(project: Project, root: Path, notebook: str) -> dict[str, Any]:
    """Remove the schedule keys (and only those) from a notebook's metadata."""
    path, relative = resolve_notebook(root, project.root, notebook)
    document = read_document(path, relative)
    settings = orchestrate_metadata(document, relative)
    if not any(key in settings for key in SCHEDULE_KEYS):
        raise BadInput(f"notebook '{notebook}' has no schedule")
    for key in SCHEDULE_KEYS:
        settings.pop(key, None)
    write_metadata(path, document, settings)
    return {"notebook": notebook, "node_id": node_id_for(relative), "metadata": settings}


def _field(location: tuple[int | str, ...]) -> str | None:
    """The request key a metadata error belongs to: ``("schedule", "cron")`` → ``cron``."""
    if not location:
        return None
    key = str(location[0])
    if key == "schedule":
        return "timezone" if len(location) > 1 and location[1] == "timezone" else "cron"
    if key == "sla" and len(location) > 1:
        return f"sla.{location[1]}"
    return key


def _validated(settings: dict[str, Any], label: str) -> NotebookSettings:
    """The new metadata, validated; an error names the field of the dialog it belongs to."""
    try:
        return NotebookSettings.model_validate(settings)
    except ValidationError as exc:
        message = format_validation_error(exc, f"notebook '{label}' metadata", prefix="orchestrate")
        first = exc.errors()[0]
        field = _field(tuple(first["loc"]))
        if field is None:
            raise ConfigError(message) from None
        raise FieldError(message, field, str(first["msg"]).removeprefix("Value error, ")) from None


def _check_known_parameters(path: Path, label: str, parameters: dict[str, Any]) -> None:
    """Every parameter must be a variable of the notebook's parameters cell (when it has one)."""
    cell = {entry["name"] for entry in parameters_cell(path)}
    if not cell:
        return
    unknown = sorted(set(parameters) - cell)
    if unknown:
        known = ", ".join(sorted(cell - set(INJECTED_PARAMETERS)))
        raise BadInput(
            f"notebook '{label}' has no parameter '{unknown[0]}' in its parameters cell (it has {known}); "
            f"add `{unknown[0]} = ...` to the cell tagged 'parameters', or remove the parameter"
        )


def _check_graph(project: Project, relative: str, settings: NotebookSettings) -> None:
    """This notebook, with its new dependencies, must not be broken in the project's graph.

    Other broken notebooks do not stop the save (that is how they get fixed, one by one).
    """
    graph = project.partial_graph.graph
    node_id = node_id_for(relative)
    node = graph.nodes.get(node_id)
    if node is None:
        raise ConfigError(
            f"notebook '{relative}' is not part of the pipeline: no pattern of `notebooks.include` in "
            f"{project.config.workspace.config_path.name} matches it; add one, then schedule it"
        )
    changed = dataclasses.replace(node, depends_on=tuple(settings.depends_on), produces=tuple(settings.produces))
    result = build_partial_graph([changed if other.id == node_id else other for other in graph.nodes.values()])
    if node_id in result.broken:
        raise ConfigError(result.broken[node_id])


def notebook_form(project: Project, root: Path, notebook: str) -> dict[str, Any]:
    """What the Schedule dialog starts from: current metadata, parameters cell, membership."""
    path, relative = resolve_notebook(root, project.root, notebook)
    document = read_document(path, relative)
    node_id = node_id_for(relative)
    partial = project.partial_graph
    node = partial.graph.nodes.get(node_id)
    held = node.settings.get(HELD_SCHEDULE) if node is not None else None
    return {
        "notebook": notebook,
        "node_id": node_id,
        "in_pipeline": node is not None,
        "problem": partial.broken.get(node_id),
        "copy_of": held["copy_of"] if held else None,
        "metadata": orchestrate_metadata(document, relative),
        "parameters_cell": parameters_cell(path),
        "injected_parameters": list(INJECTED_PARAMETERS),
    }


def preview(expression: str, timezone: str, count: int, now: datetime) -> dict[str, Any]:
    """The next ``count`` fire times of a cron expression in a time zone."""
    if not 1 <= count <= 20:
        raise BadInput(f"count {count} is out of range; use 1 to 20")
    cron.check_timezone(timezone)
    times = cron.next_times(expression, timezone, now, count)
    return {
        "cron": expression,
        "timezone": timezone,
        "next": [moment.isoformat() for moment in times],
    }
