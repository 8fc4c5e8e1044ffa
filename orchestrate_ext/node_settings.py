"""The per-node settings users write in notebook metadata or dbt ``meta``.

Both plugins validate the ``orchestrate`` key with these models, so a key
means the same thing wherever it is written.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, ValidationError

from orchestrate_ext.config import Duration, StrictModel, format_validation_error
from orchestrate_ext.errors import ConfigError


class NodeSettings(StrictModel):
    """Keys valid on every node."""

    owner: str | None = None
    retries: int | None = Field(default=None, ge=0)
    retry_backoff: Duration | None = None
    timeout: Duration | None = None
    tags: list[str] = []
    resources: list[str] = []


def parse_settings(model: type[StrictModel], raw: Any, where: str) -> Any:
    """Validate ``raw`` against ``model``; errors name ``where`` and the key.

    Args:
        where: what the user should look at, e.g. ``notebook 'x.ipynb' metadata``.
    """
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: 'orchestrate' must be a mapping of keys to values, not {type(raw).__name__}")
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, where, prefix="orchestrate")) from exc
