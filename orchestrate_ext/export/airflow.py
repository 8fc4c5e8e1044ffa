"""The Airflow 3 DAG file: one DAG for the whole graph (triggered by hand) and one per schedule.

Each DAG holds the plugins' tasks (:attr:`~orchestrate_ext.export.spec.ExportCode.pipeline_lines`) and the
dependencies between them that no plugin wires itself (a notebook after a dbt model, a dbt model after the
notebook that fills its source). Retries, backoff and timeouts are the DAG's ``default_args``, overridden per
task by the plugins; a schedule becomes a ``CronTriggerTimetable`` in its time zone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from orchestrate_ext.export.spec import ExportCode, ExportContext, Pipeline, duration, literal
from orchestrate_ext.export.text import header, import_block, project_dir_line
from orchestrate_ext.project import Project

START_DATE = "datetime(2024, 1, 1, tzinfo=ZoneInfo({zone}))"
"""Every DAG's start date: fixed, so that the file does not change from one export to the next."""


def render(
    context: ExportContext, parts: Mapping[str, ExportCode], unexpressed: Sequence[str], project: Project
) -> str:
    imports = [
        "from datetime import datetime, timedelta",
        "from pathlib import Path",
        "from zoneinfo import ZoneInfo",
        "from airflow.sdk import DAG",
    ]
    if any(pipeline.cron for pipeline in context.pipelines):
        imports.append("from airflow.timetables.trigger import CronTriggerTimetable")
    for part in parts.values():
        imports += part.imports
    lines = [*header(context, unexpressed), *import_block(imports), "", *project_dir_line(context)]
    for part in parts.values():
        if part.module:
            lines += ["", *part.module]
    lines += ["", *_default_args(context)]
    owners = context.owners
    for pipeline in context.pipelines:
        lines += ["", "", *_dag(context, pipeline, parts, owners, project.config.core.concurrency)]
    return "\n".join(lines) + "\n"


def _default_args(context: ExportContext) -> list[str]:
    policies = context.policies
    lines = [
        "# orchestrate.yaml `defaults:`; a task with its own retries or timeout sets them itself.",
        "DEFAULT_ARGS = {",
        f'    "retries": {policies.retries},',
        f'    "retry_delay": {duration(policies.retry_backoff)},',
        '    "retry_exponential_backoff": True,',
    ]
    if policies.timeout is not None:
        lines.append(f'    "execution_timeout": {duration(policies.timeout)},')
    return [*lines, "}"]


def _dag(
    context: ExportContext,
    pipeline: Pipeline,
    parts: Mapping[str, ExportCode],
    owners: Mapping[str, str],
    concurrency: int,
) -> list[str]:
    schedule = (
        f"CronTriggerTimetable({literal(pipeline.cron)}, timezone={literal(pipeline.timezone)})"
        if pipeline.cron
        else "None"
    )
    what = f"Schedule '{pipeline.schedule}'." if pipeline.schedule else "The whole graph, started by hand."
    lines = [
        f"# {what}",
        "with DAG(",
        f"    dag_id={literal(pipeline.name)},",
        f"    schedule={schedule},",
        f"    start_date={START_DATE.format(zone=literal(pipeline.timezone))},",
        f"    catchup={pipeline.catchup == 'all'},",
        f"    max_active_runs={pipeline.max_active_runs},",
        f"    max_active_tasks={concurrency},",
        "    default_args=DEFAULT_ARGS,",
        '    tags=["orchestrate-ext"],',
        "):",
    ]
    body: list[str] = []
    for part in parts.values():
        chunk = part.pipeline_lines.get(pipeline.name, ())
        if chunk:
            if body:
                body.append("")
            body += chunk
    edges = _edges(context, pipeline, parts, owners)
    if edges:
        body += ["", "# Dependencies between notebooks and dbt nodes.", *edges]
    return lines + [f"    {line}" if line else "" for line in (body or ["pass"])]


def _edges(
    context: ExportContext, pipeline: Pipeline, parts: Mapping[str, ExportCode], owners: Mapping[str, str]
) -> list[str]:
    edges: set[tuple[str, str]] = set()
    for node_id in pipeline.nodes:
        if node_id not in owners:
            continue
        for parent in context.inputs(node_id):
            if parent not in pipeline.nodes or parent not in owners:
                continue
            if owners[parent] == owners[node_id] and parts[owners[node_id]].wires_own_edges:
                continue
            edges.add((parent, node_id))
    return [f"{context.handles[a]} >> {context.handles[b]}" for a, b in sorted(edges)]
