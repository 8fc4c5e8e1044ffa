"""New rows in sources, as ``dbt source freshness`` finds them, for ``--only-changed`` runs.

One ``dbt source freshness --select source:... --output <temporary file>`` for every source asked
about (a dbt process costs seconds; one per source would cost that many times over). Each source's
``max_loaded_at`` and status are read from that file (dbt's ``sources.json`` artifact). A source dbt
could not check (a runtime error, a missing table, dbt failing as a whole, a timeout) is left out,
so that what reads it runs: the check never makes a node reuse a result it should not.
"""

from __future__ import annotations

import importlib
import logging
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from dbt_adapter.events import error_messages
from dbt_adapter.fingerprint import LoadedAt
from dbt_adapter.project import DbtProject
from orchestrate_ext.errors import BadInput, ManifestError
from orchestrate_ext.launcher import for_this_machine
from orchestrate_ext.model import Node
from orchestrate_ext.safe_load import MANIFEST_LIMITS, load_json_file

log = logging.getLogger(__name__)

TIMEOUT_SECONDS = 600.0
_QUIET = ["--log-format", "json", "--log-level", "warn", "--log-level-file", "none"]


def has_metadata_freshness(adapter_type: str | None) -> bool:
    """Whether dbt's adapter ``adapter_type`` tells a source's freshness without a ``loaded_at_field``.

    dbt asks the adapter for ``Capability.TableLastModifiedMetadata`` (DuckDB: no; Snowflake, BigQuery:
    yes). An adapter not known here, or not installed, is given the benefit of the doubt (True).
    """
    if not adapter_type:
        return True
    try:
        from dbt.adapters.capability import Capability

        plugin = importlib.import_module(f"dbt.adapters.{adapter_type}").Plugin
        return bool(plugin.adapter.supports(Capability.TableLastModifiedMetadata))
    except (ImportError, AttributeError):
        return True


def loaded_at(
    project: DbtProject,
    selectors: Mapping[str, str],
    variables: Mapping[str, object],
    nodes: Sequence[Node] = (),
    timeout: float = TIMEOUT_SECONDS,
) -> dict[str, LoadedAt]:
    """What dbt finds of each source of ``selectors`` (``source:...`` by unique id); unchecked ones are left out.

    Args:
        variables: the run's ``--vars`` (the same as its batches, so dbt keeps its partial parse).
        nodes: the nodes whose environment dbt gets (passed-through variables, secrets withheld).
    """
    if not selectors:
        return {}
    with tempfile.TemporaryDirectory(prefix="orchestrate-freshness-") as folder:
        output = Path(folder) / "sources.json"
        argv = for_this_machine(  # run here, by the engine, before the run's batches
            project.argv(
                "source freshness",
                "--select",
                *sorted(selectors.values()),
                "--output",
                str(output),
                *_QUIET,
                variables=variables,
            )
        )
        try:
            completed = subprocess.run(
                argv,
                cwd=project.project_dir,
                env=project.env(nodes),
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            log.warning("`dbt source freshness` for --only-changed did not finish (%s); what reads sources runs", exc)
            return {}
        if not output.is_file():
            problems = error_messages((completed.stdout + completed.stderr).splitlines())
            log.warning(
                "`dbt source freshness` wrote no results (exit code %s): %s; what reads its sources runs",
                completed.returncode,
                "; ".join(problems[-3:]) or "no error message",
            )
            return {}
        return read_results(output, set(selectors))


def read_results(path: Path, wanted: set[str]) -> dict[str, LoadedAt]:
    """Each wanted source's result in a ``sources.json`` (an unreadable file is as if nothing was checked)."""
    try:
        raw = load_json_file(path, MANIFEST_LIMITS, ManifestError)
    except BadInput as exc:
        log.warning("cannot read the results of `dbt source freshness`: %s", exc)
        return {}
    results = raw.get("results") if isinstance(raw, dict) else None
    found: dict[str, LoadedAt] = {}
    for result in results if isinstance(results, list) else ():
        if not isinstance(result, dict) or result.get("unique_id") not in wanted:
            continue
        status = str(result.get("status") or "")
        newest = result.get("max_loaded_at")
        if status == "runtime error" or not newest:
            continue
        found[str(result["unique_id"])] = LoadedAt(max_loaded_at=str(newest), status=status)
    return found


class SourceChecks:
    """The sources checked in the newest run, shared by the ``dbt`` and ``dbt_freshness`` runners.

    Both kinds ask about the same sources (a model reads what a freshness check checks): the
    second to ask in a run gets the first's results, and dbt runs only for sources not yet checked.
    """

    def __init__(self) -> None:
        self._run_id: str | None = None
        self._checked: dict[str, LoadedAt | None] = {}

    def get(
        self,
        run_id: str,
        project: DbtProject,
        selectors: Mapping[str, str],
        variables: Mapping[str, object],
        nodes: Sequence[Node] = (),
    ) -> dict[str, LoadedAt]:
        if run_id != self._run_id:
            self._run_id, self._checked = run_id, {}
        missing = {uid: selector for uid, selector in selectors.items() if uid not in self._checked}
        if missing:
            found = loaded_at(project, missing, variables, nodes)
            self._checked.update({uid: found.get(uid) for uid in missing})
        return {uid: value for uid in selectors if (value := self._checked.get(uid)) is not None}
