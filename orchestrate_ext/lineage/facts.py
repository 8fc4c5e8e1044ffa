"""What one OpenLineage event says, as plain JSON-ready data (no client needed to write it).

The observer writes these to the outbox from the run's own thread, so a run
never waits for the ``openlineage-python`` client to import (≈ 0.5 s and more);
the sender turns them into the client's ``RunEvent`` (:mod:`orchestrate_ext.lineage.events`)
in its own thread, just before sending.

- A run of orchestrate is a job ``<job_name>`` (the project folder's name
  unless ``lineage.job_name`` says otherwise); each node is a job
  ``<job_name>.<node id>`` in the same namespace.
- Run ids are UUIDs derived from the run id (and the node id, and the
  resumption for a resumed run's nodes), so every process that tells of one
  run names it the same, and a node's events can point at their run's.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from orchestrate_ext.datasets import NodeDatasets

STATES = ("START", "COMPLETE", "FAIL", "ABORT")
_RUN_NAMESPACE = uuid.UUID("5d3c1f3e-6b0e-4f7a-9a57-0a1e1e2a7c11")


def run_uuid(run_id: str, node_id: str | None = None) -> str:
    """The OpenLineage run id of orchestrate run ``run_id`` (or of its node ``node_id``)."""
    name = run_id if node_id is None else f"{run_id}/{node_id}"
    return str(uuid.uuid5(_RUN_NAMESPACE, name))


@dataclass(frozen=True, slots=True)
class JobRef:
    namespace: str
    name: str


@dataclass(frozen=True, slots=True)
class NodeFacts:
    """What one node's events say about the node."""

    node_id: str
    resource_type: str
    kind: str
    source_file: Path | None
    """The absolute path of its model, seed or notebook file, if it has one."""
    datasets: NodeDatasets


def _time(value: datetime) -> str:
    return value.astimezone(UTC).isoformat()


def run_facts(
    state: str, when: datetime, run_id: str, job: JobRef, logical_date: datetime, error: str | None
) -> dict[str, Any]:
    """The event of the orchestrate run itself (the parent job of its nodes)."""
    return {
        "state": state,
        "time": _time(when),
        "run_id": run_uuid(run_id),
        "job": {"namespace": job.namespace, "name": job.name, "type": "DAG"},
        "nominal_time": _time(logical_date),
        "error": error,
    }


def node_facts(
    state: str,
    when: datetime,
    run_id: str,
    parent: JobRef,
    logical_date: datetime,
    node: NodeFacts,
    error: str | None = None,
    resumption: int = 0,
) -> dict[str, Any]:
    """The event of one node of run ``run_id`` (a resumed run's nodes are new runs of their jobs)."""
    key = node.node_id if not resumption else f"{node.node_id}#{resumption}"
    return {
        "state": state,
        "time": _time(when),
        "run_id": run_uuid(run_id, key),
        "job": {
            "namespace": parent.namespace,
            "name": f"{parent.name}.{node.node_id}",
            "type": node.resource_type.upper(),
        },
        "parent": {"run_id": run_uuid(run_id), "namespace": parent.namespace, "name": parent.name},
        "nominal_time": _time(logical_date),
        "source_file": str(node.source_file) if node.source_file is not None else None,
        "language": "python" if node.kind == "notebook" else "SQL",
        "inputs": [dataset.to_json() for dataset in node.datasets.inputs],
        "outputs": [dataset.to_json() for dataset in node.datasets.outputs],
        "error": error,
    }
