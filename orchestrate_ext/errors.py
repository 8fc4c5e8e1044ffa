"""The exceptions orchestrate-ext raises.

Every error derives from :class:`OrchestrateError`; where a builtin fits, the
error inherits it too, so callers can catch either::

    OrchestrateError
    ├── BadInput                  (ValueError)   the user can fix it; CLI exit 2, HTTP 400
    │   ├── ConfigError                          orchestrate.yaml or node metadata is wrong
    │   │   ├── InputError                       a YAML/JSON input is too big, too deep, not UTF-8, malformed
    │   │   └── MissingExtra                     the configuration needs an optional extra that is not installed
    │   ├── SelectorError                        a --select expression names nothing valid
    │   ├── NodeNotFound          (LookupError)  a node id or reference that does not exist
    │   ├── CycleError                           the graph has a cycle
    │   ├── ManifestError                        dbt's manifest cannot be read or is unsupported
    │   └── RunBusy                              another live process executes (or just claimed) the run
    ├── RunNotFound               (LookupError)  no run with that id in the state store
    ├── StoreError                (RuntimeError) the state store cannot be opened or written
    │   ├── StoreConflict                        a write broke a uniqueness rule (e.g. a run id taken)
    │   └── StoreUnreachable  (ConnectionError)  the database server cannot be reached (an outage)
    ├── IllegalTransition         (RuntimeError) a status move the transition table does not allow (a bug)
    └── PluginError               (RuntimeError) a node source or runner failed to load

Messages say what failed, show the offending value and say what to do.
Third-party errors are translated once, at the adapter boundary, with
``raise ... from exc``.
"""

from __future__ import annotations


class OrchestrateError(Exception):
    """Root of every error orchestrate-ext raises on purpose."""


class BadInput(OrchestrateError, ValueError):
    """Input the user can correct: configuration, selection, references."""


class ConfigError(BadInput):
    """A configuration file or a node's metadata is invalid."""


class InputError(ConfigError):
    """A YAML or JSON input cannot be read safely: too large, too deep, an alias bomb, not UTF-8, malformed.

    Raised by :mod:`orchestrate_ext.safe_load`; the message names the file (or the request body).
    """


class MissingExtra(ConfigError):
    """A setting needs an optional part of orchestrate-ext (an extra) whose package is not installed.

    Attributes:
        extra: the extra to install (``postgres``, ``dask``, ``lineage``).
        module: the module that failed to import.
    """

    def __init__(self, extra: str, module: str, needed_by: str) -> None:
        self.extra = extra
        self.module = module
        super().__init__(
            f"{needed_by} needs the '{extra}' extra of orchestrate-ext (the Python module '{module}' is not "
            f"installed); install it with: pip install 'orchestrate-ext[{extra}]'"
        )


class SelectorError(BadInput):
    """A selection expression is malformed or selects an unknown node."""


class NodeNotFound(BadInput, LookupError):
    """A referenced node does not exist in the graph."""


class CycleError(BadInput):
    """The dependency graph contains a cycle.

    Attributes:
        cycle: the node ids along the cycle, each one a dependency of the next,
            first and last equal.
    """

    def __init__(self, cycle: list[str]) -> None:
        self.cycle = cycle
        super().__init__(
            "the dependency graph has a cycle (each node feeds the next): "
            + " -> ".join(cycle)
            + "; remove one of these dependencies"
        )


class ManifestError(BadInput):
    """dbt's manifest.json is missing, unreadable or of an unsupported version."""


class RunBusy(BadInput):
    """The run cannot be executed now: another live process executes it, or claimed it first.

    Attributes:
        run_id: the run.
        owner: the process that holds it (``host:pid:start``), when known.
    """

    def __init__(self, run_id: str, owner: str | None, message: str) -> None:
        self.run_id = run_id
        self.owner = owner
        super().__init__(message)


class RunNotFound(OrchestrateError, LookupError):
    """No run with the given id exists in the state store."""

    def __init__(self, run_id: str) -> None:
        self.run_id = run_id
        super().__init__(f"no run with id '{run_id}'; list runs with `orchestrate runs`")


class StoreError(OrchestrateError, RuntimeError):
    """The state store cannot be opened, migrated or written."""


class StoreConflict(StoreError):
    """A write was refused because a row with the same key exists (e.g. a run id already taken)."""


class StoreUnreachable(StoreError, ConnectionError):
    """The state store's server cannot be reached, or the connection to it was lost.

    Attributes:
        reason: the driver's reason, with the password redacted.
        commit_unknown: the connection was lost while the unit of work's ``COMMIT`` was on its way, so
            whether it was applied is not known (otherwise it certainly was not).
    """

    def __init__(self, message: str, *, reason: str, commit_unknown: bool = False) -> None:
        super().__init__(message)
        self.reason = reason
        self.commit_unknown = commit_unknown


class IllegalTransition(OrchestrateError, RuntimeError):
    """A run, node or attempt status move that :mod:`orchestrate_ext.transitions` does not allow.

    Attributes:
        kind: ``run``, ``node`` or ``attempt``.
        subject: what moved (a run id, ``run_id/node_id``, ``run_id/node_id#try``).
        old / new: the status it had and the one it was asked to take.
    """

    def __init__(self, kind: str, subject: str, old: str, new: str, allowed: list[str]) -> None:
        self.kind = kind
        self.subject = subject
        self.old = old
        self.new = new
        options = ", ".join(allowed) if allowed else "none: it is final"
        super().__init__(
            f"{kind} {subject}: cannot move from '{old}' to '{new}' (allowed from '{old}': {options}); "
            "this is a bug in orchestrate-ext, please report it"
        )


class PluginError(OrchestrateError, RuntimeError):
    """A node source or runner plugin failed to load or misbehaved."""


def did_you_mean(word: str, candidates: list[str] | set[str]) -> str:
    """``"; did you mean 'x'?"`` for the closest candidate, or an empty string."""
    import difflib

    close = difflib.get_close_matches(word, sorted(candidates), n=1, cutoff=0.6)
    return f"; did you mean '{close[0]}'?" if close else ""
