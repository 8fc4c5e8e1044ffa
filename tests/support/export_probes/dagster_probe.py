"""Run with the Dagster test environment's Python: load a definitions file, print its asset graph as JSON.

``python dagster_probe.py FILE`` prints ``{"assets": {key: [parent keys]}, "jobs": [...], "schedules":
{name: [cron, timezone]}}``.
"""

import importlib.util
import json
import sys

spec = importlib.util.spec_from_file_location("exported", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
defs = module.defs
graph = defs.resolve_asset_graph()
assets = {
    key.to_user_string(): sorted(parent.to_user_string() for parent in graph.get(key).parent_keys)
    for key in graph.get_all_asset_keys()
    if graph.get(key).is_materializable
}
schedules = {schedule.name: [schedule.cron_schedule, schedule.execution_timezone] for schedule in defs.schedules or []}
jobs = sorted(job.name for job in defs.jobs or [])
print(json.dumps({"assets": assets, "jobs": jobs, "schedules": schedules}, sort_keys=True))
