"""The dbt plugin: every resource of the manifest as a graph node, run with dbt itself.

It owns the ``dbt:`` key of orchestrate.yaml. ``discover`` resolves the
project as dbt does (:mod:`dbt_adapter.resolution`), keeps the manifest
current (:mod:`dbt_adapter.parse`) and turns it into nodes (:mod:`dbt_adapter.nodes`,
with the project hooks of :mod:`dbt_adapter.hooks`); ``runners`` needs a loadable profile, so a
missing profile, target or environment variable stops a run before anything
is written. ``check`` and ``describe`` serve ``orchestrate validate``;
``initial_config`` serves ``orchestrate init``; ``worker_needs`` tells what the machines running
dbt need (dbt and the profile's adapter). The runners of one plugin share the manifest's
fingerprint digest and the sources checked in a run (:mod:`dbt_adapter.fingerprint`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dbt_adapter.hooks import with_hooks
from dbt_adapter.lineage_names import dataset_namespace
from dbt_adapter.manifest import Manifest, read_manifest
from dbt_adapter.nodes import FRESHNESS_KIND, KIND, Naming, nodes_from_manifest
from dbt_adapter.parse import check_packages, ensure_manifest
from dbt_adapter.project import DbtConfig, DbtProject
from orchestrate_ext.errors import BadInput
from orchestrate_ext.interfaces import Finding, InitialConfig, NodeRunner, Workspace
from orchestrate_ext.launcher import WorkerNeeds
from orchestrate_ext.model import Node

if TYPE_CHECKING:
    from dbt_adapter.fingerprint import Digests
    from dbt_adapter.source_freshness import SourceChecks
    from orchestrate_ext.export.spec import ExportCode, ExportContext, Tool
    from orchestrate_ext.graph import Graph

CHECKPOINTS = ".ipynb_checkpoints"
IGNORE_CHECKPOINTS = "ignore_checkpoints"
"""The fix that adds JupyterLab's checkpoint folders to the dbt project's ``.dbtignore``."""


class DbtPlugin:
    config_key = "dbt"
    config_model = DbtConfig

    def __init__(self) -> None:
        self._manifests: dict[Path, Manifest] = {}
        self._adapters: dict[str, str | None] = {}
        self._shared: tuple[Digests, SourceChecks] | None = None

    def discover(self, workspace: Workspace, config: DbtConfig) -> Sequence[Node]:
        return self._discover(workspace, config, None)

    def discover_tolerant(self, workspace: Workspace, config: DbtConfig) -> tuple[Sequence[Node], Mapping[str, str]]:
        """Every resource; one whose ``meta.orchestrate`` is invalid comes with its error (it is left out)."""
        problems: dict[str, str] = {}
        return self._discover(workspace, config, problems), problems

    def _discover(self, workspace: Workspace, config: DbtConfig, problems: dict[str, str] | None) -> list[Node]:
        project = DbtProject.from_config(workspace, config)
        self._adapters[config.model_dump_json()] = project.settings.adapter_type
        manifest = ensure_manifest(project)
        self._manifests[project.manifest_path] = manifest
        nodes = nodes_from_manifest(
            manifest,
            project.project_dir,
            project.workspace_root,
            project.resources,
            problems=problems,
            naming=_naming(project),
        )
        if not (manifest.hooks and project.controls_hooks):
            return nodes
        where = os.path.relpath(project.project_dir / "dbt_project.yml", project.workspace_root)
        return with_hooks(nodes, manifest, project.project_dir, where.replace(os.sep, "/"))

    def runners(self, workspace: Workspace, config: DbtConfig) -> Mapping[str, NodeRunner]:
        project = DbtProject.from_config(workspace, config)
        project.settings.require_profile()
        check_packages(project.settings)

        def manifest() -> Manifest:
            found = self._manifests.get(project.manifest_path)
            if found is None:
                found = self._manifests[project.manifest_path] = read_manifest(project.manifest_path)
            return found

        from dbt_adapter.runner import DbtRunner  # the runners' modules load only for a run (not `graph`)

        digests = self._digests()
        assert self._shared is not None
        checks = self._shared[1]
        return {
            KIND: DbtRunner(project, manifest, digests=digests, source_checks=checks),
            FRESHNESS_KIND: DbtRunner(project, manifest, kind=FRESHNESS_KIND, digests=digests, source_checks=checks),
        }

    def worker_needs(self, config: DbtConfig, graph: Any) -> WorkerNeeds:
        """dbt, and the adapter of the profile's target (``dbt.adapters.duckdb``) when the profile loaded."""
        adapter = self._adapters.get(config.model_dump_json())
        return WorkerNeeds(("dbt", f"dbt.adapters.{adapter}") if adapter else ("dbt",))

    def check(self, config: DbtConfig, workspace: Workspace, graph: Any) -> Sequence[str]:
        """Raise ``ConfigError`` when dbt could not load the profile; warn about notebook checkpoints read as
        nodes and about freshness rules dbt cannot compute (runs warn on those checks, never block on them)."""
        project = DbtProject.from_config(workspace, config)
        project.settings.require_profile()
        checkpoints = [
            Finding(
                f"dbt reads {node.path} (a JupyterLab checkpoint) as {node.resource_type} '{node.id}'; "
                f"add `{CHECKPOINTS}/` to .dbtignore in the dbt project (`orchestrate init` does)",
                IGNORE_CHECKPOINTS,
                f"Add {CHECKPOINTS}/ to .dbtignore",
            )
            for node in graph.nodes.values()
            if node.kind == KIND and CHECKPOINTS in node.path.split("/")
        ]
        return [*checkpoints, *self._uncomputable_freshness(project, graph)]

    def _uncomputable_freshness(self, project: DbtProject, graph: Any) -> list[str]:
        """A freshness check whose source has no ``loaded_at_field`` on an adapter without metadata freshness.

        The rule is the one ``--only-changed`` runs use (:attr:`dbt_adapter.fingerprint.Source.checkable`);
        at run time dbt reports these as runtime errors and the check only warns (:mod:`dbt_adapter.outcomes`).
        """
        from dbt_adapter.source_freshness import has_metadata_freshness

        checks = [node for node in graph.nodes.values() if node.kind == FRESHNESS_KIND]
        adapter = project.settings.adapter_type
        if not checks or not project.manifest_path.is_file() or has_metadata_freshness(adapter):
            return []
        digest = self._digests().get(project.manifest_path, project.project_dir, project.settings.packages_install_path)
        warnings = []
        for node in sorted(checks, key=lambda found: found.id):
            source = digest.sources.get(str(node.settings.get("dbt_id")))
            if source is None or source.checkable:
                continue
            qualified = node.name.removesuffix(".freshness")
            warnings.append(
                f"{node.id}: dbt cannot compute the freshness of source '{qualified}' ({node.path}): it has a "
                f"freshness rule but no loaded_at_field, and the {adapter} adapter has no metadata-based freshness, "
                "so every run only warns on this check and never blocks what reads the source; add "
                f"`loaded_at_field: <timestamp column>` (or `loaded_at_query`) to the source '{qualified}' in "
                f"{node.path}, or remove its freshness rule"
            )
        return warnings

    def _digests(self) -> Digests:
        from dbt_adapter.fingerprint import Digests
        from dbt_adapter.source_freshness import SourceChecks

        if self._shared is None:
            self._shared = (Digests(), SourceChecks())
        return self._shared[0]

    def fix(self, action: str, config: DbtConfig, workspace: Workspace) -> str:
        """``ignore_checkpoints``: add ``.ipynb_checkpoints/`` to the dbt project's ``.dbtignore`` (idempotent)."""
        if action != IGNORE_CHECKPOINTS:
            raise BadInput(f"the dbt plugin has no fix '{action[:100]}'; it has '{IGNORE_CHECKPOINTS}'")
        from dbt_adapter.scaffold import ensure_ignored

        return ensure_ignored(DbtProject.from_config(workspace, config).project_dir)

    def describe(self, config: DbtConfig, workspace: Workspace) -> Sequence[str]:
        """The resolved profile, target and manifest path, for ``orchestrate validate``."""
        return DbtProject.from_config(workspace, config).settings.describe()

    def export_handles(self, tool: Tool, config: DbtConfig, workspace: Workspace, graph: Graph) -> Mapping[str, str]:
        """The cosmos task (Airflow) or dagster-dbt asset key (Dagster) of each model, seed and snapshot."""
        from dbt_adapter import export

        return export.handles(tool, graph)

    def export_code(self, config: DbtConfig, context: ExportContext) -> ExportCode:
        """The dbt project through astronomer-cosmos (Airflow) or ``@dbt_assets`` (Dagster)."""
        from dbt_adapter import export

        return export.code(config, context)

    def initial_config(self, folder: Path) -> InitialConfig | None:
        from dbt_adapter.scaffold import initial_config

        return initial_config(folder)


def _naming(project: DbtProject) -> Naming | None:
    """How the target's relations are named as OpenLineage datasets; None when the profile did not load."""
    settings = project.settings
    namespace = dataset_namespace(settings.adapter_type, settings.connection, settings.project_dir)
    if namespace is None or settings.adapter_type is None:
        return None
    return Naming(settings.adapter_type, namespace)
