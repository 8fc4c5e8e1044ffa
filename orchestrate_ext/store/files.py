"""Where a run's files (try logs, output notebooks) are recorded: relative to the project's state folder.

The store keeps ``runs/<run id>/logs/<node>.<try>.log``, not ``/home/ana/shop/.orchestrate/runs/…``: a
project copied or moved elsewhere (or a state folder mounted at another path on another host) shows its own
files, never the original's. Rows written before this kept absolute paths; they are read as follows:

* an absolute path inside this state folder, or inside this project's folder, is that file;
* an absolute path elsewhere that has ``runs/<its run id>/`` in it is that part re-rooted at this state folder
  (a copied project's own copy of the file);
* any other absolute path (a runner that wrote its output elsewhere on purpose) is read as recorded; readers
  that serve files to others check containment themselves (the REST API serves only the state folder);
* a relative path that escapes the state folder (``../``) is no file: ``None``.

Invariant: a relative path is always read inside the state folder.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path, PurePosixPath


@dataclass(frozen=True, slots=True)
class StateFiles:
    """Turns a run's file paths into what the store keeps, and back, for one state folder."""

    state_dir: Path
    project_dir: Path | None = None
    """The project's folder: an old absolute row inside it is read as it is."""

    def stored(self, path: str | Path | None) -> str | None:
        """What the store keeps for ``path``: relative to the state folder (POSIX), or as given if outside it."""
        if path is None:
            return None
        absolute = Path(path) if Path(path).is_absolute() else self.state_dir / path
        try:
            return absolute.resolve().relative_to(self.state_dir.resolve()).as_posix()
        except ValueError:
            return str(path)

    def resolve(self, stored: str | None, run_id: str) -> str | None:
        """The file a stored path stands for in this state folder (see the module docstring); None: none here."""
        if not stored:
            return None
        base = self.state_dir.resolve()
        recorded = PurePosixPath(stored)
        if not recorded.is_absolute():
            candidate = (base / Path(*recorded.parts)).resolve()
            return str(candidate) if candidate.is_relative_to(base) else None
        path = Path(stored).resolve()
        homes = [base] if self.project_dir is None else [base, self.project_dir.resolve()]
        if any(path.is_relative_to(home) for home in homes):
            return str(path)
        parts = recorded.parts
        for index in range(len(parts) - 1):
            if parts[index] == "runs" and parts[index + 1] == run_id:
                candidate = (base / Path(*parts[index:])).resolve()
                return str(candidate) if candidate.is_relative_to(base) else None
        return stored
