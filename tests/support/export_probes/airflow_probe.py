"""Run with the Airflow test environment's Python: load DAG files with Airflow's DagBag, print JSON.

``python airflow_probe.py DAG_FOLDER`` prints ``{"import_errors": {...}, "dags": {dag_id: {"tasks": [...],
"edges": [[upstream, downstream], ...]}}}``.
"""

import json
import sys

from airflow.models.dagbag import DagBag

bag = DagBag(dag_folder=sys.argv[1])
dags = {}
for dag_id, dag in sorted(bag.dags.items()):
    tasks = sorted(task.task_id for task in dag.tasks)
    edges = sorted([task.task_id, child] for task in dag.tasks for child in task.downstream_task_ids)
    dags[dag_id] = {"tasks": tasks, "edges": edges}
print(json.dumps({"import_errors": {str(k): str(v) for k, v in bag.import_errors.items()}, "dags": dags}))
