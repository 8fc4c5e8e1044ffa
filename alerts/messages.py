"""The content of each kind of message, from captured events."""

from __future__ import annotations

from datetime import datetime

from alerts.content import (
    KIND_CONFIG_ERROR,
    KIND_CONFIG_FIXED,
    KIND_DIGEST,
    KIND_FAILURE,
    KIND_RECOVERY,
    KIND_REMINDER,
    KIND_REPEAT,
    KIND_RETRY,
    KIND_RUN,
    KIND_SLA,
    KIND_TEST,
    KIND_WARNING,
    AlertContent,
    NodeItem,
    RunInfo,
)
from alerts.store import Incident


def commands(run_id: str, items: list[NodeItem], *, retry: bool = False) -> list[str]:
    found = [f"orchestrate show {run_id}"]
    if len(items) == 1:
        found.append(f"orchestrate logs {run_id} {items[0].node_id}")
    if retry:
        found.append(f"orchestrate retry {run_id}")
    return found


def _names(items: list[NodeItem], limit: int = 3) -> str:
    names = ", ".join(item.name for item in items[:limit])
    return names + (f" and {len(items) - limit} more" if len(items) > limit else "")


def hhmm(at: datetime) -> str:
    return at.strftime("%Y-%m-%d %H:%M UTC")


def failure(run: RunInfo, items: list[NodeItem]) -> AlertContent:
    """One failed node, or a digest of all the nodes of one run that failed together."""
    if len(items) == 1:
        return AlertContent(
            KIND_FAILURE, f"🔴 Failed: {items[0].name}", run, items, commands(run.run_id, items, retry=True)
        )
    return AlertContent(
        KIND_DIGEST,
        f"🔴 {len(items)} nodes failed: {_names(items)}",
        run,
        items,
        commands(run.run_id, items, retry=True),
    )


def repeat(run: RunInfo, item: NodeItem, incident: Incident) -> AlertContent:
    """A quiet thread reply: the node failed again within the suppression window."""
    return AlertContent(
        KIND_REPEAT,
        f"Failed again: {item.name} (failure {incident.failures} since {hhmm(incident.opened_at)})",
        run,
        [item],
        commands(run.run_id, [item]),
    )


def update_line(item: NodeItem, incident: Incident, run: RunInfo, at: datetime) -> str:
    return f"🔁 {item.name} failed again at {hhmm(at)} in run {run.run_id} ({incident.failures} failures so far)"


def reminder(run: RunInfo, item: NodeItem, incident: Incident) -> AlertContent:
    """The node is still failing after the suppression window: said out loud again."""
    return AlertContent(
        KIND_REMINDER,
        f"🔴 Still failing: {item.name} (failure {incident.failures} since {hhmm(incident.opened_at)})",
        run,
        [item],
        commands(run.run_id, [item], retry=True),
    )


def recovery(run: RunInfo, items: list[NodeItem], incidents: list[Incident]) -> AlertContent:
    first = min(incident.opened_at for incident in incidents)
    failures = sum(incident.failures for incident in incidents)
    title = f"✅ Recovered: {_names(items)}"
    return AlertContent(
        KIND_RECOVERY,
        title,
        run,
        items,
        commands(run.run_id, []),
        note=f"failing since {hhmm(first)}, {failures} failed run(s)",
    )


def recovery_line(items: list[NodeItem], run: RunInfo, at: datetime) -> str:
    return f"✅ {_names(items, 10)} recovered at {hhmm(at)} in run {run.run_id}"


def retry(run: RunInfo, items: list[NodeItem]) -> AlertContent:
    return AlertContent(KIND_RETRY, f"🔁 Retrying: {_names(items)}", run, items, commands(run.run_id, items))


def test_warning(run: RunInfo, items: list[NodeItem]) -> AlertContent:
    """dbt warnings (a ``severity: warn`` test that found rows): sent only to routes that ask for them."""
    return AlertContent(KIND_WARNING, f"⚠️ Warning: {_names(items)}", run, items, commands(run.run_id, items))


def sla_miss(run: RunInfo, items: list[NodeItem]) -> AlertContent:
    states = {item.sla_state for item in items}
    verb = "SLA will be missed" if states == {"will miss"} else "SLA missed"
    if not run.run_id:  # freshness: about no particular run
        return AlertContent(KIND_SLA, f"⏰ {verb}: {_names(items)}", None, items, ["orchestrate runs"])
    return AlertContent(KIND_SLA, f"⏰ {verb}: {_names(items)}", run, items, commands(run.run_id, items))


def run_finished(run: RunInfo, counts: dict[str, int], failed: list[NodeItem]) -> AlertContent:
    mark = "✅" if run.status == "success" else "🔴" if run.status == "failed" else "■"
    return AlertContent(
        KIND_RUN,
        f"{mark} Run {run.status}: {run.scope}",
        run,
        failed,
        commands(run.run_id, [], retry=bool(failed)),
        counts=counts,
    )


CONFIG_COMMANDS = ["orchestrate status", "orchestrate validate"]
PROJECT_KIND = "project"
"""The kind of the item of a problem that is about no node (the project, the scheduler)."""


def config_error(item: NodeItem) -> AlertContent:
    """Something in the project keeps work from running: a node or schedule left out, a project or
    scheduler that cannot start. ``item.error`` says what and how to fix it."""
    if item.kind != PROJECT_KIND:
        title = f"⚠️ Left out: {item.name}"
    elif item.node_id == "scheduler":
        title = "🔴 The scheduler cannot start"
    else:
        title = "🔴 The project cannot be loaded"
    return AlertContent(KIND_CONFIG_ERROR, title, None, [item], list(CONFIG_COMMANDS))


def config_fixed(item: NodeItem, incident: Incident) -> AlertContent:
    """The problem of ``incident`` is gone."""
    if item.kind != PROJECT_KIND:
        title = f"✅ Fixed: {item.name} is no longer left out"
    elif item.node_id == "scheduler":
        title = "✅ The scheduler started"
    else:
        title = "✅ The project loads again"
    fixed = NodeItem(item.node_id, item.name, item.kind, item.resource_type, item.owner, item.path, status="fixed")
    return AlertContent(
        KIND_CONFIG_FIXED, title, None, [fixed], ["orchestrate status"], note=f"broken since {hhmm(incident.opened_at)}"
    )


def config_fixed_line(item: NodeItem, at: datetime) -> str:
    return f"✅ fixed at {hhmm(at)}: {item.name}"


def test(route: str, project: str) -> AlertContent:
    return AlertContent(
        KIND_TEST,
        "🔔 Test alert from orchestrate-ext",
        None,
        [],
        ["orchestrate alerts test"],
        note=f"Sent by `orchestrate alerts test` for {route} of {project}. If you read this, the route works.",
    )
