"""Live progress of a run in the terminal: on stderr, and the run's summary line where the caller says.

As with dbt and Prefect, ``orchestrate run > run.log`` keeps the outcome (the summary on stdout) while the
progress stays on the terminal; with ``--json`` the summary goes to stderr too, so stdout is one document.

A wait for a resource is two lines: one when it starts (naming the node that holds the resource then) and one
when it ends (how long it took), however often its holder changes. The live panel is rendered anew on every
refresh of the display (eight times a second), not only when a node changes state, so a running node's
elapsed time keeps counting.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from orchestrate_ext.events import NodeChanged
from orchestrate_ext.marks import NODE_MARKS
from orchestrate_ext.model import NodeStatus, RunRecord

_STYLE = NODE_MARKS


@dataclass
class _Wait:
    """Nodes waiting for resources since one moment, shown as one wait."""

    first: str
    text: str
    since: float
    nodes: set[str] = field(default_factory=set)
    count: int = 0


class TerminalProgress:
    """A :class:`~orchestrate_ext.events.RunListener` that draws the run as it goes.

    On a terminal: a live panel of running nodes and counts, with a line per
    finished node above it. Elsewhere (CI, pipes): only the lines.
    """

    def __init__(
        self,
        console: Console | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        summary: Console | None = None,
    ) -> None:
        """``monotonic`` is where elapsed times are read (tests pass a fake one); ``summary`` is where the
        run's last line goes (default: with the progress)."""
        self.console = console or Console(stderr=True, soft_wrap=True)
        self.summary = summary or self.console
        self.monotonic = monotonic
        self.live: Live | None = None
        self.total = 0
        self.status: dict[str, NodeStatus] = {}
        self.started: dict[str, float] = {}
        self.waits: dict[str, _Wait] = {}
        """The open waits for resources, by the text the first of their nodes began waiting with."""
        self.wait_of: dict[str, str] = {}
        """Each waiting node's wait."""
        self._began = monotonic()

    def run_started(self, run: RunRecord, node_ids: list[str]) -> None:
        self.total = len(node_ids)
        self._began = self.monotonic()
        self.console.print(
            f"run [bold]{run.run_id}[/] — {self.total} nodes, logical date {run.logical_date:%Y-%m-%d %H:%M}Z"
        )
        if self.console.is_terminal:
            self.live = Live(
                console=self.console, refresh_per_second=8, transient=True, get_renderable=self._panel
            )  # get_renderable: the panel is built on every refresh, so elapsed times move
            self.live.start()

    def node_changed(self, change: NodeChanged) -> None:
        self.status[change.node_id] = change.status
        if change.status == NodeStatus.RUNNING:
            self.started[change.node_id] = self.monotonic()
        if change.status == NodeStatus.WAITING:
            self._waiting(change)
        elif change.node_id in self.wait_of:
            self._done_waiting(change.node_id)
        if change.status.is_final or change.status == NodeStatus.UP_FOR_RETRY:
            self._print_line(change)
        if self.live is not None:
            self.live.refresh()

    def _waiting(self, change: NodeChanged) -> None:
        """One line when a wait starts (the nodes of a batch that wait with it join it); its holder may change
        while it lasts without another line."""
        if change.node_id in self.wait_of:
            return
        text = change.waiting_for or "waiting for a resource"
        wait = self.waits.get(text)
        if wait is None:
            wait = self.waits[text] = _Wait(change.node_id, text, self.monotonic())
            self._print_line(change)
        wait.nodes.add(change.node_id)
        self.wait_of[change.node_id] = text

    def _done_waiting(self, node_id: str) -> None:
        """One line when the last node of a wait stops waiting."""
        text = self.wait_of.pop(node_id)
        wait = self.waits[text]
        wait.nodes.discard(node_id)
        wait.count += 1
        if wait.nodes:
            return
        del self.waits[text]
        more = f" and {wait.count - 1} more" if wait.count > 1 else ""
        resources = text.removeprefix("waiting for ").split(" (", 1)[0]
        line = Text.assemble(
            ("▶ ", "cyan"), (wait.first, "bold"), f"{more} waited {self.monotonic() - wait.since:.1f} s"
        )
        self.console.print(line.append(f" for {resources}"))

    def run_finished(self, run: RunRecord) -> None:
        if self.live is not None:
            self.live.stop()
            self.live = None
        colour = "green" if run.status == "success" else "red"
        elapsed = self.monotonic() - self._began
        self.summary.print(
            f"run [bold]{run.run_id}[/] [{colour}]{run.status.value}[/] in {elapsed:.1f} s — {self._counts()}"
        )

    def _print_line(self, change: NodeChanged) -> None:
        mark, colour = _STYLE.get(change.status, ("·", "white"))
        took = ""
        if change.node_id in self.started and change.status in (
            NodeStatus.SUCCESS,
            NodeStatus.WARNED,
            NodeStatus.FAILED,
        ):
            took = f" ({self.monotonic() - self.started[change.node_id]:.1f} s)"
        line = Text.assemble((f"{mark} ", colour), (change.node_id, "bold"), f" {change.status.value}{took}")
        if change.status == NodeStatus.WAITING:
            line = Text.assemble((f"{mark} ", colour), (change.node_id, "bold"), f" {change.waiting_for}")
        elif change.error and change.status != NodeStatus.UPSTREAM_FAILED:
            line.append(f"\n    {change.error.splitlines()[0][:300]}", style="dim")
        if change.reason and change.status.is_done:
            line.append(f" — {change.reason}", style="dim")
        self.console.print(line)

    def _counts(self) -> str:
        done: dict[str, int] = {}
        for status in self.status.values():
            if status.is_final:
                done[status.value] = done.get(status.value, 0) + 1
        return ", ".join(f"{count} {name}" for name, count in sorted(done.items())) or "nothing ran"

    def _panel(self) -> Group:
        running = [node_id for node_id, status in self.status.items() if status == NodeStatus.RUNNING]
        finished = sum(1 for status in self.status.values() if status.is_final)
        table = Table.grid(padding=(0, 2))
        now = self.monotonic()
        for node_id in running[:12]:
            table.add_row(Text("▶", "cyan"), node_id, f"{now - self.started.get(node_id, now):.0f} s")
        if len(running) > 12:
            table.add_row("", f"… and {len(running) - 12} more", "")
        header = Text(f"{finished}/{self.total} done, {len(running)} running — {self._counts()}", style="bold")
        return Group(header, table)
