"""What a dbt status means for orchestrate-ext.

dbt statuses (``dbt/artifacts/schemas/results.py``): ``success``, ``pass``,
``no-op`` (saved queries, exposures) → success; ``warn`` (a ``severity: warn``
test that found rows, a freshness past ``warn_after``) → success with a
warning, so the node is ``warned`` and its dependants run, unless
``dbt.warn_blocks`` makes it a failure; ``skipped`` → not run, the engine
decides from the graph; ``error``, ``fail``, ``runtime error``, ``partial
success`` → failed.

With ``dbt.warn_blocks``, dbt itself is asked to fail warn tests
(``--warn-error-options '{"error": ["LogTestResult"]}'``, which replaces any
warn_error_options of the project for that invocation), so that it also skips
what depends on them inside the same invocation.

A data test's message is dbt's own (``dbt/task/test.py``,
``build_test_run_result``), rebuilt from the result event so that the test
settles as soon as it ends; other failures wait for dbt's message in the
summary at the end of the invocation.

A source freshness check fails (and blocks what reads the source) only for a computed breach:
dbt's ``error``, the newest row older than ``error_after``. When dbt cannot compute the freshness
(``runtime error``: no ``loaded_at_field`` on an adapter without metadata freshness, such as
DuckDB, a missing table, a failing query) or the check did not finish, the check is ``warned``
with dbt's message, even with ``dbt.warn_blocks``: ``dbt build`` never checks freshness, so what
it cannot tell must not stop what ``dbt build`` runs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from orchestrate_ext.interfaces import NodeOutcome
from orchestrate_ext.model import AttemptStatus

SUCCESS = frozenset({"success", "pass", "no-op", "reused"})
FAILURE = frozenset({"error", "fail", "runtime error", "partial success"})
WARN = "warn"
UNCOMPUTED = "runtime error"
"""A freshness check's status when dbt could not compute the source's freshness."""
SKIPPED = "skipped"
_LOCK_HINT = (
    "\nhint: another process holds the DuckDB file. Give every notebook that opens it "
    "`resources: [warehouse]` in its orchestrate metadata so orchestrate-ext runs them one at a time."
)
_WARN_BLOCKS = " (dbt.warn_blocks is true in orchestrate.yaml, so warnings block)"


def immediate(status: str, settings: Mapping[str, Any], failures: int, *, warn_blocks: bool) -> NodeOutcome | None:
    """The outcome a result event settles at once, or None when dbt's message must be waited for."""
    if status in SUCCESS:
        return NodeOutcome(AttemptStatus.SUCCESS)
    if status == SKIPPED:
        return NodeOutcome.skip("dbt skipped this node because a node it depends on failed")
    if status == WARN:
        text = _test_message(settings, failures, "warn") or _freshness_message(settings, WARN)
        return warning(text, warn_blocks=warn_blocks) if text else None
    if status == "fail":
        text = _test_message(settings, failures, "fail")
        if text and settings.get("severity") == WARN:  # a warn test dbt failed: dbt.warn_blocks asked it to
            text += _WARN_BLOCKS
        return NodeOutcome(AttemptStatus.FAILED, text) if text else None
    if status == "error" and settings.get("freshness"):
        return NodeOutcome(AttemptStatus.FAILED, _freshness_message(settings, "error"))
    return None


def warning(text: str, *, warn_blocks: bool) -> NodeOutcome:
    if warn_blocks:
        return NodeOutcome(AttemptStatus.FAILED, text + _WARN_BLOCKS)
    return NodeOutcome(AttemptStatus.SUCCESS, warning=text)


def with_message(
    status: str, message: str | None, *, warn_blocks: bool, settings: Mapping[str, Any] | None = None
) -> NodeOutcome:
    """The outcome of a status once dbt's message for it is known (``settings``: the node's)."""
    if status == UNCOMPUTED and settings and settings.get("freshness"):
        return uncomputed_freshness(message or "dbt reported a runtime error")
    if status in SUCCESS:
        return NodeOutcome(AttemptStatus.SUCCESS)
    if status == SKIPPED:
        return NodeOutcome.skip(message or "dbt skipped this node because a node it depends on failed")
    if status == WARN:
        return warning(message or "dbt reported a warning", warn_blocks=warn_blocks)
    error = with_lock_hint(message or f"dbt reported status '{status}'")
    if status in FAILURE:
        return NodeOutcome(AttemptStatus.FAILED, error)
    return NodeOutcome(AttemptStatus.FAILED, f"dbt reported an unknown status '{status}': {error}")


def unfinished(error: str, settings: Mapping[str, Any]) -> NodeOutcome:
    """A node dbt left without a result: failed, but a freshness check dbt did not finish only warns."""
    if settings.get("freshness"):
        return uncomputed_freshness(error)
    return NodeOutcome(AttemptStatus.FAILED, error)


def uncomputed_freshness(message: str) -> NodeOutcome:
    return NodeOutcome(AttemptStatus.SUCCESS, warning=f"dbt could not compute this source's freshness: {message}")


def with_lock_hint(error: str) -> str:
    """``error``, with what to do when it is DuckDB's lock error (another process holds the file)."""
    return error + _LOCK_HINT if "Could not set lock on file" in error else error


def _test_message(settings: Mapping[str, Any], failures: int, status: str) -> str | None:
    """dbt's ``Got N results, configured to fail if != 0`` for a data test."""
    warns = status == WARN or settings.get("severity") == WARN  # dbt's message names warn_if for both
    threshold = settings.get("warn_if") if warns else settings.get("error_if")
    if not settings.get("severity") or threshold is None:
        return None
    verb = "warn" if status == WARN else "fail"
    return f"Got {failures} result{'' if failures == 1 else 's'}, configured to {verb} if {threshold}"


def _freshness_message(settings: Mapping[str, Any], status: str) -> str | None:
    rule = settings.get("freshness")
    if not rule:
        return None
    past = "warn_after" if status == WARN else "error_after"
    return f"source freshness '{status}': the newest row is older than {past.replace('_', ' ')} ({rule})"
