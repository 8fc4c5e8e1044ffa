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

Modules, from the bottom up (the cron wrapper, :mod:`orchestrate_ext.cron`, and the ``schedules:``
settings, :mod:`orchestrate_ext.schedule_settings`, are part of the base layer: the config schema):

* ``definitions`` — every schedule of a project, and which nodes one of its runs includes.
* ``catchup``, ``triggers`` — which ticks a due schedule, a file change or an upstream success records.
* ``indexing`` — the next-fire index.
* ``scheduler``, ``options``, ``dispatch``, ``source``, ``exits`` — the scheduler's step, the runs it
  executes, reloading the project when its files change (``source`` takes the loader from the app),
  and the record of its exit. Claims, liveness and crash recovery live in :mod:`orchestrate_ext.execution`.
* ``backfill`` — one run per fire time between two dates.

The process's main loop, which loads the project, is :mod:`orchestrate_ext.scheduler_process` (app layer).
"""
