"""Schedules, the scheduler process, backfill and triggers.

For other parts of the product (the CLI, the JupyterLab server extension),
:mod:`orchestrate_ext.schedule_api` offers plain functions; each takes the
project folder (or a loaded ``Project``) and needs no running scheduler::

    from orchestrate_ext.scheduling import api

    api.list_schedules(root)          # (a) every schedule: next fire times (UTC; show them in
                                      #     info.definition.timezone), paused flag, last tick, last run
    api.pause_schedule(root, name)    # (b) stop recording ticks and starting runs
    api.resume_schedule(root, name)   #     ... and carry on from the next fire time after now
    api.scheduler_status(root)        # (c) LeaseStatus: is a scheduler running for this project, which one
    api.request_cancel(root, run_id)  # (d) flag a run; the process executing it cancels it within ~1 s
    api.list_ticks(root, name)        # tick records, newest first

``schedule_document``, ``tick_document`` and ``lease_document`` turn the
results into JSON-ready dicts (the shapes ``orchestrate schedules --json`` and
``orchestrate ticks --json`` print). Writing ``orchestrate.schedule`` (a cron
string) and ``orchestrate.timezone`` into a notebook's metadata is enough to
schedule it: a running scheduler notices within a few seconds.

Modules, from the bottom up:

* ``cron`` — cron expressions in IANA time zones (the croniter wrapper; DST rules).
* ``settings`` — the ``schedules:`` entries of orchestrate.yaml and a node's ``schedule`` key.
* ``definitions`` — every schedule of a project, and which nodes one of its runs includes.
* ``store``, ``sqlite_store``, ``sqlite_lease`` — ticks, the next-fire index, pause flags, the lease,
  file state.
* ``catchup``, ``triggers`` — which ticks a due schedule, a file change or an upstream success records.
* ``scheduler``, ``options``, ``dispatch``, ``source``, ``serve`` — the scheduler's step, the runs
  it executes, reloading the project when its files change, and the process's main loop. Claims,
  liveness and crash recovery live in :mod:`orchestrate_ext.execution`.
* ``backfill`` — one run per fire time between two dates.
"""
