"""Notebooks in an exported file: papermill's Airflow operator, or a dagstermill asset.

A notebook keeps what orchestrate-ext gives it: its file, its kernel, its parameters (the notebook's own
``parameters``, then the schedule's, then ``logical_date`` and ``run_id``), its retries, backoff and
timeout when they differ from the project's defaults, and its owner. Airflow renders the parameters per
run (``{{ ts }}``, ``{{ run_id }}``); Dagster's dagstermill hands a notebook its op config instead of
injecting parameters, so there the notebook runs with its own defaults.
"""

from __future__ import annotations

from pathlib import PurePosixPath

from jupyter_extension.plugin import KIND
from orchestrate_ext.export.spec import ExportCode, ExportContext, Pipeline, Tool, duration, identifier, literal
from orchestrate_ext.graph import Graph
from orchestrate_ext.model import Node

OUTPUT_DIR = "NOTEBOOK_OUTPUT_DIR"
RUN_PARAMETERS = {"logical_date": "{{ ts }}", "run_id": "{{ run_id }}"}
"""What orchestrate-ext passes every notebook, as Airflow templates (``ts``: the logical date, ISO 8601)."""


def _notebooks(graph: Graph) -> list[Node]:
    return [graph.nodes[node_id] for node_id in graph.order if graph.nodes[node_id].kind == KIND]


def _names(graph: Graph) -> dict[str, str]:
    """A Python identifier per notebook (its file name, made unique in a stable order)."""
    taken: set[str] = set()
    return {node.id: identifier(PurePosixPath(node.path).stem, taken) for node in sorted(_notebooks(graph), key=_id)}


def _id(node: Node) -> str:
    return node.id


def handles(tool: Tool, graph: Graph) -> dict[str, str]:
    names = _names(graph)
    if tool == "airflow":
        return names
    return {node_id: f"AssetKey([{literal(name)}])" for node_id, name in names.items()}


def code(context: ExportContext) -> ExportCode:
    if context.tool == "airflow":
        return _airflow(context)
    return _dagster(context)


def _airflow(context: ExportContext) -> ExportCode:
    names = _names(context.graph)
    module = (
        "# Where papermill writes each run's executed notebooks; create it (papermill does not).",
        f'{OUTPUT_DIR} = {context.project_expr} / ".orchestrate" / "airflow"',
    )
    lines: dict[str, tuple[str, ...]] = {}
    for pipeline in context.pipelines:
        chunk: list[str] = []
        for node in _notebooks(context.graph):
            if node.id in pipeline.nodes:
                chunk += _operator(context, pipeline, node, names[node.id])
        if chunk:
            lines[pipeline.name] = tuple(chunk)
    notes = []
    if _notebooks(context.graph):
        notes.append(
            "a notebook's working folder: orchestrate-ext runs each notebook in its own folder; papermill's "
            "operator has no such setting (relative paths in a notebook start from the worker's folder)"
        )
    return ExportCode(
        imports=("from airflow.providers.papermill.operators.papermill import PapermillOperator",),
        module=module,
        pipeline_lines=lines,
        unexpressed=tuple(notes),
    )


def _operator(context: ExportContext, pipeline: Pipeline, node: Node, name: str) -> list[str]:
    parameters = {**node.parameters, **pipeline.parameters, **RUN_PARAMETERS}
    lines = [
        f"{name} = PapermillOperator(",
        f"    task_id={literal(name)},",
        f"    input_nb=str({context.project_path(node.path)}),",
        f'    output_nb=str({OUTPUT_DIR} / "{name}-{{{{ ts_nodash }}}}-{{{{ ti.try_number }}}}.ipynb"),',
        f"    kernel_name={literal(node.settings.get('kernel', 'python3'))},",
        f"    parameters={literal(parameters)},",
    ]
    policies = context.policies
    if node.retries is not None and node.retries != policies.retries:
        lines.append(f"    retries={node.retries},")
    if node.retry_backoff is not None and node.retry_backoff != policies.retry_backoff:
        lines.append(f"    retry_delay={duration(node.retry_backoff)},")
    if node.timeout is not None and node.timeout != policies.timeout:
        lines.append(f"    execution_timeout={duration(node.timeout)},")
    if node.owner:
        lines.append(f"    owner={literal(node.owner)},")
    return [*lines, ")"]


def _dagster(context: ExportContext) -> ExportCode:
    names = _names(context.graph)
    module: list[str] = ["# Each notebook as an asset run by dagstermill, after the assets it reads."]
    policies = context.policies
    for node in _notebooks(context.graph):
        name = names[node.id]
        deps = [context.handles[parent] for parent in context.inputs(node.id)]
        retries = policies.retries_of(node)
        module += [
            f"{name} = define_dagstermill_asset(",
            f"    name={literal(name)},",
            f"    notebook_path=str({context.project_path(node.path)}),",
            f"    deps=[{', '.join(deps)}],",
            f"    retry_policy=RetryPolicy(max_retries={retries}, delay={policies.backoff_of(node):g}, "
            "backoff=Backoff.EXPONENTIAL),",
        ]
        module.append(")")
    notes = []
    if any(node.parameters for node in _notebooks(context.graph)) or any(p.parameters for p in context.pipelines):
        notes.append(
            "notebook parameters (a notebook's own and a schedule's): dagstermill does not inject parameters; "
            "the notebooks run with the defaults of their parameters cell"
        )
    if any(policies.timeout_of(node) for node in _notebooks(context.graph)):
        notes.append("notebook timeouts: Dagster has no per-asset timeout (a run's dagster/max_runtime tag is one)")
    return ExportCode(
        imports=(
            "from dagster import AssetKey, Backoff, RetryPolicy",
            "from dagstermill import ConfigurableLocalOutputNotebookIOManager, define_dagstermill_asset",
        ),
        module=tuple(module),
        definitions=tuple(names[node.id] for node in _notebooks(context.graph)),
        resources={"output_notebook_io_manager": "ConfigurableLocalOutputNotebookIOManager()"},
        unexpressed=tuple(notes),
    )
