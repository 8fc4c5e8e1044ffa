"""The Dagster definitions file: the plugins' assets, a job per pipeline, a schedule per scheduled one.

The assets and their dependencies are the plugins' (``@dbt_assets`` from the manifest, a dagstermill asset
per notebook); the core adds an asset job for the whole graph and, for every schedule, a job over its
selection with a ``ScheduleDefinition`` in its time zone, then one ``Definitions`` object, ``defs``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from orchestrate_ext.export.spec import ExportCode, ExportContext, Pipeline, literal
from orchestrate_ext.export.text import header, import_block, project_dir_line
from orchestrate_ext.project import Project


def render(
    context: ExportContext, parts: Mapping[str, ExportCode], unexpressed: Sequence[str], project: Project
) -> str:
    imports = [
        "from pathlib import Path",
        "from dagster import AssetKey, AssetSelection, Definitions, define_asset_job",
    ]
    if any(pipeline.cron for pipeline in context.pipelines):
        imports.append("from dagster import ScheduleDefinition")
    for part in parts.values():
        imports += part.imports
    lines = [
        *header(context, unexpressed),
        *_merge(import_block(imports, future=False)),
        "",
        *project_dir_line(context),
    ]
    for part in parts.values():
        if part.module:
            lines += ["", "", *part.module]
    jobs: list[str] = []
    schedules: list[str] = []
    lines.append("")
    for pipeline in context.pipelines:
        lines += ["", *_job(context, pipeline, jobs, schedules)]
    assets = [name for part in parts.values() for name in part.definitions]
    resources = {key: value for part in parts.values() for key, value in sorted(part.resources.items())}
    lines += ["", "", "defs = Definitions("]
    lines.append(f"    assets=[{', '.join(assets)}],")
    lines.append(f"    jobs=[{', '.join(jobs)}],")
    if schedules:
        lines.append(f"    schedules=[{', '.join(schedules)}],")
    if resources:
        lines.append("    resources={")
        lines += [f"        {literal(key)}: {value}," for key, value in sorted(resources.items())]
        lines.append("    },")
    lines.append(")")
    return "\n".join(lines) + "\n"


def _merge(lines: list[str]) -> list[str]:
    """One ``from dagster import a, b`` line instead of one per name (the same for every module)."""
    merged: dict[str, list[str]] = {}
    order: list[str] = []
    for line in lines:
        if line.startswith("from ") and " import " in line and not line.startswith("from __future__"):
            module, names = line[5:].split(" import ", 1)
            if module not in merged:
                merged[module] = []
                order.append(line)
            merged[module] += [name.strip() for name in names.split(",")]
        else:
            order.append(line)
    out = []
    for line in order:
        if line.startswith("from ") and " import " in line and not line.startswith("from __future__"):
            module = line[5:].split(" import ", 1)[0]
            out.append(f"from {module} import {', '.join(sorted(set(merged[module])))}")
        else:
            out.append(line)
    return out


def _job(context: ExportContext, pipeline: Pipeline, jobs: list[str], schedules: list[str]) -> list[str]:
    job = f"{pipeline.name}_job"
    jobs.append(job)
    if pipeline.schedule is None:
        lines = [
            "# The whole graph, started by hand.",
            f"{job} = define_asset_job({literal(pipeline.name)}, selection=AssetSelection.all())",
        ]
    else:
        keys = [
            context.handles[node_id]
            for node_id in context.graph.order
            if node_id in pipeline.nodes and node_id in context.handles
        ]
        lines = [
            f"# Schedule '{pipeline.schedule}': its selection (dbt tests run with their models, as asset checks).",
            f"{job} = define_asset_job(",
            f"    {literal(pipeline.name)},",
            "    selection=AssetSelection.assets(",
            *[f"        {key}," for key in keys],
            "    ),",
            ")",
        ]
    if pipeline.cron:
        schedule = f"{pipeline.name}_schedule"
        schedules.append(schedule)
        lines += [
            f"{schedule} = ScheduleDefinition(",
            f"    name={literal(pipeline.name)},",
            f"    job={job},",
            f"    cron_schedule={literal(pipeline.cron)},",
            f"    execution_timezone={literal(pipeline.timezone)},",
            ")",
        ]
    return lines
