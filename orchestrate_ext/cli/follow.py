"""Following a run while it goes: ``orchestrate show RUN --watch`` and ``orchestrate logs RUN NODE --follow``.

Both poll the state store (read-only) and never write; they end when what they
follow has ended, or on Ctrl-C.

* ``show --watch`` on a terminal redraws the run's view in place every
  second; elsewhere it prints one line per node that starts or ends, then the
  whole view once the run has ended.
* ``logs --follow`` prints a try's log as it is written, then the next try's
  when the node is retried, until the node (or the run) has ended.
"""

from __future__ import annotations

import codecs
import time
from collections.abc import Callable
from pathlib import Path

import click
from rich.console import Console
from rich.live import Live

from orchestrate_ext.cli.reading import Reading
from orchestrate_ext.cli.screen import Screen, draw, rich_renderable
from orchestrate_ext.cli.views import progress_text, show_screen, status_text
from orchestrate_ext.errors import BadInput
from orchestrate_ext.model import AttemptRecord, AttemptStatus, NodeRunRecord, NodeStatus, RunStatus
from orchestrate_ext.timefmt import TimeStyle, between, duration

WATCH_SECONDS = 1.0
"""How often ``show --watch`` reads the run again."""
FOLLOW_SECONDS = 0.25
"""How often ``logs --follow`` looks for new log lines."""

Sleep = Callable[[float], None]


def _style(read: Reading) -> TimeStyle:
    return TimeStyle(read.style.zone, read.project.clock.now())


def _screen(read: Reading, run_id: str) -> tuple[Screen, RunStatus, list[NodeRunRecord]]:
    with read.store.read() as tx:
        run = tx.get_run(run_id)
        nodes = tx.node_states(run_id)
        attempts = tx.attempts(run_id)
    screen = show_screen(run, nodes, attempts, _style(read), here=Path.cwd()).redacted(read.redact)
    return screen, run.status, nodes


def watch_run(read: Reading, run_id: str, console: Console, *, sleep: Sleep = time.sleep) -> RunStatus:
    """Follow ``run_id`` until it ends; returns its final status."""
    screen, status, nodes = _screen(read, run_id)
    if status != RunStatus.RUNNING:
        draw(screen, console)
        return status
    try:
        if console.is_terminal:
            with Live(rich_renderable(screen), console=console, auto_refresh=False) as live:
                while status == RunStatus.RUNNING:
                    sleep(WATCH_SECONDS)
                    screen, status, nodes = _screen(read, run_id)
                    live.update(rich_renderable(screen), refresh=True)
            return status
        return _watch_plain(read, run_id, console, nodes, sleep)
    except KeyboardInterrupt:
        console.print("stopped watching; the run goes on", style="dim")
        return status


def _watch_plain(read: Reading, run_id: str, console: Console, nodes: list[NodeRunRecord], sleep: Sleep) -> RunStatus:
    counts = _counts(nodes)
    console.out(
        f"watching run {run_id} ({progress_text(counts)}); one line per node that starts or ends", highlight=False
    )
    seen = {state.node_id: state.status for state in nodes}
    status = RunStatus.RUNNING
    while status == RunStatus.RUNNING:
        sleep(WATCH_SECONDS)
        screen, status, nodes = _screen(read, run_id)
        style = _style(read)
        for state in nodes:
            if seen.get(state.node_id) == state.status:
                continue
            seen[state.node_id] = state.status
            if (
                state.status in (NodeStatus.RUNNING, NodeStatus.UP_FOR_RETRY, NodeStatus.WAITING)
                or state.status.is_final
            ):
                console.out(read.redact(_change_line(state, style)), highlight=False)
    console.out("")
    draw(screen, console)
    return status


def _counts(nodes: list[NodeRunRecord]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for state in nodes:
        counts[state.status.value] = counts.get(state.status.value, 0) + 1
    return counts


def _change_line(state: NodeRunRecord, style: TimeStyle) -> str:
    when = style.clock(style.now)
    line = f"{when}  {status_text(state.status).plain:<18} {state.node_id}"
    if state.status.is_final and state.started_at is not None:
        line += f" ({duration(between(state.started_at, state.finished_at))})"
    if state.status == NodeStatus.WAITING and state.waiting_for:
        line += f": {state.waiting_for}"
    elif state.status == NodeStatus.FAILED and state.error:
        line += f": {state.error.strip().splitlines()[0]}"
    return line


# -- logs


def _header(attempt: AttemptRecord, node_id: str, style: TimeStyle) -> str:
    took = "running" if attempt.status == AttemptStatus.RUNNING else attempt.status.value
    if attempt.finished_at is not None:
        took += f" after {duration(between(attempt.started_at, attempt.finished_at))}"
    return f"=== {node_id} try {attempt.try_number}: {took} (started {style.absolute(attempt.started_at)})"


def print_log(read: Reading, run_id: str, node_id: str, try_number: int | None) -> None:
    """Every try's log as it is now (or one try's)."""
    with read.store.read() as tx:
        attempts = tx.attempts(run_id, node_id)
    if not attempts:
        click.echo(f"{node_id} has not started in run {run_id}", err=True)
        return
    chosen = [attempt for attempt in attempts if try_number is None or attempt.try_number == try_number]
    if not chosen:
        tries = ", ".join(str(attempt.try_number) for attempt in attempts)
        raise BadInput(f"--try {try_number}: {node_id} has no try {try_number} in run {run_id}; its tries: {tries}")
    for attempt in chosen:
        click.echo(_header(attempt, node_id, read.style))
        path = Path(attempt.log_path) if attempt.log_path else None
        if path and path.is_file():
            click.echo(read.redact(path.read_text(encoding="utf-8", errors="replace").rstrip("\n")))
        else:
            click.echo("(no log file)")


class _Tail:
    """What was appended to one file since the last look, redacted a whole line at a time (a secret split
    across two looks is still caught). A file that does not exist yet reads empty."""

    def __init__(self, path: Path | None, redact: Callable[[str], str]) -> None:
        self.path = path
        self.redact = redact
        self.offset = 0
        self.pending = ""
        self.written = False
        self.decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")

    def _read(self) -> str:
        if self.path is None or not self.path.is_file():
            return ""
        with self.path.open("rb") as handle:
            handle.seek(self.offset)
            data = handle.read()
        self.offset += len(data)
        return self.decoder.decode(data)

    def copy(self, write: Callable[[str], None]) -> None:
        """Write the whole lines appended since the last call (a line being written waits for its end)."""
        text = self.pending + self._read()
        cut = text.rfind("\n") + 1
        self.pending = text[cut:]
        if cut:
            write(self.redact(text[:cut]))
            self.written = True

    def flush(self, write: Callable[[str], None]) -> None:
        """Write the rest, and end the output on a line of its own."""
        self.copy(write)
        if self.pending:
            write(self.redact(self.pending) + "\n")
            self.pending, self.written = "", True
        if not self.written:
            write("(no log lines)\n")


def follow_log(
    read: Reading,
    run_id: str,
    node_id: str,
    try_number: int | None,
    *,
    sleep: Sleep = time.sleep,
    write: Callable[[str], None] | None = None,
) -> None:
    """Print the node's tries as they are written, from the first (or only ``try_number``) until it ends."""
    write = write or _write
    wanted = try_number or 1
    announced_wait = False
    try:
        while True:
            attempt, node, run_status = _lookup(read, run_id, node_id, wanted)
            if attempt is None:
                if _over(node, run_status):
                    if wanted == 1 or try_number is not None:
                        write(f"{node_id} has no try {wanted} in run {run_id}, and the node has ended\n")
                    return
                if not announced_wait:
                    write(f"waiting for {node_id} to start try {wanted} in run {run_id} …\n")
                    announced_wait = True
                sleep(FOLLOW_SECONDS * 4)
                continue
            announced_wait = False
            _follow_attempt(read, run_id, node_id, attempt, sleep, write)
            if try_number is not None:
                return
            wanted += 1
    except KeyboardInterrupt:
        return


def _over(node: NodeRunRecord | None, run_status: RunStatus) -> bool:
    """Nothing more will be written for the node: it ended, or its run did."""
    return run_status != RunStatus.RUNNING or node is None or node.status.is_final


def _lookup(
    read: Reading, run_id: str, node_id: str, try_number: int
) -> tuple[AttemptRecord | None, NodeRunRecord | None, RunStatus]:
    with read.store.read() as tx:
        run = tx.get_run(run_id)
        attempts = {attempt.try_number: attempt for attempt in tx.attempts(run_id, node_id)}
        node = next((state for state in tx.node_states(run_id) if state.node_id == node_id), None)
    return attempts.get(try_number), node, run.status


def _follow_attempt(
    read: Reading, run_id: str, node_id: str, attempt: AttemptRecord, sleep: Sleep, write: Callable[[str], None]
) -> None:
    write(_header(attempt, node_id, _style(read)) + "\n")
    tail = _Tail(Path(attempt.log_path) if attempt.log_path else None, read.redact)
    current = attempt
    while current.status == AttemptStatus.RUNNING:
        tail.copy(write)
        sleep(FOLLOW_SECONDS)
        found, _, run_status = _lookup(read, run_id, node_id, attempt.try_number)
        current = found or current
        if run_status != RunStatus.RUNNING and current.status == AttemptStatus.RUNNING:
            break  # the run ended without closing the try (its process died); nothing more will come
    tail.flush(write)
    ended = current.status.value
    if current.finished_at is not None:
        ended += f" after {duration(between(current.started_at, current.finished_at))}"
    write(f"=== {node_id} try {current.try_number}: {ended}\n")


def _write(text: str) -> None:
    click.echo(text, nl=False)
