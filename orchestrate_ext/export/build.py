"""Build an export: the pipelines of a project, the plugins' code, and what cannot be expressed.

:func:`export_project` is the one entry point (``orchestrate export``). It turns the project's graph and
schedules into :class:`~orchestrate_ext.export.spec.Pipeline`\\ s (the whole graph, unscheduled, and one per
schedule), asks every node plugin for its part (:class:`~orchestrate_ext.export.spec.ExportingPlugin`), lists
what neither the core nor the plugins can express, and writes the file with the tool's renderer
(:mod:`orchestrate_ext.export.airflow`, :mod:`orchestrate_ext.export.dagster`). Nothing here reads the clock or
the environment: the same project gives the same bytes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from orchestrate_ext.clock import duration_text
from orchestrate_ext.errors import BadInput
from orchestrate_ext.export.spec import TOOLS, ExportCode, ExportContext, ExportingPlugin, Pipeline, Policies, Tool
from orchestrate_ext.export.spec import identifier as make_identifier
from orchestrate_ext.graph import Graph
from orchestrate_ext.interfaces import NodePlugin
from orchestrate_ext.project import Project
from orchestrate_ext.scheduling.definitions import ScheduleDefinition, discover_schedules, nodes_for

FILE_NAMES: dict[Tool, str] = {"airflow": "orchestrate_dag.py", "dagster": "orchestrate_definitions.py"}


@dataclass(frozen=True)
class ExportResult:
    """What ``orchestrate export`` wrote: the file, its pipelines, and what it could not express."""

    path: Path
    pipelines: tuple[str, ...]
    unexpressed: tuple[str, ...]


def check_out_dir(out_dir: Path) -> None:
    """Refuse an ``--out`` that is a file (or under one); a missing folder is created later."""
    for folder in (out_dir, *out_dir.parents):
        if folder.exists():
            if not folder.is_dir():
                raise BadInput(
                    f"--out {out_dir}: {folder} is a file, not a folder; give a folder to write the export into"
                )
            return


def export_project(project: Project, tool: str, out_dir: Path) -> ExportResult:
    """Write ``tool``'s file for ``project`` into ``out_dir`` (created when missing) and say what it holds."""
    if tool not in TOOLS:
        raise BadInput(f"cannot export to '{tool}'; choose one of: {', '.join(TOOLS)}")
    chosen: Tool = "airflow" if tool == "airflow" else "dagster"
    check_out_dir(out_dir)
    out_dir = out_dir.resolve()
    text, result = render_project(project, chosen, out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    result.path.write_text(text, encoding="utf-8")
    return result


def render_project(project: Project, tool: Tool, out_dir: Path) -> tuple[str, ExportResult]:
    """The file's text for ``project`` (written in ``out_dir``) and what it holds, without writing anything."""
    graph = project.graph
    config = project.config
    defaults = config.core.defaults
    policies = Policies(defaults.retries, defaults.retry_backoff, defaults.timeout)
    schedules = discover_schedules(config.core.schedules, graph, config.workspace.config_path, config.broken_schedules)
    notes: list[str] = []
    pipelines = _pipelines(project, graph, schedules, notes, tool)

    exporters: list[tuple[str, ExportingPlugin, object]] = []
    for key, section in sorted(config.sections.items()):
        plugin = project.plugins[key]
        if isinstance(plugin, NodePlugin) and isinstance(plugin, ExportingPlugin):
            exporters.append((key, plugin, section))
        elif isinstance(plugin, NodePlugin):
            notes.append(f"the `{key}:` nodes: the plugin '{key}' cannot export them; they are left out")
        else:
            notes.append(f"the `{key}:` section of orchestrate.yaml (e.g. alert routes) has no equivalent here")
    handles: dict[str, str] = {}
    owners: dict[str, str] = {}
    for key, exporter, section in exporters:
        found = exporter.export_handles(tool, section, config.workspace, graph)
        handles.update(found)
        owners.update(dict.fromkeys(found, key))
    context = ExportContext(
        tool=tool,
        workspace=config.workspace,
        out_dir=out_dir,
        graph=graph,
        handles=handles,
        owners=owners,
        pipelines=tuple(pipelines),
        policies=policies,
    )
    parts: dict[str, ExportCode] = {key: exporter.export_code(section, context) for key, exporter, section in exporters}
    notes += _core_notes(project, graph, tool)
    for part in parts.values():
        notes += part.unexpressed
    unexpressed = tuple(dict.fromkeys(notes))
    if tool == "airflow":
        from orchestrate_ext.export.airflow import render
    else:
        from orchestrate_ext.export.dagster import render
    text = render(context, parts, unexpressed, project)
    result = ExportResult(out_dir / FILE_NAMES[tool], tuple(p.name for p in pipelines), unexpressed)
    return text, result


def _pipelines(
    project: Project, graph: Graph, schedules: dict[str, ScheduleDefinition], notes: list[str], tool: Tool
) -> list[Pipeline]:
    taken: set[str] = set()
    base = make_identifier(project.root.name, taken)
    runnable = frozenset(node_id for node_id, node in graph.nodes.items() if node.runnable)
    found = [Pipeline(name=base, nodes=runnable)]
    only_changed_default = project.config.core.defaults.only_changed
    slas = {entry.name for entry in project.config.core.schedules if entry.sla is not None}
    for name in sorted(schedules):
        definition = schedules[name]
        chosen = nodes_for(definition, graph, {}, None) & runnable
        found.append(
            Pipeline(
                name=make_identifier(f"{base}__{name}", taken),
                nodes=frozenset(chosen),
                cron=definition.cron,
                timezone=definition.timezone,
                catchup=str(definition.catchup),
                max_active_runs=definition.max_active_runs,
                parameters=dict(definition.parameters),
                schedule=name,
            )
        )
        notes.extend(_schedule_notes(definition, only_changed_default, name in slas, tool))
    return found


def _schedule_notes(definition: ScheduleDefinition, only_changed_default: bool, has_sla: bool, tool: Tool) -> list[str]:
    name = definition.name
    notes = []
    if definition.target is not None and definition.ancestors == "stale":
        notes.append(
            f"schedule '{name}' runs only the ancestors of '{definition.target}' that are not fresh; "
            "the export runs all of them"
        )
    if definition.after:
        notes.append(f"schedule '{name}' runs after {', '.join(definition.after)} succeed: not exported")
    if definition.on_file:
        notes.append(f"schedule '{name}' runs when files change ({', '.join(definition.on_file)}): not exported")
    if definition.only_changed or (definition.only_changed is None and only_changed_default):
        notes.append(f"schedule '{name}' has only_changed (reuse of unchanged results): the export runs everything")
    if tool == "dagster":
        if definition.cron and definition.catchup != "none":
            notes.append(
                f"schedule '{name}' has catchup: {definition.catchup}; a Dagster schedule has no such setting "
                "(its daemon decides what happens to ticks missed while it was down)"
            )
        if definition.cron:
            notes.append(
                f"schedule '{name}' has max_active_runs: {definition.max_active_runs}: not exported (use a run "
                "queue limit on a tag of the job)"
            )
    elif definition.catchup == "none":
        notes.append(f"schedule '{name}' has catchup: none; the export catches up the latest missed run only")
    elif definition.catchup == "all":
        notes.append(
            f"schedule '{name}' has catchup: all (at most {definition.max_catchup} runs); the export catches up "
            "every run since its start_date"
        )
    if has_sla:
        notes.append(f"schedule '{name}' has an SLA (checked by orchestrate-ext's alerts): not exported")
    return notes


def _core_notes(project: Project, graph: Graph, tool: Tool) -> list[str]:
    config = project.config
    notes = []
    if config.core.defaults.only_changed:
        notes.append("defaults.only_changed (reuse of unchanged results): the export runs everything")
    holders: dict[str, list[str]] = {}
    for node_id in graph.order:
        node = graph.nodes[node_id]
        for resource in node.resources:
            if node.resource_type != "test":
                holders.setdefault(resource, []).append(node.name)
    pool = "an Airflow pool" if tool == "airflow" else "a Dagster concurrency pool"
    for resource, names in sorted(holders.items()):
        shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
        notes.append(f"resource '{resource}' (held by one node at a time: {shown}): not exported; use {pool}")
    if config.core.executor.type != "local":
        notes.append(f"executor.type {config.core.executor.type}: the tool's own executor runs the tasks")
    if tool == "dagster":
        notes.append(f"concurrency: {config.core.concurrency} (at most that many nodes at once): not exported")
    if config.workspace.secret_env:
        notes.append(
            "secrets named in orchestrate.yaml (" + ", ".join(sorted(config.workspace.secret_env)) + "): set them "
            "in the tool's own secret store; every task gets them there"
        )
    backoff = config.core.defaults.retry_backoff
    if tool == "airflow" and any(n.retries or config.core.defaults.retries for n in graph.nodes.values()):
        notes.append(
            f"retry backoff: orchestrate-ext waits {duration_text(backoff)} then doubles exactly; Airflow's "
            "exponential backoff adds jitter"
        )
    return notes


def describe(result: ExportResult) -> Sequence[str]:
    """The lines ``orchestrate export`` prints."""
    lines = [f"wrote {result.path} ({len(result.pipelines)} pipeline(s): {', '.join(result.pipelines)})"]
    if result.unexpressed:
        lines.append("not expressible there (listed at the top of the file too):")
        lines += [f"  - {note}" for note in result.unexpressed]
    return lines
