"""OpenLineage run events of runs and nodes, built with the ``openlineage-python`` client's classes.

- A run of orchestrate is a job ``<job_name>`` (the project folder's name
  unless ``lineage.job_name`` says otherwise); each node is a job
  ``<job_name>.<node id>`` in the same namespace.
- Run ids are UUIDs derived from the run id (and the node id), so every
  process that tells of one run (a resumption, the scheduler) names it the
  same, and a node's events carry the :class:`ParentRunFacet` of its run.
- Every event has the nominal-time facet (the logical date) and the job-type
  facet; a node's job has the source-code-location facet (``file://`` URL of
  its model or notebook) when it has a file; a failed node the error-message facet.
- Inputs and outputs are :func:`orchestrate_ext.datasets.node_datasets`:
  the names the Lab graph shows.

Nothing secret goes in: error messages pass through the project's redactor
before they get here, and no configuration value is copied into an event.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState
from openlineage.client.facet_v2 import (
    JobFacet,
    RunFacet,
    error_message_run,
    job_type_job,
    nominal_time_run,
    parent_run,
    source_code_location_job,
)
from openlineage.client.serde import Serde

from orchestrate_ext.datasets import NodeDatasets

PRODUCER = "https://github.com/orchestrate-ext/orchestrate-ext/tree/main/orchestrate_ext/lineage"
"""The ``producer`` URI of every event."""
INTEGRATION = "ORCHESTRATE_EXT"
_RUN_NAMESPACE = uuid.UUID("5d3c1f3e-6b0e-4f7a-9a57-0a1e1e2a7c11")

STATES = {"START": RunState.START, "COMPLETE": RunState.COMPLETE, "FAIL": RunState.FAIL, "ABORT": RunState.ABORT}


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


def run_event(state: str, when: datetime, run_id: str, job: JobRef, logical_date: datetime, error: str | None) -> str:
    """The event of the orchestrate run itself (the parent job of its nodes), as JSON."""
    facets: dict[str, RunFacet] = {
        "nominalTime": nominal_time_run.NominalTimeRunFacet(nominalStartTime=_time(logical_date))
    }
    if error:
        facets["errorMessage"] = error_message_run.ErrorMessageRunFacet(message=error, programmingLanguage="python")
    event = RunEvent(
        eventType=STATES[state],
        eventTime=_time(when),
        run=Run(runId=run_uuid(run_id), facets=facets),
        job=Job(namespace=job.namespace, name=job.name, facets={"jobType": _job_type("DAG")}),
        producer=PRODUCER,
    )
    return str(Serde.to_json(event))


def node_event(
    state: str,
    when: datetime,
    run_id: str,
    parent: JobRef,
    logical_date: datetime,
    node: NodeFacts,
    error: str | None = None,
    resumption: int = 0,
) -> str:
    """The event of one node of run ``run_id`` (a resumed run's nodes are new runs of their jobs), as JSON."""
    facets: dict[str, RunFacet] = {
        "parent": parent_run.ParentRunFacet(
            run=parent_run.Run(runId=run_uuid(run_id)),
            job=parent_run.Job(namespace=parent.namespace, name=parent.name),
            root=parent_run.Root(
                run=parent_run.RootRun(runId=run_uuid(run_id)),
                job=parent_run.RootJob(namespace=parent.namespace, name=parent.name),
            ),
        ),
        "nominalTime": nominal_time_run.NominalTimeRunFacet(nominalStartTime=_time(logical_date)),
    }
    if error is not None:
        language = "python" if node.kind == "notebook" else "SQL"
        facets["errorMessage"] = error_message_run.ErrorMessageRunFacet(message=error, programmingLanguage=language)
    job_facets: dict[str, JobFacet] = {"jobType": _job_type(node.resource_type.upper())}
    if node.source_file is not None:
        job_facets["sourceCodeLocation"] = source_code_location_job.SourceCodeLocationJobFacet(
            type="file", url=node.source_file.as_uri(), path=str(node.source_file)
        )
    node_key = node.node_id if not resumption else f"{node.node_id}#{resumption}"
    event = RunEvent(
        eventType=STATES[state],
        eventTime=_time(when),
        run=Run(runId=run_uuid(run_id, node_key), facets=facets),
        job=Job(namespace=parent.namespace, name=f"{parent.name}.{node.node_id}", facets=job_facets),
        inputs=[InputDataset(namespace=d.namespace, name=d.name) for d in node.datasets.inputs],
        outputs=[OutputDataset(namespace=d.namespace, name=d.name) for d in node.datasets.outputs],
        producer=PRODUCER,
    )
    return str(Serde.to_json(event))


def _job_type(job_type: str) -> job_type_job.JobTypeJobFacet:
    return job_type_job.JobTypeJobFacet(processingType="BATCH", integration=INTEGRATION, jobType=job_type)
