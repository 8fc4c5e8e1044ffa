"""The per-node settings users write in notebook metadata or dbt ``meta``.

Both plugins validate the ``orchestrate`` key with these models, so a key
means the same thing wherever it is written. The raw value is first checked
for size and depth (:data:`~orchestrate_ext.safe_load.SETTINGS_LIMITS`), so a
deeply nested or huge ``meta`` is an error naming the node, not a crash.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, ValidationError, field_validator

from orchestrate_ext.config import MAX_RETRIES, Count, Duration, StrictModel, format_validation_error
from orchestrate_ext.errors import ConfigError
from orchestrate_ext.model import ReusePolicy
from orchestrate_ext.parameters import parameter_name_problem
from orchestrate_ext.safe_load import SETTINGS_LIMITS, check_structure
from orchestrate_ext.schedule_settings import NodeSchedule, check_node_schedule, check_timezone, node_schedule
from orchestrate_ext.secrets import ENV_NAME
from orchestrate_ext.sla import SlaSettings


class ReuseAge(StrictModel):
    """``reuse: {max_age: 24h}``: an earlier result older than this is not reused."""

    max_age: Duration


class NodeSettings(StrictModel):
    """Keys valid on every node."""

    owner: str | None = None
    retries: Count | None = Field(default=None, ge=0, le=MAX_RETRIES)
    retry_backoff: Duration | None = None
    timeout: Duration | None = None
    tags: list[str] = []
    resources: list[str] = []
    env_passthrough: list[str] = []
    """Secret environment variables (named by a ``*_env`` key in orchestrate.yaml) this node's process
    still gets; every other secret is withheld from it."""
    reuse: Literal["never"] | ReuseAge | None = None
    """When an ``--only-changed`` run may reuse this node's earlier result: ``never`` (e.g. a notebook
    that reads an API), or ``{max_age: 24h}``; by default whenever its code and inputs are unchanged."""
    schedule: NodeSchedule | None = None
    """A cron string (e.g. ``0 6 * * *``) or a mapping of schedule keys; see "Scheduling" in the README."""
    timezone: str | None = None
    """IANA time zone of ``schedule`` when it is a cron string; default UTC."""

    _check_schedule = field_validator("schedule", mode="before")(check_node_schedule)
    _check_timezone = field_validator("timezone")(check_timezone)

    def schedule_settings(self) -> dict[str, Any]:
        """The ``schedule`` (with ``timezone``) as plain data, for ``Node.settings``."""
        found = node_schedule(self.schedule, self.timezone)
        return {} if found is None else {"schedule": found}

    sla: SlaSettings | None = None
    alerts: list[dict[str, Any]] = []
    """Alert routes for this node alone (``on``, ``slack``, ``email``); the alerts plugin validates them."""

    @field_validator("env_passthrough")
    @classmethod
    def _env_names(cls, value: list[str]) -> list[str]:
        bad = [name for name in value if not ENV_NAME.fullmatch(name)]
        if bad:
            raise ValueError(f"not an environment variable name: {', '.join(map(repr, bad[:3]))}")
        return value

    @field_validator("alerts", mode="before")
    @classmethod
    def _one_route(cls, value: Any) -> Any:
        return [value] if isinstance(value, dict) else value

    def reuse_policy(self) -> ReusePolicy:
        if self.reuse == "never":
            return ReusePolicy(allowed=False)
        if isinstance(self.reuse, ReuseAge):
            return ReusePolicy(max_age=self.reuse.max_age)
        return ReusePolicy()

    def observer_settings(self) -> dict[str, Any]:
        """The ``sla`` and ``alerts`` keys as plain data, for ``Node.settings``."""
        found: dict[str, Any] = {}
        if self.sla is not None:
            found["sla"] = self.sla.model_dump(exclude_none=True)
        if self.alerts:
            found["alerts"] = [dict(route) for route in self.alerts]
        return found


def parse_settings(model: type[StrictModel], raw: Any, where: str) -> Any:
    """Validate ``raw`` against ``model``; errors name ``where`` and the key.

    Args:
        where: what the user should look at, e.g. ``notebook 'x.ipynb' metadata``.
    """
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: 'orchestrate' must be a mapping of keys to values, not {type(raw).__name__}")
    check_structure(raw, f"{where}: 'orchestrate'", SETTINGS_LIMITS)
    try:
        settings = model.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, where, prefix="orchestrate")) from exc
    schedule = getattr(settings, "schedule", None)
    if schedule is not None:
        problem = next(filter(None, map(parameter_name_problem, schedule.parameters)), None)
        if problem is not None:
            raise ConfigError(f"{where}: key 'orchestrate.schedule.parameters': {problem}")
    return settings
