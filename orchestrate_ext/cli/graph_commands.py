"""``orchestrate graph``: kept apart from the run commands so that showing a large graph imports only what
it needs (no executor, scheduler or store)."""

from __future__ import annotations

from pathlib import Path

import click

from orchestrate_ext import render
from orchestrate_ext.cli.app import emit_json, main, project_option
from orchestrate_ext.project import Project
from orchestrate_ext.selection import select


@main.command()
@click.option("--select", "-s", "selection", default=None, help="Nodes to show, e.g. '+daily_revenue'.")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "mermaid", "dot"]), default="text")
@project_option
def graph(project_dir: Path | None, selection: str | None, fmt: str) -> None:
    """Print the pipeline graph."""
    the_graph = Project.load(project_dir).graph
    chosen = select(the_graph, selection)
    if fmt == "json":
        emit_json(the_graph.to_json(chosen), indent=None)
    else:
        renderers = {"text": render.as_text, "mermaid": render.as_mermaid, "dot": render.as_dot}
        click.echo(renderers[fmt](the_graph, chosen))
