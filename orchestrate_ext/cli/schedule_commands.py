"""Commands for schedules: the scheduler process, listing, pausing, ticks, backfill and cancel."""

from __future__ import annotations

import contextlib
import logging
import signal
import sys
import threading
import time
from datetime import datetime
from pathlib import Path
from types import FrameType

import click

from orchestrate_ext import schedule_api as api
from orchestrate_ext.cli import completion
from orchestrate_ext.cli.app import EXIT_FAILED, emit_json, main, project_option
from orchestrate_ext.cli.reading import reading, utc_option
from orchestrate_ext.cli.run_commands import warn_left_out
from orchestrate_ext.cli.schedule_views import schedules_screen, ticks_screen
from orchestrate_ext.clock import (
    check_logical_date,
    clock_from_environment,
    isoformat,
    logical_date_out_of_range,
    parse_duration,
)
from orchestrate_ext.errors import BadInput, RunNotFound
from orchestrate_ext.model import RunStatus
from orchestrate_ext.project import Project
from orchestrate_ext.redact import Redactor
from orchestrate_ext.scheduler_process import load_snapshot, open_scheduler, problem_text, serve
from orchestrate_ext.scheduling.backfill import Backfill, BackfillItem, backfill_dates, parse_bound
from orchestrate_ext.scheduling.exits import record_exit
from orchestrate_ext.scheduling.scheduler import Scheduler, SchedulerOptions
from orchestrate_ext.store.records import SQL_INT_MAX


def _duration(value: str, option: str) -> float:
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise BadInput(f"{option}: {exc}") from None


@main.command()
@click.option("--grace", default="60s", show_default=True, help="On SIGTERM/SIGINT, how long running nodes may finish.")
@click.option("--lease-ttl", default="15s", show_default=True, help="How long a standby waits for a silent holder.")
@click.option("--max-runs", default=8, show_default=True, type=click.IntRange(min=1), help="Runs executed at once.")
@click.option("--reload", "reload_every", default="3s", show_default=True, help="How often to look for changed files.")
@click.option(
    "--stale-after",
    default="60s",
    show_default=True,
    help="A run executed on another host is taken over after this long without a heartbeat.",
)
@project_option
def scheduler(
    project_dir: Path | None, grace: str, lease_ttl: str, max_runs: int, reload_every: str, stale_after: str
) -> None:
    """Fire every schedule on time until stopped (SIGTERM/SIGINT: finish running nodes, then exit).

    One scheduler runs per project; a second one waits as standby and takes
    over when the first one dies. Run it in the foreground, under systemd or
    nohup; see "Scheduling" in the README.
    """
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", stream=sys.stderr)
    grace_seconds = _duration(grace, "--grace")
    options = SchedulerOptions(
        lease_ttl=_duration(lease_ttl, "--lease-ttl"),
        max_concurrent_runs=max_runs,
        stale_after=_duration(stale_after, "--stale-after"),
    )
    clock = clock_from_environment()
    project, store, observers, source = open_scheduler(project_dir, clock, _duration(reload_every, "--reload"))
    state_dir = project.config.workspace.state_dir
    the_scheduler = Scheduler(source, store, clock, options=options, listeners=observers, launcher=project.launcher)
    stop = threading.Event()
    stops = 0
    stopped_by = "stopped"

    def on_signal(signum: int, frame: FrameType | None) -> None:
        nonlocal stops, stopped_by
        stops += 1
        if stops == 1:
            stopped_by = f"stopped by {signal.Signals(signum).name}"
            logging.getLogger(__name__).info(
                "%s: taking no new work; running nodes get %.0f s to finish", signal.Signals(signum).name, grace_seconds
            )
            stop.set()
        else:
            the_scheduler.pool.cancel()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    names = ", ".join(sorted(source.current().definitions)) or "none yet"
    click.echo(f"scheduler {the_scheduler.owner} for {project.root}: schedules {names}", err=True)
    failure: str | None = None
    try:
        serve(the_scheduler, stop, observers=observers)
    except BaseException as exc:
        failure = Redactor()(f"the scheduler stopped on an error: {problem_text(exc)}")
        raise
    finally:
        finished = the_scheduler.shutdown(grace_seconds)
        source.close()
        for observer in observers:
            observer.close(5.0)
        store.close()
        project.close()
        record_exit(state_dir, clock.now(), failure or stopped_by, error=failure is not None)
    click.echo("scheduler stopped" + ("" if finished else " (runs still going were cancelled)"), err=True)


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list.")
@click.option(
    "--count",
    default=None,
    type=click.IntRange(min=1, max=100),
    help="Next fire times listed (default: the next one in the table; 3 in --json).",
)
@utc_option
@project_option
def schedules(project_dir: Path | None, as_json: bool, count: int | None, utc: bool) -> None:
    """List the schedules: state, triggers, next fire time and last run."""
    with reading(project_dir, utc=utc) as read:
        infos = api.list_schedules(read.project, count=count or (3 if as_json else 1), now=read.now)
        if as_json:
            read.emit([api.schedule_document(info) for info in infos])
            return
        read.show(schedules_screen(infos, read.style, more_fire_times=count is not None))


@main.command()
@click.argument("schedule", shell_complete=completion.schedule_names)
@project_option
def pause(project_dir: Path | None, schedule: str) -> None:
    """Pause SCHEDULE: no new ticks or runs until `orchestrate unpause`."""
    api.pause_schedule(project_dir, schedule)
    click.echo(f"paused {schedule}; runs going on finish")


@main.command()
@click.argument("schedule", shell_complete=completion.schedule_names)
@project_option
def unpause(project_dir: Path | None, schedule: str) -> None:
    """Resume SCHEDULE from its next fire time (fire times passed while paused do not run)."""
    state = api.resume_schedule(project_dir, schedule)
    when = f"; next fire time {isoformat(state.next_fire_at)}" if state.next_fire_at else ""
    click.echo(f"resumed {schedule}{when}")


@main.command()
@click.argument("schedule", required=False, shell_complete=completion.schedule_names)
@click.option("--limit", default=50, show_default=True, type=click.IntRange(min=1, max=SQL_INT_MAX))
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list, newest first.")
@utc_option
@project_option
def ticks(project_dir: Path | None, schedule: str | None, limit: int, as_json: bool, utc: bool) -> None:
    """List tick records (one per schedule and fire time or event), newest first, with what became of each."""
    with reading(project_dir, utc=utc) as read:
        if schedule is not None:
            api.get_definition(api.schedule_definitions(read.project), schedule)
        with read.store.read() as tx:
            records = tx.list_ticks(schedule, limit)
            if as_json:
                read.emit([api.tick_document(tick) for tick in records])
                return
            runs = {}
            for tick in records:
                if tick.run_id:
                    with contextlib.suppress(RunNotFound):  # deleted from the history since
                        runs[tick.run_id] = tx.get_run(tick.run_id)
        read.show(ticks_screen(records, runs, read.style))


def _backfill_bound(text: str, timezone: str, *, end: bool) -> datetime:
    """``--start``/``--end`` as a moment, refused (exit 2) outside the accepted logical dates."""
    where = "--end" if end else "--start"
    try:
        moment = parse_bound(text, timezone, end=end)
    except OverflowError:  # 9999-12-31 as --end (the day after), or year 1 east of UTC
        raise BadInput(f"{where}: {logical_date_out_of_range(text)}") from None
    try:
        return check_logical_date(moment, text)
    except ValueError as exc:
        raise BadInput(f"{where}: {exc}") from None


@main.command()
@click.argument("schedule", shell_complete=completion.schedule_names)
@click.option("--start", required=True, help="First date (or date-time), in the schedule's time zone.")
@click.option("--end", required=True, help="Last date (inclusive; or a date-time).")
@click.option("--parallel", default=1, show_default=True, type=click.IntRange(min=1), help="Runs at once.")
@click.option("--force", is_flag=True, help="Run dates again that already succeeded.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per date.")
@project_option
def backfill(
    project_dir: Path | None, schedule: str, start: str, end: str, parallel: int, force: bool, as_json: bool
) -> None:
    """Run SCHEDULE once per fire time from --start to --end, oldest first.

    A broken node and what waits for it are left out of every run with a warning; the rest runs.
    """
    snapshot = load_snapshot(project_dir)
    definition = api.get_definition(dict(snapshot.definitions), schedule)
    dates = backfill_dates(
        definition,
        _backfill_bound(start, definition.timezone, end=False),
        _backfill_bound(end, definition.timezone, end=True),
    )
    project = Project.load(project_dir)
    store = project.open_store()
    try:
        job = Backfill(
            snapshot,
            store,
            project.clock,
            definition,
            force=force,
            parallel=parallel,
            launcher=project.launcher,
        )
    except BadInput:
        store.close()
        raise
    warn_left_out(job.choice)
    cancel = threading.Event()
    previous = signal.signal(signal.SIGINT, lambda *_: cancel.set())

    def started(item: BackfillItem) -> None:
        if not as_json:
            what = f"run {item.run_id}" if item.run_id else f"skipped: {item.reason}"
            click.echo(f"{isoformat(item.logical_date)}  {what}", err=True)

    try:
        click.echo(f"backfilling {schedule}: {len(dates)} fire time(s), {parallel} at a time", err=True)
        items = job.run(dates, cancel, on_item=started)
    finally:
        signal.signal(signal.SIGINT, previous)
        store.close()
        project.close()
    if as_json:
        emit_json(
            [
                {"logical_date": isoformat(i.logical_date), "run_id": i.run_id, "status": i.status, "reason": i.reason}
                for i in items
            ]
        )
    else:
        for item in items:
            click.echo(f"{isoformat(item.logical_date)}  {item.status:<9} {item.run_id or item.reason}")
    sys.exit(EXIT_FAILED if any(item.status not in ("success", "skipped") for item in items) else 0)


@main.command()
@click.argument("run_id", shell_complete=completion.run_ids)
@click.option("--wait", "wait_for", default=None, help="Wait up to this long (e.g. 60s) for the run to end.")
@project_option
def cancel(project_dir: Path | None, run_id: str, wait_for: str | None) -> None:
    """Cancel RUN_ID, wherever it executes (the scheduler, another terminal)."""
    status = api.request_cancel(project_dir, run_id)
    if status == RunStatus.QUEUED:
        click.echo(f"run {run_id} cancelled while queued; it never started")
        return
    if status != RunStatus.RUNNING:
        click.echo(f"run {run_id} already ended: {status.value}")
        return
    click.echo(f"asked the process executing run {run_id} to cancel it")
    if wait_for is None:
        return
    project = Project.load(project_dir)
    store = project.open_store(read_only=True)
    deadline = time.monotonic() + _duration(wait_for, "--wait")
    try:
        while time.monotonic() < deadline:
            with store.read() as tx:
                status = tx.get_run(run_id).status
            if status != RunStatus.RUNNING:
                click.echo(f"run {run_id} {status.value}")
                return
            time.sleep(0.5)
    finally:
        store.close()
    click.echo(f"run {run_id} is still running after {wait_for}", err=True)
    sys.exit(EXIT_FAILED)
