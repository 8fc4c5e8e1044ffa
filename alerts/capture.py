"""What an alert says about a run and a node, captured when it happens.

Reads the node's last attempt (log tail, output notebook) and the graph
(what is skipped downstream) once, redacts, and keeps the result in the
event, so a message composed or sent later (after a restart) says the same.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import asdict
from pathlib import Path
from typing import Any
from urllib.parse import quote

from alerts.config import AlertsConfig
from alerts.content import NodeItem, RunInfo
from alerts.redact import Redactor
from orchestrate_ext.clock import isoformat
from orchestrate_ext.errors import OrchestrateError
from orchestrate_ext.interfaces import Workspace
from orchestrate_ext.model import Node, RunRecord

_TAIL_BYTES = 65536
EXPOSURE = "exposure"
PIPELINE = "pipeline"


def scope_of(run: RunRecord) -> str:
    """Incidents are kept per scope: ``schedule:<name>``, or ``pipeline`` for runs started by hand."""
    return f"schedule:{run.schedule}" if run.schedule else PIPELINE


def run_info(run: RunRecord) -> RunInfo:
    scope = f"schedule '{run.schedule}'" if run.schedule else f"pipeline ({run.trigger} run)"
    if run.selection:
        scope += f", selection '{run.selection}'"
    return RunInfo(
        run_id=run.run_id,
        scope=scope,
        logical_date=isoformat(run.logical_date.replace(microsecond=0)) or "",
        status=run.status.value if run.finished_at else "",
        trigger=run.trigger,
    )


def node_data(node: Node) -> dict[str, Any]:
    """The fields routing matches on, kept with the event."""
    return {
        "id": node.id,
        "kind": node.kind,
        "resource_type": node.resource_type,
        "name": node.name,
        "path": node.path,
        "owner": node.owner,
        "tags": sorted(node.tags),
    }


def unknown_node(node_id: str, kind: str) -> Node:
    """A stand-in for a node that is no longer in the project's graph."""
    return Node(id=node_id, kind=kind, resource_type=kind, name=node_id.rsplit(".", 1)[-1], runnable=True)


def log_tail(path: str | None, lines: int) -> str:
    if not path or lines <= 0:
        return ""
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - _TAIL_BYTES))
            data = handle.read()
    except OSError:
        return ""
    text = strip_ansi(data.decode("utf-8", errors="replace"))
    return "\n".join(text.rstrip("\n").splitlines()[-lines:])


_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]")


def strip_ansi(text: str) -> str:
    """Without terminal colour codes (dbt colours its log lines)."""
    return _ANSI.sub("", text)


class Capture:
    """Builds the :class:`NodeItem` of a node in a run, redacted."""

    def __init__(
        self, config: AlertsConfig, workspace: Workspace, graph: Any, runs_store: Any, redact: Redactor
    ) -> None:
        self.config = config
        self.workspace = workspace
        self.graph = graph
        self.runs_store = runs_store
        self.redact = redact

    def node(self, node_id: str, kind: str = "") -> Node:
        return self.graph.nodes.get(node_id) or unknown_node(node_id, kind)

    def item(
        self,
        run_id: str,
        node_id: str,
        *,
        kind: str = "",
        status: str = "",
        error: str | None = None,
        try_number: int = 0,
        members: Iterable[str] | None = None,
        details: bool = True,
    ) -> NodeItem:
        """The node's item; with ``details`` its log tail, output notebook and skipped descendants."""
        node = self.node(node_id, kind)
        log_path = output = None
        skipped: list[str] = []
        if details:
            attempt = self._last_attempt(run_id, node_id)
            if attempt is not None:
                log_path, output = attempt.log_path, attempt.output_path
            skipped = self._skipped(node_id, members)
        exposures = self.exposures(node_id) if details else []
        return NodeItem(
            node_id=node.id,
            name=node.name,
            kind=node.kind,
            resource_type=node.resource_type,
            owner=node.owner,
            path=node.path,
            status=status,
            error=self.redact(strip_ansi(error)) if error else None,
            try_number=try_number,
            log_tail=self.redact(log_tail(log_path, self.config.log_lines)) if details else "",
            log_path=self._relative(log_path),
            output_path=self._relative(output),
            output_link=self._link(output),
            skipped=skipped,
            exposures=[f"{found.name} ({found.owner})" if found.owner else found.name for found in exposures],
            exposure_owners=sorted({found.owner for found in exposures if found.owner}),
        )

    def exposures(self, node_id: str) -> list[Node]:
        """The exposures (dashboards, applications) downstream of ``node_id``."""
        if node_id not in self.graph.nodes:
            return []
        found = self.graph.descendants([node_id])
        return [
            self.graph.nodes[other]
            for other in self.graph.order
            if other in found and self.graph.nodes[other].resource_type == EXPOSURE
        ]

    def _last_attempt(self, run_id: str, node_id: str) -> Any:
        try:
            with self.runs_store.read() as runs:
                attempts = runs.attempts(run_id, node_id)
        except OrchestrateError:
            return None
        return attempts[-1] if attempts else None

    def _skipped(self, node_id: str, members: Iterable[str] | None) -> list[str]:
        """The runnable nodes of the run downstream of ``node_id``: they cannot run now."""
        if node_id not in self.graph.nodes:
            return []
        within = set(members) if members is not None else None
        found = self.graph.descendants([node_id])
        return [
            self.graph.nodes[other].name
            for other in self.graph.order
            if other in found and self.graph.nodes[other].runnable and (within is None or other in within)
        ]

    def _relative(self, path: str | None) -> str | None:
        if not path:
            return None
        try:
            return Path(path).resolve().relative_to(self.workspace.root.resolve()).as_posix()
        except ValueError:
            return path

    def _link(self, output: str | None) -> str | None:
        base = self.config.jupyterlab_url
        relative = self._relative(output)
        if not base or not relative or relative.startswith("/"):
            return None
        return f"{base.rstrip('/')}/lab/tree/{quote(relative)}"


def item_dict(item: NodeItem) -> dict[str, Any]:
    return asdict(item)
