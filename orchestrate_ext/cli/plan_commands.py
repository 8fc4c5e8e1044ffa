"""``orchestrate plan``: what ``orchestrate run`` would do, node by node, without doing it (see ``planning``)."""

from __future__ import annotations

from pathlib import Path

import click

from orchestrate_ext.cli.app import emit_json, main, project_option
from orchestrate_ext.cli.run_commands import parse_logical_date, parse_params
from orchestrate_ext.clock import isoformat
from orchestrate_ext.errors import BadInput
from orchestrate_ext.planning import Action, Plan, plan_project
from orchestrate_ext.project import Project

_LABELS = {Action.RUN: "run", Action.REUSED: "reused", Action.LEFT_OUT: "left out"}


@main.command()
@click.argument("selector", required=False)
@click.option("--select", "-s", "selection", default=None, help="The same as SELECTOR (as `run --select` takes it).")
@click.option("--logical-date", default=None, help="The date the run would be for (ISO-8601); default: now.")
@click.option(
    "--only-changed/--all",
    "only_changed",
    default=None,
    help="Plan an --only-changed run: which nodes reuse their last success and which run (default: "
    "defaults.only_changed).",
)
@click.option(
    "--param",
    "params",
    multiple=True,
    metavar="NAME=VALUE",
    help="A parameter for every notebook, as `run --param` (it changes the fingerprints of the notebooks).",
)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list of {id, action, reason, reuses_run}.")
@project_option
def plan(
    project_dir: Path | None,
    selector: str | None,
    selection: str | None,
    logical_date: str | None,
    only_changed: bool | None,
    params: tuple[str, ...],
    as_json: bool,
) -> None:
    """Show what `orchestrate run --select SELECTOR` would do now: each node runs, is reused or is left out, and why.

    Nothing runs and nothing is written: the state store is only read (and not created when the
    project never ran). The decisions are the run's own: the selection, the nodes left out because
    they are broken or wait for a broken node, and with --only-changed which nodes reuse their last
    success. A plan assumes every node that runs succeeds.

    With --only-changed, dbt nodes that read a source with a freshness rule and a loaded_at_field are
    decided as the run decides them, by the newest rows dbt finds in those sources: the plan runs
    the same read-only `dbt source freshness` the run does (queries only; its results go to a
    temporary file). New rows that land between the plan and the run can change the answer.
    """
    if selector and selection and selector != selection:
        raise BadInput(f"give the selection once: SELECTOR '{selector}' or --select '{selection}', not both")
    when = parse_logical_date(logical_date)
    parameters = parse_params(params)
    project = Project.load(project_dir)
    store = project.open_store(read_only=True)
    try:
        found = plan_project(
            project, store, selector or selection, when, only_changed=only_changed, parameters=parameters
        )
    finally:
        store.close()
    redact = project.redactor()
    if as_json:
        emit_json(redact.document([node.to_json() for node in found.nodes]))
    else:
        click.echo(redact(plan_text(found)))


def plan_text(found: Plan) -> str:
    """One line per node (``run``, ``reused (of run X)``, ``left out``, then why) and a count."""
    width = max((len(node.id) for node in found.nodes), default=0)
    lines = []
    for node in found.nodes:
        label = _LABELS[node.action]
        of = f" (of run {node.reuses_run})" if node.reuses_run and node.reuses_run not in node.reason else ""
        lines.append(f"{label:<8}  {node.id:<{width}}  {node.reason}{of}")
    counts = {action: sum(1 for node in found.nodes if node.action == action) for action in Action}
    kind = "an --only-changed run" if found.only_changed else "a full run"
    lines.append(
        f"{counts[Action.RUN]} run, {counts[Action.REUSED]} reused, {counts[Action.LEFT_OUT]} left out "
        f"({kind} for {isoformat(found.logical_date)}; nothing was run)"
    )
    return "\n".join(lines)
