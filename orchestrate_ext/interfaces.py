"""The contracts between the engine and its plugins.

A plugin is an object published under the entry-point group
``orchestrate_ext.plugins``. It owns one top-level key of ``orchestrate.yaml``
(validated by its own ``config_model``). A :class:`NodePlugin` also discovers
nodes and runs batches of the nodes it discovered. The engine never imports a
plugin by name.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from orchestrate_ext.launcher import Launcher, LocalLauncher, WorkerNeeds
from orchestrate_ext.model import AttemptRecord, AttemptStatus, Node

if TYPE_CHECKING:
    from orchestrate_ext.graph import Graph


@dataclass(frozen=True, slots=True)
class Workspace:
    """Where a project lives on disk.

    Attributes:
        root: the folder holding ``orchestrate.yaml``; node paths are relative to it.
        config_path: the configuration file itself.
        state_dir: where runs, logs and output notebooks are written.
        secret_env: the environment variables orchestrate.yaml names as secrets (``*_env`` keys);
            node processes do not get them (:func:`orchestrate_ext.secrets.node_environment`).
    """

    root: Path
    config_path: Path
    state_dir: Path
    secret_env: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class RunContext:
    """What every node of one run shares.

    Attributes:
        launcher: where the run's tries run (this machine, or a Dask cluster); runners start
            their processes through it (see :mod:`orchestrate_ext.launcher`).
    """

    run_id: str
    logical_date: datetime
    run_dir: Path
    parameters: Mapping[str, Any] = field(default_factory=dict)
    launcher: Launcher = field(default_factory=LocalLauncher)


@dataclass(frozen=True, slots=True)
class NodeTask:
    """One node to run as one try.

    Attributes:
        timeout: seconds after which the runner must stop the node's whole
            process tree and report ``TIMED_OUT``; None for no limit.
        log_path: the file the runner writes this try's log to.
    """

    node: Node
    try_number: int
    log_path: Path
    timeout: float | None


@dataclass(frozen=True, slots=True)
class NodeOutcome:
    """How one try ended, as reported by a runner.

    ``skipped`` means the runner did not run the node at all (e.g. dbt skipped
    it because a node earlier in the same batch failed); the engine then
    decides its fate from the graph. ``warning`` on a successful try makes the
    node ``warned`` (e.g. a dbt test of ``severity: warn`` that found rows):
    its dependants still run.
    """

    status: AttemptStatus | None
    error: str | None = None
    output_path: str | None = None
    skipped: bool = False
    warning: str | None = None
    worker: str | None = None
    """Where the try ran: ``local``, or the Dask worker's address."""

    @classmethod
    def skip(cls, reason: str) -> NodeOutcome:
        return cls(status=None, error=reason, skipped=True)


class BatchReporter(Protocol):
    """Receives each node's start and end while a batch runs."""

    def started(self, node_id: str, output_path: str | None = None) -> None: ...

    def finished(self, node_id: str, outcome: NodeOutcome) -> None: ...


class NodeRunner(Protocol):
    """Runs nodes of one kind.

    ``batchable`` runners get every adjacent ready node of their kind in one
    call (dbt runs them in one invocation); the others get one task per call.
    ``run`` must report ``finished`` for every task it reported ``started``,
    stop within seconds once ``cancel`` is set, and enforce each task's
    timeout by stopping its process tree. Any task it reports nothing for is
    failed by the engine with the exception ``run`` raised, if any.
    """

    batchable: bool

    def run(
        self,
        context: RunContext,
        tasks: Sequence[NodeTask],
        reporter: BatchReporter,
        cancel: threading.Event,
    ) -> None: ...


@dataclass(frozen=True, slots=True)
class NodeFingerprint:
    """What determines one node's result, apart from the upstream results it reads.

    Attributes:
        code: a hash of the node's code and configuration (a dbt node's checksum, config and
            macros; a notebook's code cells and kernel); a change means the node must run.
        inputs: what the node reads besides upstream results: its effective parameters, the
            logical date when it reads it, new data in a source it reads.
    """

    code: str
    inputs: str = ""


@runtime_checkable
class FingerprintingRunner(Protocol):
    """A runner that can tell what determines its nodes' results (for ``--only-changed`` runs)."""

    def fingerprints(
        self, context: RunContext, nodes: Sequence[Node], *, check_sources: bool
    ) -> Mapping[str, NodeFingerprint | None]:
        """A fingerprint per node id; a node left out (or None) is never reused.

        ``check_sources`` asks to include new data in the sources the nodes read (e.g. by
        running ``dbt source freshness``); only ``--only-changed`` runs ask, as it may take seconds.
        """
        ...


@runtime_checkable
class RecoverableRunner(Protocol):
    """A runner that can tell how a try ended after the process running it died.

    A try may finish (its notebook executed, its result written) moments
    before the process that started it is killed; crash recovery then asks
    the runner instead of calling the try ``crashed`` and running it again.
    """

    def recorded_outcome(self, attempt: AttemptRecord) -> NodeOutcome | None:
        """The finished try's outcome as it left it on disk, or None when it did not finish."""
        ...


@runtime_checkable
class WorkerRequirements(Protocol):
    """A node plugin whose tries need modules or kernels on the machines that run them."""

    def worker_needs(self, config: Any, graph: Graph) -> WorkerNeeds:
        """What the project's nodes of this plugin need (checked by ``orchestrate validate``)."""
        ...


@runtime_checkable
class Plugin(Protocol):
    """Anything that owns a key of orchestrate.yaml."""

    config_key: str
    """The top-level key of orchestrate.yaml this plugin owns."""

    config_model: Any
    """A pydantic model (or type) that validates that key's value."""


@runtime_checkable
class NodePlugin(Plugin, Protocol):
    """A source of nodes and the runner for them."""

    def discover(self, workspace: Workspace, config: Any) -> Sequence[Node]:
        """All nodes this plugin contributes; may raise ``BadInput``."""
        ...

    def runners(self, workspace: Workspace, config: Any) -> Mapping[str, NodeRunner]:
        """A runner per node kind this plugin discovers (non-runnable kinds omitted)."""
        ...


@runtime_checkable
class TolerantDiscovery(Protocol):
    """A node plugin that can also discover the nodes whose own settings are invalid.

    Used where the rest of the project must stay usable while one node is
    wrong (the JupyterLab panel, ``orchestrate retry``): such a node comes back
    as a placeholder (its id, kind, name and path; no dependencies) with its
    error by id, and :mod:`orchestrate_ext.partial_graph` marks it broken.
    """

    def discover_tolerant(self, workspace: Workspace, config: Any) -> tuple[Sequence[Node], Mapping[str, str]]: ...


@runtime_checkable
class Observer(Protocol):
    """Hears every change of every run (it is a ``RunListener``) and gets a periodic ``tick``.

    ``tick`` is called by the scheduler loop (and by ``orchestrate run`` while it
    waits) every second or so, for work that does not wait for an event:
    deadline checks, delivering queued messages. ``close`` is called once before
    the process exits and may block for at most ``timeout`` seconds.
    """

    def run_started(self, run: Any, node_ids: list[str]) -> None: ...

    def node_changed(self, change: Any) -> None: ...

    def run_finished(self, run: Any) -> None: ...

    def tick(self, now: datetime) -> None: ...

    def close(self, timeout: float) -> None: ...


@dataclass(frozen=True, slots=True)
class ConfigProblem:
    """Something in the project that keeps work from running, told once to whoever must fix it.

    Attributes:
        key: what the problem is about, stable while it lasts: ``node:<node id>`` for a broken
            node, ``schedule:<name>`` for a broken schedule, ``alerts:<node id>`` for a node's
            invalid alert routes, ``plugin:<key>`` for a part of the project that gave no nodes
            (``dbt parse`` failed), ``project`` for a project that cannot be loaded, ``scheduler``
            for a scheduler that cannot start. One incident per key; a key no longer reported is fixed.
        message: what is wrong and how to fix it ("node X is left out: ..."), secrets removed.
        node_id / owner: the broken node and its owner, for routing (None for the project).
    """

    key: str
    message: str
    node_id: str | None = None
    owner: str | None = None


@runtime_checkable
class ConfigProblemListener(Protocol):
    """An observer that also hears what is wrong with the project (alerts route it as ``config_error``)."""

    def config_problems(self, scope: str, problems: Sequence[ConfigProblem], now: datetime) -> None:
        """Every problem of ``scope`` now (``project``: broken nodes and a project that cannot load;
        ``scheduler``: a scheduler that cannot start). Problems of the scope not in the list are fixed."""
        ...


@runtime_checkable
class ImplicitPlugin(Protocol):
    """An observer plugin that may be on although orchestrate.yaml has no key of its own.

    The lineage plugin is on when OpenLineage's own configuration is found
    (``OPENLINEAGE_URL``, ``openlineage.yml``); the engine asks it when the key is absent.
    """

    def implicit_config(self, workspace: Workspace) -> Any | None:
        """The section to run with when orchestrate.yaml has no key for it, or None to stay off.

        Must be cheap: it is asked for every run, and must not import heavy modules when off.
        """
        ...


@runtime_checkable
class CommandPlugin(Protocol):
    """A plugin that adds commands to the ``orchestrate`` command line (e.g. ``orchestrate alerts``).

    The CLI collects them from every installed plugin when it starts
    (:mod:`orchestrate_ext.cli.plugin_commands`), so the core never imports the
    plugin by name. Commands should import their heavy modules lazily.
    """

    def cli_commands(self) -> Sequence[Any]:
        """click commands or groups; each is added under its own name unless the core has one."""
        ...


@runtime_checkable
class DescribingPlugin(Protocol):
    """A plugin that says what it resolved (e.g. dbt's profile and target), printed by ``orchestrate validate``."""

    def describe(self, config: Any, workspace: Workspace) -> Sequence[str]:
        """Lines of information; may raise ``BadInput``."""
        ...


@dataclass(frozen=True, slots=True)
class InitialConfig:
    """A plugin's part of the first orchestrate.yaml.

    Attributes:
        lines: YAML lines of the plugin's section, its key included.
        notes: what the plugin found or did, printed by ``orchestrate init``.
    """

    lines: tuple[str, ...]
    notes: tuple[str, ...] = ()


@runtime_checkable
class InitPlugin(Protocol):
    """A plugin that writes its section of the orchestrate.yaml ``orchestrate init`` creates."""

    def initial_config(self, folder: Path) -> InitialConfig | None:
        """Its section for the project in ``folder``, or None if it found nothing to configure there."""
        ...


@runtime_checkable
class StorePlugin(Protocol):
    """A plugin with tables of its own in the state store (e.g. the alerts outbox).

    ``orchestrate state migrate`` and ``orchestrate state info`` cover them
    through this; the plugin registers them itself when it uses them.
    """

    def store_components(self) -> Sequence[Any]:
        r"""Its :class:`~orchestrate_ext.store.Component`\ s."""
        ...


@runtime_checkable
class CheckingPlugin(Protocol):
    """A plugin with checks beyond its ``config_model``, run by ``orchestrate validate``."""

    def check(self, config: Any, workspace: Workspace, graph: Any) -> Sequence[str]:
        """Warnings to show (e.g. a route matching no node); raise ``ConfigError`` for errors."""
        ...


class Finding(str):
    """A warning of :meth:`CheckingPlugin.check` that a :class:`FixingPlugin` can fix with one action.

    It is the warning's text (``orchestrate validate`` prints it as it is), with the action's name
    (``fix``) and a label for its button, so the JupyterLab panel can offer the fix beside it.
    """

    fix: str
    label: str

    def __new__(cls, text: str, fix: str, label: str) -> Finding:
        found = super().__new__(cls, text)
        found.fix = fix
        found.label = label
        return found


@runtime_checkable
class FixingPlugin(Protocol):
    """A plugin that can fix what its :class:`Finding` warnings are about (e.g. write a ``.dbtignore``)."""

    def fix(self, action: str, config: Any, workspace: Workspace) -> str:
        """Do ``action`` (the ``fix`` of one of its findings); say what was done. Idempotent.

        Raises:
            BadInput: the plugin knows no such action.
        """
        ...
