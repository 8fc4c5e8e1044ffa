"""``orchestrate init``: a first orchestrate.yaml for the project in a folder."""

from __future__ import annotations

from pathlib import Path

from orchestrate_ext.config import CONFIG_FILE
from orchestrate_ext.errors import ConfigError

_IGNORED = {".venv", "venv", "node_modules", ".git", "dbt_packages", "target", ".orchestrate", ".ipynb_checkpoints"}


def write_initial_config(folder: Path, *, force: bool = False) -> Path:
    """Write ``orchestrate.yaml`` in ``folder`` naming the dbt project and notebooks found there."""
    folder = folder.resolve()
    path = folder / CONFIG_FILE
    if path.exists() and not force:
        raise ConfigError(f"{path} already exists; edit it, or pass --force to overwrite it")
    lines = ["# orchestrate-ext workspace: see the README for every key"]
    dbt_project = _find_dbt_project(folder)
    if dbt_project is not None:
        relative = dbt_project.relative_to(folder).as_posix() or "."
        lines += ["dbt:", f"  project_dir: {relative}"]
        if (dbt_project / "profiles.yml").is_file():
            lines.append(f"  profiles_dir: {relative}")
        else:
            lines.append("  # profiles_dir: .   # default: ~/.dbt")
        lines.append("  # target: dev")
    notebooks = sorted({p.parent.relative_to(folder).as_posix() for p in _walk(folder, "*.ipynb")})
    if notebooks:
        lines += ["notebooks:", "  include:"]
        lines += [f"    - {'' if d == '.' else d + '/'}*.ipynb" for d in notebooks]
    lines += [
        "concurrency: 4",
        "defaults:",
        "  retries: 0",
        "  retry_backoff: 10s",
        "  timeout: 1h",
        "state:",
        "  path: .orchestrate/state.db",
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _walk(folder: Path, pattern: str) -> list[Path]:
    return [p for p in folder.rglob(pattern) if not (_IGNORED & set(p.relative_to(folder).parts))]


def _find_dbt_project(folder: Path) -> Path | None:
    found = sorted(_walk(folder, "dbt_project.yml"), key=lambda p: len(p.parts))
    return found[0].parent if found else None
