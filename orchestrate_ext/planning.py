"""What a run would do, without doing it: ``orchestrate plan`` and ``GET /orchestrate/api/plan``.

A plan answers, for each node a run of the same selection would take up: it *runs*, it is
*reused* (the result of which earlier run it stands for) or it is *left out*, and why.

Protocol: every answer comes from the rule the run itself applies, never from a copy of it:

* the selection is :func:`~orchestrate_ext.selection.select` on the partial graph, and the
  nodes left out are :meth:`~orchestrate_ext.partial_graph.PartialGraph.left_out` of it, as for
  every entry point that starts runs;
* the run's nodes are those :func:`~orchestrate_ext.execution.executor.plan_run` gives a new run;
* in an ``--only-changed`` run, reuse is decided by
  :meth:`~orchestrate_ext.execution.reuse.Fingerprints.decide_ahead`: the run loop's own decision
  (:meth:`~orchestrate_ext.execution.reuse.Fingerprints.decide`), made for every node up front on
  the assumption that each node that runs succeeds (a failure makes what waits for it
  ``upstream_failed`` instead).

Invariants: a plan writes nothing to the state store (it reads it through a read-only
connection, and a store that does not exist yet reads empty and is not created) and starts no
node. A runner may read to fingerprint its nodes, exactly as the run will: the dbt runner checks
the newest rows of sources that have a freshness rule (one ``dbt source freshness``, read-only
queries, its results in a temporary file; no build, no ``run_results.json``). Loading the project
parses the dbt project only when dbt would need to (the manifest is missing or stale).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from orchestrate_ext.clock import Clock, isoformat
from orchestrate_ext.config import Defaults
from orchestrate_ext.execution.executor import RunEnvironment, plan_run
from orchestrate_ext.execution.reuse import Fingerprints
from orchestrate_ext.interfaces import NodeRunner, RunContext
from orchestrate_ext.model import result_run
from orchestrate_ext.partial_graph import PartialGraph
from orchestrate_ext.project import Project
from orchestrate_ext.selection import select
from orchestrate_ext.store import StateStore

FULL_RUN = "a full run (not --only-changed)"


class Action(StrEnum):
    RUN = "run"
    REUSED = "reused"
    LEFT_OUT = "left_out"


@dataclass(frozen=True, slots=True)
class PlannedNode:
    """What the run would do with one node.

    Attributes:
        reuses_run: for a reused node, the run that produced the result it stands for.
    """

    id: str
    action: Action
    reason: str
    reuses_run: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "action": self.action.value, "reason": self.reason, "reuses_run": self.reuses_run}


@dataclass(frozen=True)
class Plan:
    """A run's nodes (and those its selection chose but leaves out), in graph order."""

    logical_date: datetime
    only_changed: bool
    nodes: tuple[PlannedNode, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "logical_date": isoformat(self.logical_date),
            "only_changed": self.only_changed,
            "nodes": [node.to_json() for node in self.nodes],
        }


def plan_project(
    project: Project,
    store: StateStore,
    selection: str | None,
    logical_date: datetime,
    *,
    only_changed: bool | None = None,
    parameters: Mapping[str, Any] | None = None,
) -> Plan:
    """What ``orchestrate run`` of ``selection`` would do now; ``store`` should be opened read-only.

    ``only_changed`` None takes the project's ``defaults.only_changed``, as a run does.

    Raises:
        SelectorError: the selection is malformed or matches no node.
    """
    partial = project.partial_graph
    chosen = select(partial.graph, selection)
    defaults = project.config.core.defaults
    return plan_nodes(
        partial,
        chosen,
        project.runners,
        store,
        project.clock,
        logical_date,
        state_dir=project.config.workspace.state_dir,
        only_changed=defaults.only_changed if only_changed is None else only_changed,
        parameters=parameters,
    )


def plan_nodes(
    partial: PartialGraph,
    chosen: set[str],
    runners: Mapping[str, NodeRunner],
    store: StateStore,
    clock: Clock,
    logical_date: datetime,
    *,
    state_dir: Path,
    only_changed: bool,
    parameters: Mapping[str, Any] | None = None,
) -> Plan:
    """The plan of a run of ``chosen`` (node ids of ``partial.graph``); see the module docstring.

    Args:
        state_dir: the project's state folder (a run's folder is named in it, never made).
    """
    left_out = partial.left_out(chosen)
    runnable = partial.runnable()
    run, states = plan_run(
        runnable,
        clock,
        {node_id for node_id in chosen if node_id in runnable.nodes},
        logical_date,
        parameters=parameters,
        only_changed=only_changed,
    )
    order = [state.node_id for state in states]
    decided: dict[str, PlannedNode] = {}
    if only_changed and order:
        environment = RunEnvironment(runnable, runners, store, clock, state_dir, concurrency=1, defaults=Defaults())
        context = RunContext(
            run_id=run.run_id,
            logical_date=logical_date,
            run_dir=state_dir / "runs" / run.run_id,  # named, never made: no node runs
            parameters=dict(run.parameters),
            launcher=environment.launcher,
        )
        fingerprints = Fingerprints(environment, context, order)
        fingerprints.check_sources = True  # as the run does (run_loop: ``check_sources = run.only_changed``)
        with store.read() as tx:
            last = tx.last_successes(order)
        records = {state.node_id: state for state in states}
        for node_id, decision in fingerprints.decide_ahead(order, records, last).items():
            if decision.reused is not None and decision.reused.result is not None:
                producer = result_run(decision.reused.result)
                decided[node_id] = PlannedNode(node_id, Action.REUSED, decision.reason, producer)
            else:
                decided[node_id] = PlannedNode(node_id, Action.RUN, decision.reason)
    else:
        decided = {node_id: PlannedNode(node_id, Action.RUN, FULL_RUN) for node_id in order}
    for node_id, reason in left_out.items():
        decided[node_id] = PlannedNode(node_id, Action.LEFT_OUT, reason)
    nodes = tuple(decided[node_id] for node_id in partial.graph.order if node_id in decided)
    return Plan(logical_date, only_changed, nodes)
