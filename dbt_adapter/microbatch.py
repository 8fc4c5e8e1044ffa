"""dbt microbatch models: a run's logical date chooses the batches dbt (re)builds.

A microbatch model (``materialized='incremental'``, ``incremental_strategy='microbatch'``) is built
by dbt in batches of its ``batch_size`` (``hour``, ``day``, ``month``, ``year``) over a window of
event time; ``--event-time-start``/``--event-time-end`` set that window (dbt's default without
them is "now" and its ``lookback``, which a backfill must not get).

The rule, for every ``dbt build`` invocation that includes at least one microbatch model (no
other invocation gets the flags): with ``g`` the largest ``batch_size`` among the invocation's
microbatch models, the window is the batch of size ``g`` that contains the run's logical date,
in UTC: ``start = logical_date`` truncated to ``g``, ``end = start + 1 g``. A model of that
size rebuilds exactly that batch; a model with finer batches rebuilds all of its batches inside
the window (the 24 hours of the day). So a daily schedule rebuilds each day's batch, and a
backfill over January (logical dates 2024-01-01 ... 2024-01-31) rebuilds exactly January's
batches, each once; batches outside the range are not touched.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta

from dbt_adapter.manifest import ManifestNode

BATCH_SIZES = ("hour", "day", "month", "year")
"""dbt's ``BatchSize``, finest first."""
_FORMAT = "%Y-%m-%dT%H:%M:%S"
"""One of the formats dbt's ``--event-time-start``/``--event-time-end`` accept (read as UTC)."""


def is_microbatch(item: ManifestNode) -> bool:
    return item.materialized == "incremental" and item.incremental_strategy == "microbatch"


def event_time_args(nodes: Mapping[str, ManifestNode], dbt_ids: Iterable[str], logical_date: datetime) -> list[str]:
    """The event-time flags of a ``dbt build`` of ``dbt_ids``: none when none of them is a microbatch model."""
    sizes = [
        item.batch_size
        for uid in dbt_ids
        if (item := nodes.get(uid)) is not None and is_microbatch(item) and item.batch_size in BATCH_SIZES
    ]
    if not sizes:
        return []
    start, end = window(max(sizes, key=BATCH_SIZES.index), logical_date)
    return ["--event-time-start", start.strftime(_FORMAT), "--event-time-end", end.strftime(_FORMAT)]


def window(batch_size: str, logical_date: datetime) -> tuple[datetime, datetime]:
    """The batch of ``batch_size`` that contains ``logical_date`` (UTC): its start and its end (excluded)."""
    moment = logical_date.astimezone(UTC) if logical_date.tzinfo else logical_date.replace(tzinfo=UTC)
    if batch_size == "hour":
        start = moment.replace(minute=0, second=0, microsecond=0)
        return start, start + timedelta(hours=1)
    if batch_size == "day":
        start = moment.replace(hour=0, minute=0, second=0, microsecond=0)
        return start, start + timedelta(days=1)
    if batch_size == "month":
        start = moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        if start.month == 12:
            return start, start.replace(year=start.year + 1, month=1)
        return start, start.replace(month=start.month + 1)
    if batch_size == "year":
        start = moment.replace(month=1, day=1, hour=0, minute=0, second=0, microsecond=0)
        return start, start.replace(year=start.year + 1)
    raise ValueError(f"unknown batch_size {batch_size!r}; dbt's are {', '.join(BATCH_SIZES)}")
