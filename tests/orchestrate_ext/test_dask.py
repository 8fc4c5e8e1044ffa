"""Tries on a real Dask cluster: a `dask scheduler` and two `dask worker` processes on loopback.

Notebooks run through papermill on the workers; a worker killed with SIGKILL
mid-try makes the try `crashed` and the node succeeds on the other worker;
cancel and timeout stop the remote kernel; nothing is left running.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import psutil
import pytest

from orchestrate_ext.execution.dask_launcher import DaskLauncher
from orchestrate_ext.launcher import WORKER_PYTHON, Command
from tests.conftest import run_cli
from tests.jupyter_extension.test_notebook_nodes import write_notebook

pytestmark = pytest.mark.slow

BIN = Path(sys.executable).parent


@dataclass
class Cluster:
    address: str
    scheduler: subprocess.Popen[bytes]
    workers: list[subprocess.Popen[bytes]]
    log: IO[bytes]

    def start_worker(self, name: str) -> subprocess.Popen[bytes]:
        """A `dask worker` process without a nanny (a killed worker stays dead until started again)."""
        options = ["--nthreads", "1", "--no-nanny", "--no-dashboard", "--host", "127.0.0.1", "--name", name]
        worker = subprocess.Popen(
            [str(BIN / "dask"), "worker", self.address, *options],
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        self.workers.append(worker)
        return worker

    def addresses(self) -> set[str]:
        launcher = DaskLauncher(self.address)
        try:
            return set(launcher.workers())
        finally:
            launcher.close()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    """A scheduler and two workers without nannies (a killed worker stays dead), each a real process."""
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    log = (tmp_path / "dask.log").open("ab")
    scheduler = subprocess.Popen(
        [str(BIN / "dask"), "scheduler", "--host", "127.0.0.1", "--port", str(port), "--dashboard-address", ":0"],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    found = Cluster(address, scheduler, [], log)
    for number in range(2):
        found.start_worker(f"w{number}")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if len(found.addresses()) == 2:
                break
        except Exception:  # the scheduler is not up yet
            time.sleep(0.5)
    else:
        pytest.fail("the Dask cluster did not come up:\n" + (tmp_path / "dask.log").read_text(errors="replace")[-3000:])
    yield found
    for process in [*found.workers, scheduler]:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
    log.close()


def project(tmp_path: Path, cluster: Cluster, cells: list[str], **settings: object) -> Path:
    folder = tmp_path / "project"
    write_notebook(folder / "nb" / "work.ipynb", cells, dict(settings), parameters="run_id = ''")
    (folder / "orchestrate.yaml").write_text(
        "notebooks:\n  include: ['nb/*.ipynb']\n"
        f"defaults: {{retry_backoff: 0}}\nexecutor: {{type: dask, address: '{cluster.address}'}}\n"
    )
    return folder


def start_run(folder: Path) -> subprocess.Popen[str]:
    """`orchestrate run --json` in ``folder``, as a user starts it."""
    return subprocess.Popen(
        [str(BIN / "orchestrate"), "run", "--json"],
        cwd=folder,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def pids(path: Path) -> list[int]:
    return [int(line) for line in path.read_text().split()] if path.exists() else []


def gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def kernels_of(pid: int) -> list[int]:
    """The live kernel processes that process ``pid`` started."""
    try:
        children = psutil.Process(pid).children()
    except psutil.NoSuchProcess:
        return []
    found = []
    for child in children:
        try:
            if any("ipykernel" in part for part in child.cmdline()) and not gone(child.pid):
                found.append(child.pid)
        except psutil.NoSuchProcess:
            continue
    return found


def wait_for(condition: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return
        time.sleep(0.2)
    pytest.fail(f"timed out waiting for {what}")


def test_a_command_runs_on_a_worker_its_output_streams_back_and_a_stop_stops_it(
    cluster: Cluster, tmp_path: Path
) -> None:
    launcher = DaskLauncher(cluster.address)
    try:
        result = tmp_path / "result.txt"
        code = f"for n in range(3): print('line', n, flush=True)\nopen({str(result)!r}, 'w').write('done')"
        handle = launcher.start(Command([WORKER_PYTHON, "-c", code], cwd=tmp_path, outputs=(result,)))
        lines: list[str] = []
        while (batch := handle.read(0.2)) is not None:
            lines += batch
        assert handle.wait() == 0 and handle.worker in cluster.addresses()
        assert lines == ["line 0\n", "line 1\n", "line 2\n"] and result.read_text() == "done"
        sleeper = launcher.start(
            Command([WORKER_PYTHON, "-c", "import time; print('up', flush=True); time.sleep(300)"], cwd=tmp_path)
        )
        assert sleeper.read(30) == ["up\n"]
        began = time.monotonic()
        sleeper.stop(grace=2)
        while sleeper.read(0.2) is not None:
            pass
        assert sleeper.wait(30) == -signal.SIGTERM and time.monotonic() - began < 10
    finally:
        launcher.close()


def test_a_killed_worker_crashes_the_try_and_the_node_succeeds_on_the_other(cluster: Cluster, tmp_path: Path) -> None:
    marker = tmp_path / "first-try.marker"
    kernels = tmp_path / "kernels.txt"
    cells = [
        "import os, pathlib, time\n"
        f"open({str(kernels)!r}, 'a').write(f'{{os.getpid()}}\\n')\n"
        f"marker = pathlib.Path({str(marker)!r})\n"
        "if not marker.exists():\n"
        "    marker.write_text(run_id)\n"
        "    time.sleep(300)"
    ]
    folder = project(tmp_path, cluster, cells, retries=1)
    workers = cluster.addresses()
    orchestrate = subprocess.Popen(
        [str(BIN / "orchestrate"), "run", "--json"],
        cwd=folder,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    wait_for(lambda: marker.exists() and pids(kernels), 120, "the first try's kernel to start")
    [kernel] = pids(kernels)
    worker = next(parent for parent in psutil.Process(kernel).parents() if "dask" in " ".join(parent.cmdline()))
    other = next(process.pid for process in cluster.workers if process.pid != worker.pid)
    wait_for(lambda: len(kernels_of(other)) >= 1, 120, "the other worker's pool to have a kernel ready")
    warm_there = set(kernels_of(other))
    worker.send_signal(signal.SIGKILL)
    stdout, stderr = orchestrate.communicate(timeout=240)
    assert orchestrate.returncode == 0, stderr[-3000:]
    wait_for(lambda: gone(kernel), 10, "the killed worker's kernel to die with it")
    run_id = json.loads(stdout)["run_id"]
    show = json.loads(run_cli("show", run_id, "--json", cwd=folder).stdout)
    first, second = show["attempts"]
    assert first["status"] == "crashed" and "died or left while running this try" in first["error"]
    assert second["status"] == "success" and second["worker"] != first["worker"]
    assert {first["worker"], second["worker"]} <= workers
    assert pids(kernels)[1] in warm_there, "the retry ran on a kernel the other worker had started ahead"
    assert all(gone(pid) for pid in pids(kernels)), "no kernel is left running"


@pytest.mark.parametrize("how", ["timeout", "cancel"])
def test_cancel_and_timeout_stop_a_remote_kernel_within_seconds(cluster: Cluster, tmp_path: Path, how: str) -> None:
    kernels = tmp_path / "kernels.txt"
    cells = [f"import os, time\nopen({str(kernels)!r}, 'a').write(f'{{os.getpid()}}\\n')\ntime.sleep(300)"]
    folder = project(tmp_path, cluster, cells, **({"timeout": "20s"} if how == "timeout" else {}))
    orchestrate = subprocess.Popen(
        [str(BIN / "orchestrate"), "run", "--json"],
        cwd=folder,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    wait_for(lambda: pids(kernels), 120, "the kernel to start on a worker")
    [kernel] = pids(kernels)
    began = time.monotonic()
    if how == "cancel":
        orchestrate.send_signal(signal.SIGINT)
    wait_for(lambda: gone(kernel), 40, "the remote kernel to stop")
    stopped_after = time.monotonic() - began
    stdout, _ = orchestrate.communicate(timeout=60)
    [node] = json.loads(stdout)["nodes"]
    assert node["status"] == ("failed" if how == "timeout" else "cancelled")
    assert stopped_after < (35 if how == "timeout" else 15)


def test_validate_asks_every_worker_for_the_kernels_and_modules_the_nodes_need(
    cluster: Cluster, tmp_path: Path
) -> None:
    folder = project(tmp_path, cluster, ["print('hello')"])
    checked = run_cli("validate", cwd=folder)
    assert checked.returncode == 0, checked.stderr
    assert "2 dask worker(s) have the modules and kernels they need" in checked.stdout

    write_notebook(folder / "nb" / "in_r.ipynb", ["print(1)"])
    document = json.loads((folder / "nb" / "in_r.ipynb").read_text())
    document["metadata"]["kernelspec"] = {"name": "no-such-kernel", "display_name": "?", "language": "python"}
    (folder / "nb" / "in_r.ipynb").write_text(json.dumps(document))
    missing = run_cli("validate", cwd=folder)
    assert missing.returncode == 2
    assert missing.stderr.count("lacks kernel no-such-kernel") == 2, missing.stderr
    assert all(address in missing.stderr for address in cluster.addresses())

    (folder / "orchestrate.yaml").write_text(
        f"notebooks:\n  include: ['nb/work.ipynb']\nexecutor: {{type: dask, address: 'tcp://127.0.0.1:{free_port()}'}}\n"
    )
    unreachable = run_cli("validate", cwd=folder, timeout=120)
    assert unreachable.returncode == 2 and "cannot reach the Dask scheduler at tcp://127.0.0.1:" in unreachable.stderr


def test_the_example_runs_on_a_two_worker_cluster_notebooks_and_dbt_batches_on_workers(
    cluster: Cluster, shop: Path
) -> None:
    config = shop / "orchestrate.yaml"
    config.write_text(config.read_text() + f"executor: {{type: dask, address: '{cluster.address}'}}\n")
    ran = run_cli("run", "--json", cwd=shop, timeout=600)
    assert ran.returncode == 0, ran.stderr[-3000:]
    run_id = json.loads(ran.stdout)["run_id"]
    shown = run_cli("show", run_id, "--json", cwd=shop)
    document = json.loads(shown.stdout)
    kinds = {node["id"]: node["kind"] for node in document["nodes"]}
    workers = cluster.addresses()
    by_kind: dict[str, set[str]] = {}
    for attempt in document["attempts"]:
        assert attempt["status"] == "success", attempt
        by_kind.setdefault(kinds[attempt["node_id"]], set()).add(attempt["worker"])
    assert set(by_kind) >= {"dbt", "notebook"}
    assert all(found <= workers for found in by_kind.values()), f"every try ran on a worker: {by_kind} vs {workers}"
    assert (shop / "notebooks").exists() and any((shop / ".orchestrate" / "runs" / run_id).rglob("*.ipynb"))


def test_project_hooks_run_once_on_the_workers_through_the_dbt_entry_point(cluster: Cluster, shop: Path) -> None:
    import duckdb

    from tests.dbt_adapter.test_project_hooks import HOOKS

    project_file = shop / "dbt" / "dbt_project.yml"
    project_file.write_text(project_file.read_text() + HOOKS)
    config = shop / "orchestrate.yaml"
    config.write_text(config.read_text() + f"executor: {{type: dask, address: '{cluster.address}'}}\n")
    ran = run_cli("run", "--json", cwd=shop, timeout=600)
    assert ran.returncode == 0, ran.stderr[-3000:]
    document = json.loads(run_cli("show", json.loads(ran.stdout)["run_id"], "--json", cwd=shop).stdout)
    hooks = [attempt for attempt in document["attempts"] if attempt["node_id"].startswith("operation.shop.")]
    assert len(hooks) == 3 and {attempt["worker"] for attempt in hooks} <= cluster.addresses()
    with duckdb.connect(str(shop / "shop.duckdb"), read_only=True) as connection:
        counts = dict(connection.sql("select hook, count(*) from main.hook_log group by hook").fetchall())
    assert counts == {"start": 1, "end": 1}


def test_every_worker_keeps_warm_kernels_a_killed_worker_leaves_none_and_a_restarted_one_refills(
    cluster: Cluster, tmp_path: Path
) -> None:
    from jupyter_extension.dask_kernels import WARM, warm_payload

    launcher = DaskLauncher(cluster.address)
    try:
        spec = {"kernel": "python3", "cwd": str(tmp_path)}
        launcher.keep_warm("python3", WARM, warm_payload(spec, (), dict(os.environ), 2))
        first, second = cluster.workers
        for worker in (first, second):
            wait_for(lambda worker=worker: len(kernels_of(worker.pid)) == 2, 120, "two warm kernels on each worker")
        had = kernels_of(first.pid)
        first.send_signal(signal.SIGKILL)
        wait_for(lambda: all(gone(pid) for pid in had), 15, "the killed worker's kernels to die with it")
        again = cluster.start_worker("w0-again")
        wait_for(lambda: len(kernels_of(again.pid)) == 2, 120, "the restarted worker's pool to refill")
        # The other worker keeps its pool full (a kernel it is just replacing may be missing for a moment).
        wait_for(lambda: len(kernels_of(second.pid)) == 2, 120, "the other worker's pool to stay full")
    finally:
        launcher.close()
