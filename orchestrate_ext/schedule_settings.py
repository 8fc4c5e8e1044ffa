"""How users write schedules: the ``schedules:`` list of orchestrate.yaml and a node's ``schedule`` key.

These models validate and normalise; :mod:`orchestrate_ext.scheduling.definitions`
turns them into :class:`~orchestrate_ext.scheduling.definitions.ScheduleDefinition`.
This module imports no more of the engine than the cron wrapper and the SLA keys, so that
``orchestrate_ext.config`` and ``orchestrate_ext.node_settings`` can use it.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from orchestrate_ext.cron import CronError, normalize, zone
from orchestrate_ext.sla import SlaSettings

_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.:/-]*")


class CatchUp(StrEnum):
    """What happens to fire times missed while no scheduler ran."""

    LATEST = "latest"
    """One run for the newest missed fire time; the older ones are recorded as skipped."""
    ALL = "all"
    """A run for every missed fire time, oldest first (at most ``max_catchup``)."""
    NONE = "none"
    """No run for missed fire times; they are recorded as skipped."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


def _cron(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        normalize(value)
    except CronError as exc:
        raise ValueError(str(exc)) from None
    return " ".join(value.split())


def _timezone(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        zone(value)
    except CronError as exc:
        raise ValueError(str(exc)) from None
    return value


def _as_list(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


class TriggerOptions(_Strict):
    """The keys shared by schedules in orchestrate.yaml and on nodes."""

    cron: str | None = None
    """Five-field cron expression (or ``@daily`` and friends), read in ``timezone``."""
    timezone: str | None = None
    """IANA time zone of the cron expression; default UTC."""
    catchup: CatchUp = CatchUp.LATEST
    max_catchup: int = Field(default=50, ge=1)
    max_active_runs: int = Field(default=1, ge=1)
    parameters: dict[str, Any] = {}
    """Passed to every notebook of the run (next to ``logical_date`` and ``run_id``)."""
    after: list[str] = []
    """Names of schedules whose successful runs trigger this one."""
    on_file: list[str] = []
    """Globs, relative to the project folder, whose new or changed files trigger this one."""
    only_changed: bool | None = None
    """Run only nodes whose code or inputs changed since their last success; default ``defaults.only_changed``."""

    @field_validator("cron")
    @classmethod
    def _check_cron(cls, value: str | None) -> str | None:
        return _cron(value)

    @field_validator("timezone")
    @classmethod
    def _check_timezone(cls, value: str | None) -> str | None:
        return _timezone(value)

    @field_validator("after", "on_file", mode="before")
    @classmethod
    def _listify(cls, value: Any) -> Any:
        return _as_list(value)

    @field_validator("parameters")
    @classmethod
    def _identifiers(cls, value: dict[str, Any]) -> dict[str, Any]:
        bad = [name for name in value if not name.isidentifier()]
        if bad:
            raise ValueError(f"parameter names must be Python identifiers: {', '.join(map(repr, bad))}")
        return value

    def has_trigger(self) -> bool:
        return bool(self.cron or self.after or self.on_file)


class ScheduleConfig(TriggerOptions):
    """One entry of ``schedules:`` in orchestrate.yaml."""

    name: str
    select: str | None = None
    """Which nodes run, as for ``orchestrate run --select``; default: every node."""
    sla: SlaSettings | None = None
    """When the schedule's runs must be done; checked by the alerts plugin, not the scheduler."""

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _NAME.fullmatch(value):
            raise ValueError(f"'{value}' is not a usable schedule name; use letters, digits and _ . : / - (no spaces)")
        return value

    @model_validator(mode="after")
    def _needs_a_trigger(self) -> ScheduleConfig:
        if not self.has_trigger():
            raise ValueError(f"schedule '{self.name}' needs 'cron', 'after' or 'on_file' to say when it runs")
        return self


class NodeSchedule(TriggerOptions):
    """A node's ``orchestrate.schedule`` written as a mapping rather than a cron string."""

    ancestors: Literal["stale", "all", "none"] = "stale"
    """Which ancestors run with the node: those not fresh (default), all of them, or none."""

    @model_validator(mode="after")
    def _needs_a_trigger(self) -> NodeSchedule:
        if not self.has_trigger():
            raise ValueError("a schedule needs 'cron', 'after' or 'on_file' to say when it runs")
        return self


def node_schedule(schedule: NodeSchedule | None, timezone: str | None) -> dict[str, Any] | None:
    """A node's schedule as plain data for ``Node.settings['schedule']`` (None when it has none).

    ``timezone`` is the sibling ``orchestrate.timezone`` key (what the
    JupyterLab panel writes next to a cron string), used when the schedule
    names none.
    """
    if schedule is None:
        return None
    data = schedule.model_dump(mode="json")
    if data.get("timezone") is None:
        data["timezone"] = timezone
    return data


def check_node_schedule(cls: type, value: Any) -> Any:
    """Pydantic before-validator for a node's ``schedule``: a cron string means ``{cron: ...}``."""
    return {"cron": value} if isinstance(value, str) else value


def check_timezone(cls: type, value: str | None) -> str | None:
    """Pydantic validator for an IANA time zone name."""
    return _timezone(value)
