"""The program every dbt process of a run executes: dbt's own CLI, told which project hooks it runs.

dbt runs the project's ``on-run-start`` hooks in ``RunTask.before_run`` and its
``on-run-end`` hooks in ``RunTask.after_run`` (``dbt/task/run.py``,
``safe_run_hooks``), once per invocation that selected something, for ``run``,
``build``, ``seed``, ``snapshot`` and ``test`` alike. orchestrate-ext splits a
run into several dbt invocations (batches, retries, resumptions), so it makes
the hooks nodes of the run (:mod:`dbt_adapter.hooks`) and tells each process,
through :data:`HOOKS_ENV`, which hook types are its to run:

- unset: dbt's own behaviour (a project without hooks, ``dbt.executable``);
- ``""``: none;
- ``on-run-start`` and/or ``on-run-end`` (comma separated): those only;
- with ``hooks-only``: those hooks and no node, as if the selection were
  empty but dbt still ran its hooks (an ``on-run-end`` after the last batch
  was skipped because of a failure upstream).

The filter is applied where dbt gathers hooks (``RunTask.get_hooks_by_type``),
so ordering, the ``LogHookStartLine``/``LogHookEndLine`` events, run results and
the skipping of later hooks after a failed one stay dbt's own.

:data:`DBT_MAIN` is source text run as ``python -c``: it imports only dbt, so it
runs with the Python of whichever machine runs the try (a Dask worker's too).
"""

from __future__ import annotations

HOOKS_ENV = "ORCHESTRATE_DBT_HOOKS"
HOOKS_ONLY = "hooks-only"

DBT_MAIN = f"""\
import os, sys
from dbt.cli.main import cli
wanted = os.environ.get({HOOKS_ENV!r})
if wanted is not None:
    from dbt.task.run import RunTask
    from dbt.version import __version__
    if not all(hasattr(RunTask, name) for name in ("get_hooks_by_type", "execute_with_hooks", "_runtime_initialize")):
        sys.exit(f"orchestrate-ext cannot choose the project hooks dbt {{__version__}} runs; use dbt-core 1.6 to 1.11")
    kinds = set(wanted.split(","))
    every_hook = RunTask.get_hooks_by_type
    RunTask.get_hooks_by_type = lambda task, kind: every_hook(task, kind) if str(kind) in kinds else []
    if {HOOKS_ONLY!r} in kinds:
        try:
            from dbt_common.events.contextvars import task_contextvars
        except ImportError:  # dbt-core before 1.8
            from dbt.events.contextvars import task_contextvars
        def hooks_only(task):
            with task_contextvars(project_root=task.config.project_root):
                task._runtime_initialize()
                result = task.execute_with_hooks(frozenset())
            task.task_end_messages(result.results)
            return result
        RunTask.run = hooks_only
        RunTask.execute_nodes = lambda task: []
sys.exit(cli())
"""
"""What the ``dbt`` script does, with the hook filter above."""


def hook_setting(kinds: set[str], *, alone: bool) -> str:
    """The value of :data:`HOOKS_ENV` for a process that runs ``kinds`` (alone: and no node)."""
    return ",".join(sorted(kinds | {HOOKS_ONLY} if alone else kinds))
