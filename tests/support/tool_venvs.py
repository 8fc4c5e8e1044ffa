"""Virtual environments for the tools an export is checked with (Airflow, Dagster), built once and cached.

The pins live in ``tests/export_tools.txt``, one ``[section]`` per environment. Each environment is
kept in ``~/.cache/orchestrate-ext-tests/<section>-<hash>`` (or ``$ORCHESTRATE_TOOL_VENVS``), where the
hash covers the section's lines and the Python version: a changed pin builds a new one, an unchanged one is
reused between local runs. A file lock keeps two test processes from building the same one at once; an
environment counts as built only once ``built.json`` (which records how long the build took) is written::

    python -m tests.support.tool_venvs airflow     # builds (or finds) it and prints its folder and build time
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

REQUIREMENTS = Path(__file__).resolve().parent.parent / "export_tools.txt"
CACHE_ENV = "ORCHESTRATE_TOOL_VENVS"


def sections(path: Path = REQUIREMENTS) -> dict[str, list[str]]:
    """The requirement lines of each ``[section]`` of ``path`` (comments and blank lines left out)."""
    found: dict[str, list[str]] = {}
    current: list[str] | None = None
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if line.startswith("[") and line.endswith("]"):
            current = found.setdefault(line[1:-1], [])
        elif current is not None:
            current.append(line)
    return found


def cache_root() -> Path:
    configured = os.environ.get(CACHE_ENV)
    return Path(configured) if configured else Path.home() / ".cache" / "orchestrate-ext-tests"


def venv_dir(section: str) -> Path:
    lines = sections()[section]
    key = "\n".join([sys.version.split()[0], *lines]).encode()
    return cache_root() / f"{section}-{hashlib.sha256(key).hexdigest()[:12]}"


def python_of(venv: Path) -> Path:
    return venv / "bin" / "python"


def ensure(section: str) -> Path:
    """The folder of the built environment for ``section``, building it first when it is not there."""
    venv = venv_dir(section)
    marker = venv / "built.json"
    if marker.exists():
        return venv
    venv.parent.mkdir(parents=True, exist_ok=True)
    with open(venv.parent / f"{venv.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if marker.exists():
            return venv
        started = time.monotonic()
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
        requirements = venv / "requirements.txt"
        requirements.write_text("\n".join(sections()[section]) + "\n", encoding="utf-8")
        subprocess.run(
            [
                str(python_of(venv)),
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "-r",
                str(requirements),
            ],
            check=True,
        )
        marker.write_text(json.dumps({"seconds": round(time.monotonic() - started, 1)}), encoding="utf-8")
    return venv


def build_seconds(venv: Path) -> float:
    return float(json.loads((venv / "built.json").read_text(encoding="utf-8"))["seconds"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("section", choices=sorted(sections()))
    venv = ensure(parser.parse_args().section)
    print(f"{venv} built in {build_seconds(venv)} s")


if __name__ == "__main__":
    main()
