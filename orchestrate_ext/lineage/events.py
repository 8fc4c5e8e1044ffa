"""Facts (:mod:`orchestrate_ext.lineage.facts`) as OpenLineage ``RunEvent``\\ s, built with the client's classes.

Every event has the nominal-time facet (the logical date) and the job-type
facet; a node's event has the parent-run facet (its orchestrate run, which is
also the root), its job the source-code-location facet (``file://`` URL of its
model or notebook) when it has a file, and a failed run or node the
error-message facet. Imported only by the sender's thread, when lineage is on.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

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

PRODUCER = "https://github.com/orchestrate-ext/orchestrate-ext/tree/main/orchestrate_ext/lineage"
"""The ``producer`` URI of every event."""
INTEGRATION = "ORCHESTRATE_EXT"
STATES = {"START": RunState.START, "COMPLETE": RunState.COMPLETE, "FAIL": RunState.FAIL, "ABORT": RunState.ABORT}


def to_event(facts: dict[str, Any]) -> RunEvent:
    """The ``RunEvent`` the facts of one run or node describe."""
    job = facts["job"]
    run_facets: dict[str, RunFacet] = {
        "nominalTime": nominal_time_run.NominalTimeRunFacet(nominalStartTime=facts["nominal_time"])
    }
    parent = facts.get("parent")
    if parent:
        run_facets["parent"] = parent_run.ParentRunFacet(
            run=parent_run.Run(runId=parent["run_id"]),
            job=parent_run.Job(namespace=parent["namespace"], name=parent["name"]),
            root=parent_run.Root(
                run=parent_run.RootRun(runId=parent["run_id"]),
                job=parent_run.RootJob(namespace=parent["namespace"], name=parent["name"]),
            ),
        )
    if facts.get("error"):
        run_facets["errorMessage"] = error_message_run.ErrorMessageRunFacet(
            message=facts["error"], programmingLanguage=facts.get("language") or "python"
        )
    job_facets: dict[str, JobFacet] = {
        "jobType": job_type_job.JobTypeJobFacet(processingType="BATCH", integration=INTEGRATION, jobType=job["type"])
    }
    if facts.get("source_file"):
        source = Path(facts["source_file"])
        job_facets["sourceCodeLocation"] = source_code_location_job.SourceCodeLocationJobFacet(
            type="file", url=source.as_uri(), path=str(source)
        )
    return RunEvent(
        eventType=STATES[facts["state"]],
        eventTime=facts["time"],
        run=Run(runId=facts["run_id"], facets=run_facets),
        job=Job(namespace=job["namespace"], name=job["name"], facets=job_facets),
        inputs=[InputDataset(namespace=d["namespace"], name=d["name"]) for d in facts.get("inputs", [])],
        outputs=[OutputDataset(namespace=d["namespace"], name=d["name"]) for d in facts.get("outputs", [])],
        producer=PRODUCER,
    )


def to_json(facts: dict[str, Any]) -> str:
    """The event as the collector receives it."""
    return str(Serde.to_json(to_event(facts)))
