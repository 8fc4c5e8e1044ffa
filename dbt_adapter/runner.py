"""Runs a batch of dbt nodes in one dbt invocation and reports each node live.

One dbt process per batch (never one per node: a fresh dbt process costs
5-8 s), started by the run's launcher (here, or on a Dask worker); its JSON
log is read line by line so each node's start and end reach the engine as
they happen (see :mod:`dbt_adapter.events`). A process, not dbt's in-process
runner, so that a timeout or a cancel can stop dbt (SIGINT first: dbt then
cancels its warehouse queries) and everything it started.

The ``dbt`` kind runs as ``dbt build`` with a compact selection
(:mod:`dbt_adapter.selectors`). A unit test whose model is not in the batch
would be ignored by ``dbt build`` (it runs unit tests only with their model),
so such unit tests run in a ``dbt test`` invocation of their own after it.
The ``dbt_freshness`` kind runs as ``dbt source freshness``. A build that includes microbatch
models gets the run's logical date as its event-time window (:mod:`dbt_adapter.microbatch`).

Project hooks (:mod:`dbt_adapter.hooks`): the batch's ``on-run-start`` hook
nodes run in its first invocation, its ``on-run-end`` hook nodes in its last;
no other invocation runs hooks (:mod:`dbt_adapter.entry`). A batch of hook nodes
alone runs them in a ``dbt build`` that runs no node.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from dbt_adapter.entry import hook_setting
from dbt_adapter.fingerprint import Digests, RunValues
from dbt_adapter.hooks import END, START, hook_type
from dbt_adapter.invocation import Invocation, run_invocation
from dbt_adapter.manifest import Manifest
from dbt_adapter.microbatch import event_time_args
from dbt_adapter.nodes import FRESHNESS_KIND, runs_in_build
from dbt_adapter.parse import referenced_vars
from dbt_adapter.project import DbtProject
from dbt_adapter.recovered import recorded_dbt_outcome
from dbt_adapter.selectors import Arguments, SelectorIndex
from dbt_adapter.source_freshness import SourceChecks
from dbt_adapter.values import read_yaml
from orchestrate_ext.interfaces import BatchReporter, NodeFingerprint, NodeOutcome, NodeTask, RunContext
from orchestrate_ext.model import AttemptRecord, Node

_COMMON = ["--log-format", "json", "--log-level", "info", "--log-level-file", "none"]
_WARN_TESTS_FAIL = json.dumps({"error": ["LogTestResult"]})
"""dbt.warn_blocks: dbt fails ``severity: warn`` tests itself (dbt/task/test.py), and skips what waits for them."""


@dataclass
class _Selections:
    """The selector index of one manifest, built on first use."""

    manifest: Manifest
    index: SelectorIndex | None = None

    def get(self) -> SelectorIndex:
        if self.index is None:
            executed = {uid: item for uid, item in self.manifest.nodes.items() if runs_in_build(item)}
            self.index = SelectorIndex(executed)
        return self.index


class DbtRunner:
    """The :class:`~orchestrate_ext.interfaces.NodeRunner` for dbt nodes and source freshness checks.

    Also a ``RecoverableRunner``: after a crash a node its batch finished is adopted, not built again.

    Args:
        manifest: returns the manifest the graph was built from.
        kind: ``dbt`` (``dbt build``) or ``dbt_freshness`` (``dbt source freshness``).
        digests, source_checks: shared by a plugin's runners (see :meth:`fingerprints`).
    """

    batchable = True

    def __init__(
        self,
        project: DbtProject,
        manifest: Callable[[], Manifest],
        kind: str = "dbt",
        stop_grace: float = 10.0,
        digests: Digests | None = None,
        source_checks: SourceChecks | None = None,
    ) -> None:
        self.project = project
        self.digests = digests or Digests()
        self.source_checks = source_checks or SourceChecks()
        self.manifest = manifest
        self.kind = kind
        self.stop_grace = stop_grace
        self._used_vars: frozenset[str] | None = None
        self._selections: _Selections | None = None

    def run(
        self,
        context: RunContext,
        tasks: Sequence[NodeTask],
        reporter: BatchReporter,
        cancel: threading.Event,
    ) -> None:
        variables = self._variables(context)
        for invocation in self._plan(tasks, variables, context.logical_date):
            if cancel.is_set():
                for task in invocation.tasks:
                    reporter.finished(task.node.id, NodeOutcome.skip("the run was cancelled before dbt started"))
                continue
            run_invocation(invocation, reporter, cancel, self.project, self.stop_grace, context.launcher)

    def recorded_outcome(self, attempt: AttemptRecord) -> NodeOutcome | None:
        """A node the killed batch finished, from the batch's JSON log (see :mod:`dbt_adapter.recovered`)."""
        if self.kind != "dbt":
            return None
        return recorded_dbt_outcome(attempt, attempt.node_id)

    def _plan(
        self, tasks: Sequence[NodeTask], variables: dict[str, object], logical_date: datetime | None = None
    ) -> list[Invocation]:
        manifest = self.manifest()
        plan = self._plan_nodes([task for task in tasks if not hook_type(task.node)], variables, logical_date)
        if not (manifest.hooks and self.project.controls_hooks):
            return plan
        hooks = [task for task in tasks if hook_type(task.node)]
        starts = [task for task in hooks if hook_type(task.node) == START]
        ends = [task for task in hooks if hook_type(task.node) == END]
        if not plan:
            argv = self.project.argv("build", *_COMMON, variables=variables)
            kinds = {START} if starts else set()
            kinds |= {END} if ends else set()
            alone = Invocation("build", argv, hooks, self.project.warn_blocks, hook_setting(kinds, alone=True))
            return [alone]
        plan = [replace(invocation, hooks="") for invocation in plan]
        if starts:
            first = plan[0]
            plan[0] = replace(first, tasks=[*starts, *first.tasks], hooks=START)
        if ends:
            last = plan[-1]
            kinds = {*(last.hooks or "").split(","), END} - {""}
            plan[-1] = replace(last, tasks=[*last.tasks, *ends], hooks=hook_setting(kinds, alone=False))
        return plan

    def _plan_nodes(
        self, tasks: Sequence[NodeTask], variables: dict[str, object], logical_date: datetime | None
    ) -> list[Invocation]:
        if not tasks:
            return []
        by_dbt_id = {_dbt_id(task): task for task in tasks}
        if self.kind == FRESHNESS_KIND:
            everything = {uid for uid, item in self.manifest().sources.items() if item.has_freshness}
            wanted = set(by_dbt_id)
            terms = () if wanted >= everything else tuple(_source_terms(self.manifest(), wanted))
            args = Arguments(select=terms)
            return [self._invocation("source freshness", args, list(tasks), variables)]
        manifest = self.manifest()
        orphans = {
            uid
            for uid in by_dbt_id
            if uid in manifest.nodes
            and manifest.nodes[uid].resource_type == "unit_test"
            and manifest.nodes[uid].tested_node not in by_dbt_id
        }
        index = self._index(manifest)
        plan = []
        built = [task for uid, task in by_dbt_id.items() if uid not in orphans]
        if built:
            ids = {_dbt_id(task) for task in built}
            args = index.arguments(ids, dont_care=orphans)
            batches = event_time_args(manifest.nodes, ids, logical_date) if logical_date else []
            plan.append(self._invocation("build", args, built, variables, batches))
        if orphans:
            args = Arguments(select=tuple(index.term(uid) for uid in sorted(orphans)))
            plan.append(self._invocation("test", args, [by_dbt_id[uid] for uid in sorted(orphans)], variables))
        return plan

    def _invocation(
        self,
        command: str,
        args: Arguments,
        tasks: list[NodeTask],
        variables: dict[str, object],
        extra: Sequence[str] = (),
    ) -> Invocation:
        selection = [*args.argv(), "--indirect-selection", "empty"] if command != "source freshness" else args.argv()
        if self.project.warn_blocks and command != "source freshness":
            selection += ["--warn-error-options", _WARN_TESTS_FAIL]
        argv = self.project.argv(command, *selection, *extra, *_COMMON, variables=variables)
        return Invocation(command=command, argv=argv, tasks=tasks, warn_blocks=self.project.warn_blocks)

    def _index(self, manifest: Manifest) -> SelectorIndex:
        if self._selections is None or self._selections.manifest is not manifest:
            self._selections = _Selections(manifest)
        return self._selections.get()

    def _variables(self, context: RunContext) -> dict[str, object]:
        """The run's values for the ``var()`` names the project reads (``--vars`` JSON)."""
        offered = {
            **context.parameters,
            "logical_date": context.logical_date.isoformat().replace("+00:00", "Z"),
            "run_id": context.run_id,
        }
        if self._used_vars is None:
            self._used_vars = referenced_vars(self.project.settings)
        return {name: value for name, value in offered.items() if name in self._used_vars}

    def fingerprints(
        self, context: RunContext, nodes: Sequence[Node], *, check_sources: bool
    ) -> dict[str, NodeFingerprint | None]:
        """What determines each node's result (see :mod:`dbt_adapter.fingerprint`).

        With ``check_sources``, one ``dbt source freshness`` tells the newest row of every source
        with a freshness rule and a ``loaded_at_field`` that the nodes read (or check).
        """
        settings = self.project.settings
        digest = self.digests.get(settings.manifest_path, settings.project_dir, settings.packages_install_path)
        variables = self._variables(context)
        profile = settings.profile.value if settings.profile else ""
        target = settings.target.value if settings.target else ""
        values = RunValues({**settings.vars, **variables}, _project_vars(self.project), f"{profile}/{target}")
        ids = {node.id: _node_dbt_id(node) for node in nodes}
        loaded = None
        if check_sources:
            if self.kind == FRESHNESS_KIND:
                selectors = digest.sources_to_check((), ids.values())
            else:
                selectors = digest.sources_to_check(ids.values())
            loaded = self.source_checks.get(context.run_id, self.project, selectors, variables, nodes)
        if self.kind == FRESHNESS_KIND:
            return {node_id: digest.freshness_fingerprint(uid, values, loaded) for node_id, uid in ids.items()}
        return {node_id: digest.fingerprint(uid, values, loaded) for node_id, uid in ids.items()}


def _project_vars(project: DbtProject) -> dict[str, object]:
    """The ``vars:`` of dbt_project.yml, as written (dbt renders them where they are read)."""
    raw = read_yaml(project.project_dir / "dbt_project.yml")
    found = raw.get("vars") if isinstance(raw, dict) else None
    return dict(found) if isinstance(found, dict) else {}


def _dbt_id(task: NodeTask) -> str:
    return str(task.node.settings.get("dbt_id") or task.node.id)


def _node_dbt_id(node: Node) -> str:
    return str(node.settings.get("dbt_id") or node.id)


def _source_terms(manifest: Manifest, wanted: set[str]) -> list[str]:
    terms = []
    for uid in sorted(wanted):
        source = manifest.sources.get(uid)
        if source is not None:
            terms.append(f"source:{source.package_name}.{source.source_name}.{source.name}")
    return terms
