"""The notebook plugin: notebooks matched by globs become graph nodes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from pydantic import Field, field_validator

from jupyter_extension.notebook_meta import check_kernel_name, read_notebook
from orchestrate_ext.config import StrictModel
from orchestrate_ext.errors import ConfigError
from orchestrate_ext.interfaces import NodeRunner, Workspace
from orchestrate_ext.launcher import WorkerNeeds
from orchestrate_ext.model import Node
from orchestrate_ext.parameters import PARAMETER_NAMES

if TYPE_CHECKING:
    from orchestrate_ext.export.spec import ExportCode, ExportContext, Tool
    from orchestrate_ext.graph import Graph

KIND = "notebook"
HELD_SCHEDULE = "held_schedule"
"""``Node.settings`` key of a copied notebook's schedule, which the scheduler does not see (see
``NotebookSettings.scheduled_as``): ``{"copy_of": path, "schedule": {...}}``."""


class NotebooksConfig(StrictModel):
    """The ``notebooks:`` section: which notebooks belong to the pipeline."""

    include: list[str] = ["**/*.ipynb"]
    exclude: list[str] = []
    kernel: str | None = None
    """Kernel for notebooks that name none; default: the notebook's own kernelspec."""
    warm_kernels: int = Field(default=2, ge=0, le=64)
    """Kernels kept started ahead of the notebooks that need them (a fresh one per notebook); 0 starts
    each notebook's kernel in a worker process of its own when it runs."""

    @field_validator("include", "exclude")
    @classmethod
    def _relative_globs(cls, patterns: list[str]) -> list[str]:
        for pattern in patterns:
            pure = PurePosixPath(pattern)
            if not pattern.strip() or "\x00" in pattern or pure.is_absolute() or ".." in pure.parts:
                raise ValueError(
                    f"{pattern!r} is not a glob inside the project; write one relative to orchestrate.yaml, "
                    "e.g. 'notebooks/*.ipynb'"
                )
        return patterns

    @field_validator("kernel")
    @classmethod
    def _kernel_name(cls, value: str | None) -> str | None:
        return None if value is None else check_kernel_name(value)


def node_id_for(relative: str) -> str:
    return "notebook." + relative.removesuffix(".ipynb")


class NotebookPlugin:
    config_key = "notebooks"
    config_model = NotebooksConfig

    def discover(self, workspace: Workspace, config: NotebooksConfig) -> Sequence[Node]:
        return [self._node(workspace, path, config) for path in find_notebooks(workspace, config)]

    def discover_tolerant(
        self, workspace: Workspace, config: NotebooksConfig
    ) -> tuple[Sequence[Node], Mapping[str, str]]:
        """Every notebook; one whose metadata is invalid is a placeholder node, with its error."""
        nodes: list[Node] = []
        problems: dict[str, str] = {}
        for path in find_notebooks(workspace, config):
            try:
                nodes.append(self._node(workspace, path, config))
            except ConfigError as exc:
                relative = path.relative_to(workspace.root).as_posix()
                stem = relative.removesuffix(".ipynb")
                node_id = node_id_for(relative)
                nodes.append(Node(id=node_id, kind=KIND, resource_type="notebook", name=stem, path=relative))
                problems[node_id] = str(exc)
        return nodes, problems

    def check(self, config: NotebooksConfig, workspace: Workspace, graph: Any) -> Sequence[str]:
        """Warnings for ``orchestrate validate``: schedules held because their notebook is a copy, and
        links to notebooks outside the project, which are no nodes."""
        held_schedules = [
            f"notebook '{node.path}' has the schedule of '{held['copy_of']}' (it is a copy, or was moved): "
            "it does not fire; save its schedule in JupyterLab to start it, or remove the schedule"
            for node in graph.nodes.values()
            if node.kind == KIND and (held := node.settings.get(HELD_SCHEDULE))
        ]
        outside = [
            f"'{link.relative_to(workspace.root).as_posix()}' links to {target}, outside the project folder "
            f"{workspace.root}: it is no node; copy the notebook into the project, or remove the link"
            for link, target in links_out_of_project(workspace, config)
        ]
        return held_schedules + outside

    def worker_needs(self, config: NotebooksConfig, graph: Any) -> WorkerNeeds:
        """papermill, the worker module and every kernel the project's notebooks name."""
        kernels = sorted({str(node.settings["kernel"]) for node in graph.nodes.values() if "kernel" in node.settings})
        if not kernels:
            return WorkerNeeds()
        return WorkerNeeds(("papermill", "ipykernel", "jupyter_extension.worker"), tuple(kernels))

    def export_handles(
        self, tool: Tool, config: NotebooksConfig, workspace: Workspace, graph: Graph
    ) -> Mapping[str, str]:
        """The papermill task (Airflow) or dagstermill asset key (Dagster) of each notebook."""
        from jupyter_extension import export

        return export.handles(tool, graph)

    def export_code(self, config: NotebooksConfig, context: ExportContext) -> ExportCode:
        """The notebooks through papermill's operator (Airflow) or dagstermill (Dagster)."""
        from jupyter_extension import export

        return export.code(context)

    def runners(self, workspace: Workspace, config: NotebooksConfig) -> Mapping[str, NodeRunner]:
        from jupyter_extension.runner import NotebookRunner  # loads kernels' machinery: only for a run

        return {KIND: NotebookRunner(workspace, warm_kernels=config.warm_kernels)}

    @staticmethod
    def _node(workspace: Workspace, path: Path, config: NotebooksConfig) -> Node:
        relative = path.relative_to(workspace.root).as_posix()
        info = read_notebook(path, relative)
        settings = info.settings
        kernel = info.kernel or config.kernel
        if kernel is None:
            raise ConfigError(
                f"notebook '{relative}' names no kernel; set its kernelspec, "
                "`orchestrate.kernel` in its metadata, or `notebooks.kernel` in orchestrate.yaml"
            )
        stem = relative.removesuffix(".ipynb")
        held_for = settings.schedule_held_for(relative)
        schedule = settings.schedule_settings()
        if held_for is not None:
            schedule = {HELD_SCHEDULE: {"copy_of": held_for, **schedule}}
        return Node(
            id=node_id_for(relative),
            kind=KIND,
            resource_type="notebook",
            name=stem,
            path=relative,
            depends_on=tuple(settings.depends_on),
            produces=tuple(settings.produces),
            aliases=(relative, Path(stem).name) if Path(stem).name != stem else (relative,),
            owner=settings.owner,
            tags=frozenset(settings.tags),
            resources=tuple(settings.resources),
            env_passthrough=tuple(settings.env_passthrough),
            retries=settings.retries,
            retry_backoff=settings.retry_backoff,
            timeout=settings.timeout,
            reuse=settings.reuse_policy(),
            parameters=dict(settings.parameters),
            settings={
                "kernel": kernel,
                **settings.observer_settings(),
                **schedule,
                **({} if info.parameter_names is None else {PARAMETER_NAMES: list(info.parameter_names)}),
            },
        )


def find_notebooks(workspace: Workspace, config: NotebooksConfig) -> list[Path]:
    """Notebooks matching ``include`` and not ``exclude``, outside checkpoints and the state folder.

    A notebook is a file inside the project folder once links are followed: a link (or a linked
    folder) that leads outside it gives no node (``validate`` warns, :func:`links_out_of_project`),
    so a project never runs, fingerprints or rewrites a file it does not hold.
    """
    root = workspace.root.resolve()
    return [path for path in _matching(workspace, config) if _inside(path, root)]


def links_out_of_project(workspace: Workspace, config: NotebooksConfig) -> list[tuple[Path, Path]]:
    """The matching notebooks that are links to a file outside the project: (link, where it leads)."""
    root = workspace.root.resolve()
    return [(path, path.resolve()) for path in _matching(workspace, config) if not _inside(path, root)]


def _matching(workspace: Workspace, config: NotebooksConfig) -> list[Path]:
    found: set[Path] = set()
    for pattern in config.include:
        found.update(path for path in workspace.root.glob(pattern) if path.is_file())
    excluded = {path for pattern in config.exclude for path in workspace.root.glob(pattern)}
    state_dir = workspace.state_dir.resolve()
    return sorted(
        path
        for path in found - excluded
        if ".ipynb_checkpoints" not in path.parts and state_dir not in path.resolve().parents
    )


def _inside(path: Path, root: Path) -> bool:
    return root in path.resolve().parents
