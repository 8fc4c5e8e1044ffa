"""What is wrong with a project, in one list: what the JupyterLab panel's Problems view shows.

The list is built from the checks that already exist, never a copy of them:

* the config problems the scheduler hands the alerts as ``config_error``
  (:func:`orchestrate_ext.scheduling.source.config_problems`): every broken node,
  broken schedule and part of the project that gave no nodes (``dbt parse`` failed);
* the nodes left out of every run because they wait for a broken one;
* the warnings ``orchestrate validate`` prints (:func:`validation_warnings`, which
  ``validate`` itself calls): each plugin's checks (JupyterLab checkpoints read as
  dbt models, schedules held on a copied notebook, ...), a plugin check that fails
  (a dbt profile that does not load), secrets passed through that are no secrets.

A warning a plugin can fix is a :class:`~orchestrate_ext.interfaces.Finding`; its
action is done by :func:`apply_fix` (the plugin's :class:`~orchestrate_ext.interfaces.FixingPlugin`).
Reading the list writes nothing (it may run ``dbt parse``, as loading the graph does).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from orchestrate_ext.errors import BadInput, OrchestrateError
from orchestrate_ext.graph import Graph
from orchestrate_ext.interfaces import CheckingPlugin, Finding, FixingPlugin
from orchestrate_ext.project import Project
from orchestrate_ext.scheduling.definitions import discover_schedule_set
from orchestrate_ext.scheduling.source import config_problems
from orchestrate_ext.secrets import SECRET_PREFIXES


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the project.

    Attributes:
        key: stable while the problem lasts: ``node:<id>``, ``left_out:<id>``, ``schedule:<name>``,
            ``plugin:<key>``, ``check:<key>``, ``warning:<n>`` or ``project``.
        kind: ``broken``, ``left_out``, ``schedule``, ``plugin``, ``warning`` or ``project``.
        severity: ``error`` (keeps work from running) or ``warning``.
        message: what is wrong and how to fix it.
        node_id: the node it is about, if any.
        fix / fix_label: a one-click action for :func:`apply_fix` and its button's label, if any.
    """

    key: str
    kind: str
    severity: str
    message: str
    node_id: str | None = None
    fix: str | None = None
    fix_label: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "kind": self.kind,
            "severity": self.severity,
            "message": self.message,
            "node_id": self.node_id,
            "fix": self.fix,
            "fix_label": self.fix_label,
        }


def validation_warnings(project: Project, graph: Graph, errors: list[tuple[str, str]] | None = None) -> list[str]:
    """The warnings of ``orchestrate validate``: each plugin's checks, passed-through non-secrets, no nodes.

    Args:
        graph: the graph to check (``validate``: the whole graph; the Problems view: the partial one).
        errors: where a plugin check that raises is recorded, as ``(plugin key, message)``, so the other
            checks still run; None lets it raise (``validate`` stops on it).
    """
    warnings: list[str] = []
    for key, section in project.config.sections.items():
        plugin = project.plugins[key]
        if not isinstance(plugin, CheckingPlugin):
            continue
        try:
            warnings += plugin.check(section, project.config.workspace, graph)
        except OrchestrateError as exc:
            if errors is None:
                raise
            errors.append((key, str(exc)))
    secrets = project.config.workspace.secret_env
    warnings += [
        f"{node.id}: env_passthrough names {name}, which no `*_env` key of orchestrate.yaml names; "
        "only secrets are withheld from nodes, so this has no effect"
        for node in graph.nodes.values()
        for name in node.env_passthrough
        if name not in secrets and not name.startswith(SECRET_PREFIXES)
    ]
    if not graph.nodes:
        warnings.append(
            f"{project.config.workspace.config_path} gives no nodes: configure `dbt:` or `notebooks:` "
            "(and check their paths and globs)"
        )
    return warnings


def project_problems(project: Project) -> list[Problem]:
    """Everything wrong with ``project``, errors first (see the module docstring)."""
    partial = project.partial_graph
    config = project.config
    schedules = discover_schedule_set(
        config.core.schedules, partial, config.workspace.config_path, config.broken_schedules
    )
    found: list[Problem] = []
    for problem in config_problems(partial, schedules):
        kind = problem.key.partition(":")[0]
        found.append(
            Problem(
                problem.key,
                {"node": "broken"}.get(kind, kind),
                "error",
                problem.message,
                problem.node_id if kind == "node" else None,
            )
        )
    for node_id, cause in sorted(partial.blocked().items()):
        found.append(
            Problem(
                f"left_out:{node_id}",
                "left_out",
                "error",
                f"node {node_id} is left out of every run: it waits for {cause}, which is broken; fix {cause}",
                node_id,
            )
        )
    errors: list[tuple[str, str]] = []
    warnings = validation_warnings(project, partial.graph, errors)
    found += [Problem(f"check:{key}", "plugin", "error", message) for key, message in errors]
    for index, warning in enumerate(warnings):
        fix = warning if isinstance(warning, Finding) else None
        found.append(
            Problem(
                f"warning:{index}",
                "warning",
                "warning",
                str(warning),
                fix=fix.fix if fix else None,
                fix_label=fix.label if fix else None,
            )
        )
    return found


def unloadable(error: OrchestrateError) -> Problem:
    """The problem of a project that cannot be loaded at all (orchestrate.yaml missing or invalid)."""
    return Problem("project", "project", "error", str(error))


def apply_fix(project: Project, action: str) -> str:
    """Do the fix ``action`` of a plugin's finding (idempotent: done again, it changes nothing); what was done.

    Raises:
        BadInput: no configured plugin offers ``action``.
    """
    for key, section in project.config.sections.items():
        plugin = project.plugins[key]
        if isinstance(plugin, FixingPlugin):
            try:
                return plugin.fix(action, section, project.config.workspace)
            except BadInput:
                continue
    raise BadInput(f"no plugin of this project does the fix '{action[:100]}'; the Problems view lists the fixes")
