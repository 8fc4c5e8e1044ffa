"""How a dbt try ended after the engine running its batch was killed, read from the batch's JSON log.

The engine copies every line dbt prints (``--log-format json``) to the batch's raw log
(``dbt-<command>.<first node>.<try>.jsonl``, next to each node's try log) and flushes it as it
goes, so a node whose result event dbt printed before the crash is found there. Only a node that
dbt reported ``success`` (a model, seed or snapshot) or ``pass`` (a test) is adopted: anything
less certain runs again. Logs written before the try started are not read.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from dbt_adapter.events import RESULT_EVENTS, parse_line
from orchestrate_ext.interfaces import NodeOutcome
from orchestrate_ext.model import AttemptRecord, AttemptStatus

_FINISHED = frozenset({"success", "pass"})
_MTIME_SLACK_SECONDS = 1.0


def recorded_dbt_outcome(attempt: AttemptRecord, dbt_id: str) -> NodeOutcome | None:
    """A success the killed batch printed for ``dbt_id`` during ``attempt``, or None."""
    if not attempt.log_path:
        return None
    folder = Path(attempt.log_path).parent
    if not folder.is_dir():
        return None
    for raw_log in sorted(folder.glob("dbt-*.jsonl")):
        if not _written_since(raw_log, attempt.started_at):
            continue
        if _finished_in(raw_log, dbt_id):
            return NodeOutcome(AttemptStatus.SUCCESS, None, attempt.output_path)
    return None


def _written_since(path: Path, started: datetime | None) -> bool:
    if started is None:
        return False
    try:
        return path.stat().st_mtime >= started.timestamp() - _MTIME_SLACK_SECONDS
    except OSError:
        return False


def _finished_in(raw_log: Path, dbt_id: str) -> bool:
    try:
        lines = raw_log.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return False
    for line in lines:
        if dbt_id not in line:
            continue
        event = parse_line(line)
        if event is not None and event.unique_id == dbt_id and event.name in RESULT_EVENTS:
            return str(event.node_status) in _FINISHED
    return False
