"""Starting pipeline work in detached processes: the Jupyter server never runs nodes itself.

"Run now" creates the run in the state store here (so the client gets its id
at once) and starts ``orchestrate retry RUN_ID`` in a new session to carry it
out; retry starts the same command for an existing run; "start scheduler"
starts ``orchestrate scheduler``. The children keep running when Jupyter
stops. Their output goes to a log file in the project's state folder.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from jupyter_extension.server.errors import Conflict
from orchestrate_ext import processes
from orchestrate_ext.errors import BadInput, PluginError
from orchestrate_ext.execution.executor import plan_run
from orchestrate_ext.execution.liveness import OWNER_ENV
from orchestrate_ext.model import RunRecord, RunStatus
from orchestrate_ext.parameters import check_run_parameters
from orchestrate_ext.partial_graph import choose
from orchestrate_ext.project import Project
from orchestrate_ext.selection import select
from orchestrate_ext.store import StateStore

EXIT_WAIT_SECONDS = 15.0
START_WAIT_SECONDS = 30.0
SERVER_OWNER = "jupyter-server"
"""Who closes a run the server created but could not start a process for."""
_ENTRY = "import sys; from orchestrate_ext.cli import main; sys.argv[0] = 'orchestrate'; main()"


class DetachedCommands:
    """Starts ``orchestrate`` commands as detached children and reaps them when they end."""

    def __init__(self, python: str = sys.executable) -> None:
        self.python = python
        self._lock = threading.Lock()
        self._children: dict[str, subprocess.Popen[bytes]] = {}

    def running(self, key: str) -> int | None:
        """The process id of the child started for ``key`` if it still runs."""
        with self._lock:
            process = self._children.get(key)
            return process.pid if process is not None and process.poll() is None else None

    def exit_code(self, key: str) -> int | None:
        """The exit code of the child started for ``key`` once it has ended (None: none started, or it runs)."""
        with self._lock:
            process = self._children.get(key)
            return process.poll() if process is not None else None

    def wait(self, key: str, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for the child started for ``key`` to end; True when none runs."""
        with self._lock:
            process = self._children.get(key)
        if process is None:
            return True
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            return False
        return True

    def start(self, args: Sequence[str], cwd: Path, log_path: Path, key: str | None = None) -> int:
        """Start ``orchestrate ARGS`` in a new session; return its process id.

        Raises:
            Conflict: a child started for the same ``key`` still runs.
        """
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with self._lock:
            previous = self._children.get(key) if key else None
            if previous is not None and previous.poll() is None:
                raise Conflict(
                    f"`orchestrate {shlex.join(args)}` is still running (pid {previous.pid}); wait for it to end"
                )
            try:
                with log_path.open("ab") as log:
                    process = processes.start(
                        [self.python, "-c", _ENTRY, *args], cwd=cwd, env=_child_environment(), stdout=log
                    )
            except OSError as exc:
                raise PluginError(f"cannot start `orchestrate {' '.join(args)}`: {exc}") from exc
            if key:
                self._children[key] = process
        threading.Thread(target=_reap, args=(process,), name=f"orchestrate-reap-{process.pid}", daemon=True).start()
        return process.pid

    def trigger(
        self,
        project: Project,
        store: StateStore,
        selection: str | None,
        logical_date: datetime,
        parameters: Mapping[str, Any] | None = None,
        only_changed: bool | None = None,
    ) -> RunRecord:
        """Create a run of ``selection`` (every node when empty) and start executing it.

        ``parameters`` go to every notebook of the run (over the notebooks' own). ``only_changed``
        runs only the nodes whose fingerprint changed (None: the project's ``defaults.only_changed``).

        Broken nodes and the nodes downstream of them are left out of the run;
        its ``left_out`` says, by node id, why each selected node was.
        """
        partial = project.partial_graph
        choice = choose(partial, select(partial.graph, selection))
        if not any(choice.graph.nodes[node_id].runnable for node_id in choice.node_ids):
            raise BadInput(f"selection '{selection}' contains only sources; nothing would run")
        check_run_parameters((choice.graph.nodes[node_id] for node_id in choice.node_ids), parameters or {})
        if only_changed is None:
            only_changed = project.config.core.defaults.only_changed
        run, states = plan_run(
            choice.graph,
            project.clock,
            set(choice.node_ids),
            logical_date,
            selection=selection or None,
            parameters=parameters,
            only_changed=only_changed,
            left_out=choice.left_out,
        )
        with store.transaction() as tx:
            tx.insert_run(run, states)
        self._execute(project, store, run.run_id, new=True)
        return run

    def retry(self, project: Project, store: StateStore, run_id: str) -> RunRecord:
        """Run again every node of ``run_id`` that has not succeeded."""
        # A run's status is final a moment before the process that executed it exits.
        self.wait(f"run:{run_id}", EXIT_WAIT_SECONDS)
        with store.read() as tx:
            run = tx.get_run(run_id)
        if run.status == RunStatus.RUNNING:
            raise Conflict(f"run {run_id} is still running; wait for it to end or cancel it, then retry")
        if run.status == RunStatus.SUCCESS:
            raise Conflict(f"run {run_id} succeeded; there is nothing to retry")
        self._execute(project, store, run_id)
        return self._await_start(store, run_id)

    def _await_start(self, store: StateStore, run_id: str) -> RunRecord:
        """The run once its new execution has marked it running (so a client polling it sees it go on)."""
        deadline = time.monotonic() + START_WAIT_SECONDS
        while True:
            with store.read() as tx:
                run = tx.get_run(run_id)
            if run.status == RunStatus.RUNNING or time.monotonic() > deadline:
                return run
            if self.running(f"run:{run_id}") is None:
                with store.read() as tx:
                    return tx.get_run(run_id)  # it already ended (or failed to start: see its executor.log)
            time.sleep(0.1)

    def _execute(self, project: Project, store: StateStore, run_id: str, *, new: bool = False) -> None:
        state_dir = project.config.workspace.state_dir
        try:
            self.start(
                ["retry", run_id, "--project", str(project.root)],
                cwd=project.root,
                log_path=state_dir / "runs" / run_id / "executor.log",
                key=f"run:{run_id}",
            )
        except PluginError:
            if new:  # nothing will ever execute it: close it rather than leave it "running"
                now = project.clock.now()
                with store.transaction() as tx:
                    epoch = tx.claim_run(run_id, SERVER_OWNER, now)
                    tx.finish_run(run_id, RunStatus.FAILED, epoch or 0, now)
            raise


def _child_environment() -> dict[str, str]:
    """The server's environment, less any run owner it inherited: each child marks its own."""
    return {name: value for name, value in os.environ.items() if name != OWNER_ENV}


def _reap(process: subprocess.Popen[bytes]) -> None:
    process.wait()
