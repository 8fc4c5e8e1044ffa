"""The layers of the core: every module has one, and the store loads nothing above it."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib

from tests.conftest import REPO

PACKAGE = REPO / "orchestrate_ext"


def layered_modules() -> set[str]:
    contracts = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
    (layers,) = [contract["layers"] for contract in contracts if contract["type"] == "layers"]
    return {name.strip() for layer in layers for name in layer.split(":")}


def test_every_module_of_the_core_is_in_a_layer() -> None:
    """A new top-level module must say which layer it belongs to, or the contract does not hold it."""
    top = {
        f"orchestrate_ext.{path.stem if path.is_file() else path.name}"
        for path in PACKAGE.iterdir()
        if (path.suffix == ".py" and path.stem != "__init__") or (path / "__init__.py").is_file()
    }
    missing = sorted(top - layered_modules())
    assert not missing, f"add these to a layer of the 'layers' contract in pyproject.toml: {missing}"


def loaded_by(statement: str) -> set[str]:
    code = f"import json, sys; {statement}; print(json.dumps(sorted(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    return set(json.loads(result.stdout.splitlines()[-1]))


def test_importing_the_store_loads_no_scheduling_execution_or_configuration() -> None:
    loaded = loaded_by("import orchestrate_ext.store")
    above = sorted(
        name
        for name in loaded
        if name.startswith(("orchestrate_ext.scheduling", "orchestrate_ext.execution"))
        or name in {"orchestrate_ext.config", "orchestrate_ext.schedule_settings", "orchestrate_ext.cron"}
        or name.split(".")[0] in {"pydantic", "croniter"}
    )
    assert not above, above


def test_the_version_loads_no_configuration_store_or_plugin() -> None:
    """`orchestrate --version` answers from the package alone (start-up time; see benchmarks/startup.py)."""
    run = (
        "from orchestrate_ext.cli import main\n"
        "sys.argv = ['orchestrate', '--version']\n"
        "try: main()\n"
        "except SystemExit: pass"
    )
    loaded = loaded_by(f"exec({run!r})")
    heavy = sorted(
        name
        for name in loaded
        if name.split(".")[0] in {"pydantic", "croniter", "sqlite3", "rich", "yaml", "psutil"}
        or name in {"importlib.metadata", "orchestrate_ext.config", "orchestrate_ext.store", "orchestrate_ext.project"}
    )
    assert not heavy, heavy


def test_loggers_are_named_after_their_module() -> None:
    """``logging.getLogger(__name__)``: a log line says which module wrote it (one name per concept)."""
    named = [
        f"{path.relative_to(REPO)}:{number}"
        for package in ("orchestrate_ext", "dbt_adapter", "jupyter_extension", "alerts")
        for path in (REPO / package).rglob("*.py")
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if re.search(r"getLogger\(\s*[\"'](orchestrate_ext|dbt_adapter|jupyter_extension|alerts)", line)
    ]
    assert not named, f"use logging.getLogger(__name__) in {named}"
