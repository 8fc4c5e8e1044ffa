"""The ``dbt:`` section ``orchestrate init`` writes, and the ``.dbtignore`` it keeps.

orchestrate-ext invokes dbt with what :mod:`dbt_adapter.resolution` resolves
from the environment and the project, exactly as dbt would on its own, so the
section names only the project folder; the profile and target found are
reported, not pinned. JupyterLab writes ``.ipynb_checkpoints/`` folders next to
every file opened in it, also under ``models/``, where dbt would read
``x-checkpoint.sql`` as a model: the project's ``.dbtignore`` gets that folder.
"""

from __future__ import annotations

from pathlib import Path

from dbt_adapter.resolution import resolve
from orchestrate_ext.errors import ConfigError
from orchestrate_ext.interfaces import InitialConfig

IGNORE_FILE = ".dbtignore"
CHECKPOINT_PATTERN = ".ipynb_checkpoints/"
_SKIPPED = {".venv", "venv", "node_modules", ".git", "dbt_packages", "target", ".orchestrate", ".ipynb_checkpoints"}


def initial_config(folder: Path) -> InitialConfig | None:
    project_dir = find_dbt_project(folder)
    if project_dir is None:
        return None
    relative = project_dir.relative_to(folder).as_posix() or "."
    lines = [
        "dbt:",
        f"  project_dir: {relative}",
        "  # profiles_dir, profile, target, target_path: set only to override what dbt finds on its own",
        "  # (DBT_PROFILES_DIR, DBT_TARGET, dbt_project.yml, ...); `orchestrate validate` shows what it uses",
    ]
    notes = [f"dbt project: {relative}"]
    try:
        settings = resolve(project_dir)
    except ConfigError as exc:
        notes.append(f"warning: {exc}")
    else:
        if settings.profile_problem:
            notes.append(f"warning: dbt cannot load its profile here yet: {settings.profile_problem}")
        else:
            notes += settings.describe()[:1]
    notes.append(ensure_ignored(project_dir))
    return InitialConfig(lines=tuple(lines), notes=tuple(notes))


def ensure_ignored(project_dir: Path) -> str:
    """Add ``.ipynb_checkpoints/`` to the project's ``.dbtignore``; says what it did."""
    path = project_dir / IGNORE_FILE
    text = path.read_text(encoding="utf-8") if path.is_file() else ""
    if any(line.strip() in {CHECKPOINT_PATTERN, CHECKPOINT_PATTERN.rstrip("/")} for line in text.splitlines()):
        return f"{path} already ignores {CHECKPOINT_PATTERN}"
    if text and not text.endswith("\n"):
        text += "\n"
    path.write_text(text + CHECKPOINT_PATTERN + "\n", encoding="utf-8")
    return f"{'added' if text else 'wrote'} {CHECKPOINT_PATTERN} to {path} (JupyterLab's checkpoints are no dbt models)"


def find_dbt_project(folder: Path) -> Path | None:
    found = sorted(
        (path for path in folder.rglob("dbt_project.yml") if not (_SKIPPED & set(path.relative_to(folder).parts))),
        key=lambda path: len(path.parts),
    )
    return found[0].parent if found else None
