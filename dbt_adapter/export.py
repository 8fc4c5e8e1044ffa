"""The dbt project in an exported file: astronomer-cosmos for Airflow, dagster-dbt for Dagster.

Both tools read the same dbt project with the same profiles folder, profile, target and ``vars`` that
orchestrate-ext resolved (:mod:`dbt_adapter.resolution`), and both order the dbt nodes among themselves
from the manifest, so this module only names the models, seeds and snapshots (the tests run with their
model: cosmos's default ``TestBehavior.AFTER_EACH``, dagster-dbt's asset checks) and, for a schedule's
Airflow DAG, selects them by ``path:`` (one term per file, exactly the schedule's nodes; a Dagster job
selects their asset keys).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path

from dbt_adapter.manifest import read_manifest
from dbt_adapter.microbatch import is_microbatch
from dbt_adapter.nodes import FRESHNESS_KIND, KIND, SOURCE_KIND
from dbt_adapter.parse import referenced_vars
from dbt_adapter.parse_inputs import PER_RUN_VARS
from dbt_adapter.project import DbtConfig, DbtProject
from orchestrate_ext.export.spec import ExportCode, ExportContext, Tool, identifier, literal
from orchestrate_ext.graph import Graph
from orchestrate_ext.model import Node

RUNNABLE_TYPES = ("model", "seed", "snapshot")
"""Resource types that are tasks (Airflow) or assets (Dagster); tests go with their model."""
GROUP = "dbt"
"""The name of the cosmos task group in every DAG."""


def handles(tool: Tool, graph: Graph) -> dict[str, str]:
    found: dict[str, str] = {}
    for node in _runnable(graph):
        if tool == "airflow":
            found[node.id] = f"{GROUP}.tasks_map[{literal(node.id)}]"
        else:
            found[node.id] = f"AssetKey([{literal(node.name)}])"
    return found


def code(config: DbtConfig, context: ExportContext) -> ExportCode:
    project = DbtProject.from_config(context.workspace, config)
    if context.tool == "airflow":
        return _airflow(project, context)
    return _dagster(project, context)


def _runnable(graph: Graph) -> list[Node]:
    return [
        graph.nodes[node_id]
        for node_id in graph.order
        if graph.nodes[node_id].kind == KIND and graph.nodes[node_id].resource_type in RUNNABLE_TYPES
    ]


def _path(context: ExportContext, path: Path | str) -> str:
    """A path as an expression: relative to the project folder when inside it, else absolute."""
    relative = os.path.relpath(Path(path), context.workspace.root).replace(os.sep, "/")
    if relative.startswith(".."):
        return f"Path({literal(str(path))})"
    return context.project_path(relative)


def _profiles_file(project: DbtProject, context: ExportContext) -> str:
    folder = project.settings.profiles_dir
    if folder is None:
        return 'Path.home() / ".dbt" / "profiles.yml"'
    return _path(context, Path(folder.value) / "profiles.yml")


def _profiles_folder(project: DbtProject, context: ExportContext) -> str:
    folder = project.settings.profiles_dir
    return 'Path.home() / ".dbt"' if folder is None else _path(context, Path(folder.value))


def _selection(project: DbtProject, context: ExportContext, chosen: frozenset[str]) -> list[str] | None:
    """``path:`` terms for the dbt nodes of a pipeline, relative to the dbt project; None for all of them."""
    nodes = _runnable(context.graph)
    if all(node.id in chosen for node in nodes):
        return None
    prefix = os.path.relpath(project.project_dir, context.workspace.root).replace(os.sep, "/")
    terms = []
    for node in nodes:
        if node.id in chosen:
            path = node.path[len(prefix) + 1 :] if prefix != "." and node.path.startswith(prefix + "/") else node.path
            terms.append(f"path:{path}")
    return terms


def _notes(project: DbtProject, context: ExportContext, tool_name: str) -> list[str]:
    notes = _per_run_notes(project, tool_name)
    policies = context.policies
    for node in _runnable(context.graph):
        own = []
        if node.retries is not None and node.retries != policies.retries:
            own.append(f"retries: {node.retries}")
        if node.timeout is not None and node.timeout != policies.timeout:
            own.append(f"timeout: {node.timeout:g}s")
        if node.retry_backoff is not None and node.retry_backoff != policies.retry_backoff:
            own.append(f"retry_backoff: {node.retry_backoff:g}s")
        if own:
            notes.append(
                f"dbt {node.resource_type} '{node.name}' has {', '.join(own)}; the dbt {tool_name} share the "
                "project's defaults"
            )
    graph = context.graph
    if any(node.kind == FRESHNESS_KIND for node in graph.nodes.values()):
        notes.append("dbt source freshness checks (run before the models reading them): not exported")
    if any(node.kind == KIND and node.resource_type == "operation" for node in graph.nodes.values()):
        notes.append("dbt project hooks as orchestrate-ext runs them (once per run): the tool runs dbt's own way")
    return notes


def _per_run_notes(project: DbtProject, tool_name: str) -> list[str]:
    """What orchestrate-ext gives each run's ``dbt build`` that the exported dbt runs go without."""
    notes = []
    read = sorted(PER_RUN_VARS & referenced_vars(project.settings))
    if read:
        names = " and ".join(f"var('{name}')" for name in read)
        notes.append(
            f"the dbt project reads {names}, which orchestrate-ext sets for each run (its logical date and id); "
            f"the dbt {tool_name} are not given them"
        )
    manifest = read_manifest(project.manifest_path)
    batched = sorted(item.name for item in manifest.nodes.values() if is_microbatch(item))
    if batched:
        notes.append(
            f"dbt microbatch models ({', '.join(batched)}): orchestrate-ext builds the batch holding the run's "
            f"logical date (--event-time-start/--event-time-end); the dbt {tool_name} build dbt's default batches"
        )
    return notes


def _airflow(project: DbtProject, context: ExportContext) -> ExportCode:
    settings = project.settings
    config = [
        "# The dbt project, read from its manifest (run `dbt parse` where Airflow parses DAGs to refresh it).",
        "DBT_PROJECT = ProjectConfig(",
        f"    dbt_project_path={_path(context, project.project_dir)},",
        f"    manifest_path={_path(context, project.manifest_path)},",
    ]
    if settings.vars:
        config.append(f"    dbt_vars={literal(dict(settings.vars))},")
    config += [")", "DBT_PROFILE = ProfileConfig("]
    config.append(
        f"    profile_name={literal(settings.profile.value if settings.profile else project.settings.project_name)},"
    )
    if settings.target is not None:
        config.append(f"    target_name={literal(settings.target.value)},")
    config += [f"    profiles_yml_filepath={_profiles_file(project, context)},", ")"]
    lines: dict[str, tuple[str, ...]] = {}
    for pipeline in context.pipelines:
        if not any(node.id in pipeline.nodes for node in _runnable(context.graph)):
            continue
        selection = _selection(project, context, pipeline.nodes)
        if selection is None:
            render = ["    render_config=RenderConfig(load_method=LoadMode.DBT_MANIFEST),"]
        else:
            render = [
                "    render_config=RenderConfig(",
                "        load_method=LoadMode.DBT_MANIFEST,",
                "        select=[",
                *[f"            {literal(term)}," for term in selection],
                "        ],",
                "    ),",
            ]
        lines[pipeline.name] = (
            f"{GROUP} = DbtTaskGroup(",
            f"    group_id={literal(GROUP)},",
            "    project_config=DBT_PROJECT,",
            "    profile_config=DBT_PROFILE,",
            *render,
            ")",
        )
    return ExportCode(
        imports=(
            "from cosmos import DbtTaskGroup, ProfileConfig, ProjectConfig, RenderConfig",
            "from cosmos.constants import LoadMode",
        ),
        module=tuple(config),
        pipeline_lines=lines,
        wires_own_edges=True,
        unexpressed=tuple(_notes(project, context, "tasks")),
    )


def _dagster(project: DbtProject, context: ExportContext) -> ExportCode:
    settings = project.settings
    name = identifier(f"{settings.project_name}_dbt_assets", set())
    module = [
        "# The dbt project as orchestrate-ext resolved it (profiles folder, profile, target, target path).",
        "DBT_PROJECT = DbtProject(",
        f"    project_dir={_path(context, project.project_dir)},",
        f"    profiles_dir={_profiles_folder(project, context)},",
    ]
    if settings.profile is not None:
        module.append(f"    profile={literal(settings.profile.value)},")
    if settings.target is not None:
        module.append(f"    target={literal(settings.target.value)},")
    module += [f"    target_path={_path(context, Path(settings.target_path.value))},", ")"]
    producers = _source_producers(context)
    module += ["", "", "class Translator(DagsterDbtTranslator):"]
    module.append(
        '    """dbt\'s assets with their default keys, except a dbt source a notebook fills: that notebook."""'
    )
    module += ["", f"    SOURCE_PRODUCERS: Mapping[str, AssetKey] = {_mapping(producers)}", ""]
    module += [
        "    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> AssetKey:",
        '        producer = self.SOURCE_PRODUCERS.get(dbt_resource_props["unique_id"])',
        "        return producer if producer is not None else super().get_asset_key(dbt_resource_props)",
        "",
        "",
        "@dbt_assets(",
        "    manifest=DBT_PROJECT.manifest_path,",
        "    project=DBT_PROJECT,",
        "    dagster_dbt_translator=Translator(),",
        f"    retry_policy={retry_policy(context.policies.retries, context.policies.retry_backoff)},",
        ")",
    ]
    args = ["build"]
    if settings.vars:
        args += ["--vars", json.dumps(dict(settings.vars), sort_keys=True)]
    module += [
        f"def {name}(context: AssetExecutionContext, dbt: DbtCliResource):",
        f"    yield from dbt.cli({literal(args)}, context=context).stream()",
    ]
    return ExportCode(
        imports=(
            "from collections.abc import Mapping",
            "from typing import Any",
            "from dagster import AssetExecutionContext, AssetKey, Backoff, RetryPolicy",
            "from dagster_dbt import DagsterDbtTranslator, DbtCliResource, DbtProject, dbt_assets",
        ),
        module=tuple(module),
        definitions=(name,),
        resources={"dbt": "DbtCliResource(project_dir=DBT_PROJECT)"},
        wires_own_edges=True,
        unexpressed=tuple(_notes(project, context, "assets")),
    )


def _source_producers(context: ExportContext) -> dict[str, str]:
    """Each dbt source filled by a notebook (``produces``), and the notebook's asset key expression."""
    found: dict[str, str] = {}
    for node_id in context.graph.order:
        node = context.graph.nodes[node_id]
        if node.kind != SOURCE_KIND:
            continue
        producers = [parent for parent in context.graph.parents[node_id] if parent in context.handles]
        if len(producers) == 1:
            found[node.id] = context.handles[producers[0]]
    return found


def _mapping(items: Mapping[str, str]) -> str:
    if not items:
        return "{}"
    return "{" + ", ".join(f"{literal(key)}: {value}" for key, value in sorted(items.items())) + "}"


def retry_policy(retries: int, backoff: float) -> str:
    """A Dagster ``RetryPolicy`` with orchestrate-ext's doubling delay."""
    return f"RetryPolicy(max_retries={retries}, delay={backoff:g}, backoff=Backoff.EXPONENTIAL)"
