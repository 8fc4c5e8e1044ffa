"""The SLA keys users write on a node (notebook metadata, dbt ``meta``) or a schedule.

The engine only validates them; the alerts plugin (an observer) stores each
run's deadlines and checks them. Kept apart from :mod:`orchestrate_ext.config`
so that the schedules' settings can use it without an import cycle.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, field_validator

from orchestrate_ext.clock import parse_duration

_Duration = Annotated[float, BeforeValidator(parse_duration)]


class SlaSettings(BaseModel):
    """When a node (or a schedule's run) must be done.

    Attributes:
        finish_by: a local time of day, ``"07:30"``: the first such time at or
            after the run's logical date, in the schedule's time zone.
        max_duration: done at most this long after the run started (``"30m"``).
        freshness: succeeded at most this long ago, whatever the runs (``"24h"``).
    """

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    finish_by: str | None = None
    max_duration: _Duration | None = None
    freshness: _Duration | None = None

    @field_validator("finish_by")
    @classmethod
    def _time_of_day(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"([01]?\d|2[0-3]):[0-5]\d", value.strip()):
            raise ValueError("finish_by is a local time of day as 'HH:MM', e.g. '07:30'")
        return None if value is None else value.strip()
