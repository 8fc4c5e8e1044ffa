"""``orchestrate export airflow|dagster``: hand the pipeline to a platform team's orchestrator."""

from __future__ import annotations

from pathlib import Path

import click

from orchestrate_ext.cli.app import main, project_option
from orchestrate_ext.errors import BadInput
from orchestrate_ext.export.spec import TOOLS


@main.command(name="export")
@click.argument("tool", metavar="TOOL")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(path_type=Path),
    required=True,
    help="Folder to write the file into (created when missing).",
)
@project_option
def export(tool: str, out_dir: Path, project_dir: Path | None) -> None:
    """Write the pipeline as an Airflow 3 DAG file (TOOL=airflow) or Dagster definitions (TOOL=dagster).

    dbt goes through astronomer-cosmos or dagster-dbt, notebooks through papermill's operator or
    dagstermill, with their dependencies, schedules, retries and timeouts. What the tool cannot express
    (SLAs, only_changed, resources, alert routes, file triggers, ...) is listed in the output and at the
    top of the file.
    """
    from orchestrate_ext.export.build import check_out_dir, describe, export_project
    from orchestrate_ext.project import Project

    if tool not in TOOLS:
        raise BadInput(f"cannot export to '{tool}'; choose one of: {', '.join(TOOLS)}")
    check_out_dir(out_dir)
    result = export_project(Project.load(project_dir), tool, out_dir)
    for line in describe(result):
        click.echo(line)
