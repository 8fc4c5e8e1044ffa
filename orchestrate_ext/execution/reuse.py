"""State-aware runs: which nodes of an ``--only-changed`` run may reuse an earlier result.

A node's *fingerprint* is what determined its output, in two halves:

* **code**: from the node's runner (:class:`~orchestrate_ext.interfaces.FingerprintingRunner`):
  a dbt node's checksum and config and the macros it calls; a notebook's code cells and kernel;
* **inputs**: what the runner adds of the node's own inputs (effective parameters, the logical
  date when the node reads it, new rows in a source), and the identity of every upstream result
  it reads (which try of which run produced it; a reused result keeps its producer's identity).

Every success records its fingerprint and a result id (``<run id>:<try>``). An ``--only-changed``
run reuses a ready node when its fingerprint equals that of its newest success, the node has not
failed since, the success is younger than the node's ``reuse.max_age`` and the node allows reuse
(``reuse: never`` does not). A reused node is ``reused``: done for its dependants, whose inputs are
then unchanged too; a node that runs gives its dependants a new input, so they run as well
(:func:`upstream_runs`).

The run loop decides each node when it is ready; :meth:`Fingerprints.decide_ahead` makes the same
decisions for a whole run before it starts (``orchestrate plan``), assuming every node that runs
succeeds. Neither writes anything: only the run loop records what was decided.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Collection, Container, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING
from urllib.parse import quote, unquote

from orchestrate_ext.clock import duration_text
from orchestrate_ext.interfaces import FingerprintingRunner, NodeFingerprint, RunContext
from orchestrate_ext.model import NodeRunRecord, NodeStatus, result_run
from orchestrate_ext.store.records import LastSuccess

if TYPE_CHECKING:
    from orchestrate_ext.execution.executor import RunEnvironment

log = logging.getLogger(__name__)

_NOTHING = "-"
"""The identity of an upstream result that does not exist (never succeeded)."""


@dataclass(frozen=True, slots=True)
class Decision:
    """Whether a ready node runs or reuses ``reused`` (its newest success), and why."""

    reused: LastSuccess | None
    fingerprint: str | None
    reason: str


def upstream_runs(inputs: Iterable[str], running: Container[str]) -> str | None:
    """Why a node runs when a result it reads is made anew in this run (``upstream X runs``); None when none is."""
    upstream = next((parent for parent in inputs if parent in running), None)
    return None if upstream is None else f"upstream {upstream} runs"


def combine(own: NodeFingerprint, upstream: Collection[tuple[str, str]]) -> str:
    """``<code>.<inputs>.<parts>``: the node's code hash, a hash of its own inputs and the results it
    reads, and a short hash of each part of them (:func:`_parts`), which only says *what* changed.

    Reuse compares ``<code>`` and ``<inputs>`` alone, so a fingerprint recorded without ``<parts>``
    (before they were) still matches.
    """
    inputs = hashlib.sha256(own.inputs.encode())
    for node_id, identity in sorted(upstream):
        inputs.update(f"\0{node_id}={identity}".encode())
    return f"{own.code}.{inputs.hexdigest()[:16]}.{_parts(own.inputs, upstream)}"


_UPSTREAM = "~upstream"
"""The part of a fingerprint that stands for the upstream results a node reads."""


def _short(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:8]


def _parts(inputs: str, upstream: Collection[tuple[str, str]]) -> str:
    """``name:hash,…``: each top-level key of the own inputs (when they are a JSON object, as every
    runner gives them: parameters, ``logical_date``, dbt ``vars``, ``sources``…) and the upstream results."""
    try:
        value = json.loads(inputs) if inputs else {}
    except ValueError:
        value = None
    parts = (
        {str(key): _short(json.dumps(item, sort_keys=True, default=str)) for key, item in value.items()}
        if isinstance(value, dict)
        else {"~inputs": _short(inputs)}
    )
    parts[_UPSTREAM] = _short("\0".join(f"{node_id}={identity}" for node_id, identity in sorted(upstream)))
    return ",".join(f"{quote(key, safe='')}:{digest}" for key, digest in sorted(parts.items()))


def _read_parts(fingerprint: str) -> dict[str, str] | None:
    """The parts of a fingerprint (None when it was recorded without them)."""
    pieces = fingerprint.split(".", 2)
    if len(pieces) < 3:
        return None
    found: dict[str, str] = {}
    for item in pieces[2].split(","):
        key, _, digest = item.rpartition(":")
        if key:
            found[unquote(key)] = digest
    return found


_PART_WORDS = {
    "logical_date": "the logical date",
    "vars": "dbt vars",
    "target": "the dbt target",
    "sources": "new data in a source it reads",
    "max_loaded_at": "new data in the source",
    "status": "the source's freshness status",
    "~inputs": "its inputs",
}


def changed_parts(fingerprint: str, last: str) -> list[str] | None:
    """What changed between two fingerprints, in words ("parameter top_n", "the logical date"); None when
    one of them does not tell (recorded before fingerprints had parts)."""
    now, before = _read_parts(fingerprint), _read_parts(last)
    if now is None or before is None:
        return None
    changed = sorted(key for key in set(now) | set(before) if now.get(key) != before.get(key))
    return [
        "an upstream result"
        if key == _UPSTREAM
        else _PART_WORDS.get(key, f"parameter {key}" if key.isidentifier() else f"input {key}")
        for key in changed
    ]


class Fingerprints:
    """The fingerprints of one run's nodes, and the decisions of an ``--only-changed`` run."""

    def __init__(self, environment: RunEnvironment, context: RunContext, node_ids: Collection[str]) -> None:
        self.env = environment
        self.context = context
        self.node_ids = set(node_ids)
        self.check_sources = False
        self._own: dict[str, NodeFingerprint | None] = {}
        self._kinds_asked: set[str] = set()
        self._inputs: dict[str, tuple[str, ...]] = {}
        self._outside: dict[str, LastSuccess] | None = None

    # -- deciding

    def decide(self, node_id: str, records: Mapping[str, NodeRunRecord], last: LastSuccess | None) -> Decision:
        """Whether the ready node ``node_id`` may reuse ``last`` (its newest success)."""
        node = self.env.graph.nodes[node_id]
        fingerprint = self.of(node_id, records)
        if not node.reuse.allowed:
            return Decision(None, fingerprint, "reuse: never")
        if fingerprint is None:
            return Decision(None, None, "its runner cannot tell what its result depends on")
        if last is None:
            return Decision(None, fingerprint, "no earlier success")
        since = f"since {result_run(last.result) if last.result else last.run_id}"
        if last.failed_since:
            return Decision(None, fingerprint, f"it failed after its last success ({last.run_id})")
        produced_at = last.produced_at or last.finished_at
        if node.reuse.max_age is not None and self._age(produced_at) > node.reuse.max_age:
            limit = duration_text(node.reuse.max_age)
            return Decision(None, fingerprint, f"its result ({last.result}) is older than max_age {limit}")
        if last.fingerprint is None or last.result is None:
            return Decision(None, fingerprint, f"no fingerprint was recorded {since}")
        code, inputs = fingerprint.split(".")[:2]
        last_code, last_inputs = [*last.fingerprint.split("."), ""][:2]
        if code != last_code:
            return Decision(None, fingerprint, f"code changed {since}")
        if inputs != last_inputs:
            return Decision(None, fingerprint, self._changed_inputs(node_id, records, since, fingerprint, last))
        return Decision(last, fingerprint, f"code unchanged, inputs unchanged {since}")

    def decide_ahead(
        self, order: Sequence[str], records: Mapping[str, NodeRunRecord], last: Mapping[str, LastSuccess]
    ) -> dict[str, Decision]:
        """Every node's decision before the run starts, assuming each node that runs succeeds.

        Args:
            order: the run's nodes in graph order (an input is decided before what reads it).
            records: the run's first states (none done yet).
            last: each node's newest success (``tx.last_successes``).

        A node with an input that runs runs too (:func:`upstream_runs`): its input gets a new result.
        Every other node is decided by :meth:`decide` against the states so far, a reused input
        standing for the result it reuses, as the run loop does when the node is ready.
        """
        states = dict(records)
        running: set[str] = set()
        decisions: dict[str, Decision] = {}
        for node_id in order:
            reason = upstream_runs(self.inputs(node_id), running)
            if reason is not None:
                decision = Decision(None, None, reason)
            else:
                decision = self.decide(node_id, states, last.get(node_id))
            if decision.reused is not None:
                states[node_id] = replace(states[node_id], status=NodeStatus.REUSED, result=decision.reused.result)
            else:
                running.add(node_id)
            decisions[node_id] = decision
        return decisions

    def _changed_inputs(
        self, node_id: str, records: Mapping[str, NodeRunRecord], since: str, fingerprint: str, last: LastSuccess
    ) -> str:
        """Why the inputs differ: the upstream node that ran, else the parts that changed (the actual
        cause, e.g. ``inputs changed since R: parameter top_n``); the possible causes only when the
        earlier fingerprint cannot tell."""
        ran = [
            parent
            for parent in self.inputs(node_id)
            if parent in records and records[parent].status in (NodeStatus.SUCCESS, NodeStatus.WARNED)
        ]
        if ran:
            return f"upstream {ran[0]} ran"
        changed = changed_parts(fingerprint, last.fingerprint or "")
        if changed:
            return f"inputs changed {since}: {', '.join(changed)}"
        return f"inputs changed {since} (parameters, logical date, new source data or an upstream result)"

    def _age(self, finished_at: datetime) -> float:
        return (self.env.clock.now() - finished_at).total_seconds()

    # -- fingerprints

    def of(self, node_id: str, records: Mapping[str, NodeRunRecord]) -> str | None:
        """The node's fingerprint now: None when its runner gives none or an input has no result yet."""
        own = self.own(node_id)
        if own is None:
            return None
        upstream = []
        for parent in self.inputs(node_id):
            identity = self._identity(parent, records)
            if identity is None:
                return None
            upstream.append((parent, identity))
        return combine(own, upstream)

    def own(self, node_id: str) -> NodeFingerprint | None:
        """What the node's runner says determines its result (asked once per kind and run, in bulk)."""
        kind = self.env.graph.nodes[node_id].kind
        if kind not in self._kinds_asked:
            self._kinds_asked.add(kind)
            self._own.update(self._ask(kind))
        return self._own.get(node_id)

    def _ask(self, kind: str) -> Mapping[str, NodeFingerprint | None]:
        runner = self.env.runners.get(kind)
        if not isinstance(runner, FingerprintingRunner):
            return {}
        graph = self.env.graph
        nodes = [graph.nodes[node_id] for node_id in graph.order if node_id in self.node_ids]
        nodes = [node for node in nodes if node.kind == kind]
        try:
            return runner.fingerprints(self.context, nodes, check_sources=self.check_sources)
        except Exception:  # a runner that cannot fingerprint makes its nodes run, never loses the run
            log.exception("the %s runner could not fingerprint its nodes; they run", kind)
            return {}

    def inputs(self, node_id: str) -> tuple[str, ...]:
        """The runnable nodes whose results ``node_id`` reads: its dependencies, looking through sources."""
        if node_id not in self._inputs:
            self._inputs[node_id] = tuple(sorted(self.env.graph.runnable_inputs(node_id)))
        return self._inputs[node_id]

    def _identity(self, parent: str, records: Mapping[str, NodeRunRecord]) -> str | None:
        record = records.get(parent)
        if record is not None:
            return record.result if record.status.is_done else None
        last = self._outside_results().get(parent)
        if last is None:
            return _NOTHING
        if last.failed_since:
            return f"failed after {last.result or last.run_id}"
        return last.result or f"{last.run_id}:?"

    def _outside_results(self) -> dict[str, LastSuccess]:
        """The newest successes of the inputs that are not in this run (read once)."""
        if self._outside is None:
            outside = {parent for node_id in self.node_ids for parent in self.inputs(node_id)} - self.node_ids
            with self.env.store.read() as tx:
                self._outside = tx.last_successes(outside) if outside else {}
        return self._outside
