"""What an exported file is made of, and the contract a plugin follows to contribute its nodes to one.

``orchestrate export airflow|dagster`` writes one Python file for another orchestrator. The core knows the
graph, the schedules and the policies (retries, backoff, timeouts); each node plugin knows how its nodes are
run there (dbt through astronomer-cosmos or dagster-dbt, notebooks through papermill or dagstermill). A plugin
implementing :class:`ExportingPlugin` is asked twice:

1. :meth:`ExportingPlugin.export_handles`: a Python expression naming each of its runnable nodes in the file
   (an Airflow task, a Dagster asset key). The core wires dependencies with them.
2. :meth:`ExportingPlugin.export_code`: its imports, its module-level code, its part of every pipeline (the
   tasks of one Airflow DAG; a Dagster job selects the handles, asset keys, itself), and what the tool
   cannot express.

Invariants: the same project gives the same bytes (plugins sort what they emit and render values with
:func:`literal`); everything the target tool cannot express is listed, never dropped silently.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

from orchestrate_ext.model import Node

if TYPE_CHECKING:
    from orchestrate_ext.graph import Graph
    from orchestrate_ext.interfaces import Workspace

Tool = Literal["airflow", "dagster"]
TOOLS: tuple[Tool, ...] = ("airflow", "dagster")


@dataclass(frozen=True)
class Pipeline:
    """One thing that runs together: the whole graph (unscheduled), or one schedule's selection.

    Attributes:
        name: an identifier, unique in the file (a DAG id, a job name).
        nodes: the runnable node ids it runs.
        cron / timezone: when it runs (None: only when triggered by hand).
        catchup: the schedule's ``catchup`` (latest, all, none).
        max_active_runs: runs of it that may be active at once.
        parameters: passed to every notebook of its runs.
    """

    name: str
    nodes: frozenset[str]
    cron: str | None = None
    timezone: str = "UTC"
    catchup: str = "latest"
    max_active_runs: int = 1
    parameters: Mapping[str, Any] = field(default_factory=dict)
    schedule: str | None = None
    """The orchestrate-ext schedule it comes from (None for the whole graph)."""


@dataclass(frozen=True)
class Policies:
    """The project's defaults for every node: retries, first retry delay (doubling), timeout (seconds)."""

    retries: int
    retry_backoff: float
    timeout: float | None

    def retries_of(self, node: Node) -> int:
        return node.retries if node.retries is not None else self.retries

    def backoff_of(self, node: Node) -> float:
        return node.retry_backoff if node.retry_backoff is not None else self.retry_backoff

    def timeout_of(self, node: Node) -> float | None:
        return node.timeout if node.timeout is not None else self.timeout


@dataclass(frozen=True)
class ExportContext:
    """What a plugin renders its code from.

    Attributes:
        tool: ``airflow`` or ``dagster``.
        workspace: the project (paths in the file are written relative to ``project_expr``).
        out_dir: the folder the file is written to.
        graph: the whole graph.
        handles: every runnable node's expression in the file, from every plugin.
        owners: the config key of the plugin that gave each handle.
        pipelines: what the file runs, in order.
        policies: the project's retry and timeout defaults.
    """

    tool: Tool
    workspace: Workspace
    out_dir: Path
    graph: Graph
    handles: Mapping[str, str]
    owners: Mapping[str, str]
    pipelines: Sequence[Pipeline]
    policies: Policies

    project_expr: str = "PROJECT_DIR"
    """The name, in the file, of the project folder (a ``pathlib.Path``)."""

    def inputs(self, node_id: str) -> list[str]:
        """The runnable nodes ``node_id`` waits for (through sources and tests), sorted, that have a handle."""
        found: set[str] = set()
        stack = list(self.graph.parents[node_id])
        seen: set[str] = set()
        while stack:
            parent = stack.pop()
            if parent in seen:
                continue
            seen.add(parent)
            if parent in self.handles:
                found.add(parent)
            else:
                stack.extend(self.graph.parents[parent])
        return sorted(found)

    def project_path(self, relative: str) -> str:
        """The expression of a path relative to the project folder: ``PROJECT_DIR / "notebooks/x.ipynb"``."""
        return self.project_expr if relative in ("", ".") else f"{self.project_expr} / {literal(relative)}"


@dataclass(frozen=True)
class ExportCode:
    """One plugin's part of an exported file.

    Attributes:
        imports: whole import lines (``from cosmos import DbtTaskGroup``); merged and sorted by the core.
        module: module-level code, after the imports (configurations, asset definitions).
        pipeline_lines: by pipeline name, the lines inside that pipeline (Airflow: the tasks in ``with DAG``).
        definitions: names of module-level definitions to list in Dagster's ``Definitions(assets=...)``.
        resources: Dagster resources by key, as expressions.
        wires_own_edges: True when the plugin's code already orders its own nodes among themselves (cosmos,
            ``@dbt_assets``); otherwise the core draws those edges too.
        unexpressed: what the target tool cannot express, one sentence each.
    """

    imports: tuple[str, ...] = ()
    module: tuple[str, ...] = ()
    pipeline_lines: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    definitions: tuple[str, ...] = ()
    resources: Mapping[str, str] = field(default_factory=dict)
    wires_own_edges: bool = False
    unexpressed: tuple[str, ...] = ()


@runtime_checkable
class ExportingPlugin(Protocol):
    """A node plugin whose nodes can be written into an Airflow DAG file or Dagster definitions."""

    def export_handles(self, tool: Tool, config: Any, workspace: Workspace, graph: Graph) -> Mapping[str, str]:
        """An expression naming each runnable node of this plugin's kinds in ``graph``, by node id."""
        ...

    def export_code(self, config: Any, context: ExportContext) -> ExportCode:
        """This plugin's part of the file for its nodes of ``context.graph``; may raise ``ConfigError``."""
        ...


def literal(value: Any) -> str:
    """``value`` as Python source, deterministic: mappings with sorted keys, strings with double quotes."""
    if isinstance(value, str):
        text = repr(value)
        if text.startswith("'") and '"' not in value:
            text = '"' + text[1:-1].replace("\\'", "'") + '"'
        return text
    if isinstance(value, bool) or value is None or isinstance(value, int | float):
        return repr(value)
    if isinstance(value, Mapping):
        items = ", ".join(f"{literal(str(key))}: {literal(item)}" for key, item in sorted(value.items(), key=_key))
        return "{" + items + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(literal(item) for item in value) + "]"
    return literal(str(value))


def _key(item: tuple[Any, Any]) -> str:
    return str(item[0])


def duration(seconds: float) -> str:
    """``timedelta(...)`` source for ``seconds``, in the largest whole unit: ``timedelta(minutes=5)``."""
    for unit, size in (("hours", 3600), ("minutes", 60)):
        if seconds >= size and seconds % size == 0:
            return f"timedelta({unit}={int(seconds // size)})"
    return f"timedelta(seconds={int(seconds) if float(seconds).is_integer() else seconds})"


def identifier(text: str, taken: set[str]) -> str:
    """A Python identifier made from ``text`` (others replaced by ``_``), not in ``taken``; added to it."""
    base = "".join(char if char.isalnum() or char == "_" else "_" for char in text).strip("_") or "node"
    if base[0].isdigit():
        base = f"n_{base}"
    name, counter = base, 2
    while name in taken or name in _RESERVED:
        name = f"{base}_{counter}"
        counter += 1
    taken.add(name)
    return name


_RESERVED = frozenset(
    {"dag", "dbt", "defs", "timedelta", "datetime", "Path", "PROJECT_DIR", "DEFAULT_ARGS", "def", "class", "in"}
)
