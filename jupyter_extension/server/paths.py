"""Resolving the paths a client sends, inside the server's root directory only.

A path from a request is a POSIX path relative to the Jupyter root (what Lab
shows in its file browser). Refused, before anything is read or written:
empty paths, NUL bytes, backslashes, absolute paths (``/x``, ``C:x``, ``~x``),
any ``..`` component, names longer than the file system allows (255 bytes a
name, 4096 a path), and paths that resolve (following symbolic links)
outside the root. The containment check compares whole path components, so
``/srv/shop-evil`` is not inside ``/srv/shop``.
"""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath

from jupyter_extension.server.errors import NotFound, UnsafePath

_DRIVE = re.compile(r"^[A-Za-z]:")
MAX_NAME_BYTES = 255
MAX_PATH_BYTES = 4096


def resolve_inside(root: Path, raw: object, what: str = "path") -> Path:
    """The real (symlink-free) location ``raw`` names inside ``root``.

    Raises:
        UnsafePath: ``raw`` is not a plain relative path or leads outside ``root``.
    """
    if not isinstance(raw, str) or not raw.strip():
        raise UnsafePath(f"{what} is empty; give a path relative to the Jupyter root, e.g. 'reports/daily.ipynb'")
    shown = raw if len(raw) <= 200 else raw[:200] + "..."
    if "\x00" in raw or "\\" in raw:
        raise UnsafePath(f"{what} '{shown!s}' contains a NUL byte or a backslash; use '/' between folders")
    pure = PurePosixPath(raw)
    if pure.is_absolute() or _DRIVE.match(raw) or raw.startswith("~"):
        raise UnsafePath(f"{what} '{shown}' is absolute; give a path relative to the Jupyter root")
    if ".." in pure.parts:
        raise UnsafePath(f"{what} '{shown}' contains '..'; give a path inside the Jupyter root")
    _check_lengths(raw, pure, what, shown)
    real_root = root.resolve(strict=True)
    try:
        real = (real_root / pure).resolve()
    except (OSError, RuntimeError) as exc:  # a symlink loop, a name the file system refuses
        raise UnsafePath(f"{what} '{shown}' cannot be resolved: {getattr(exc, 'strerror', None) or exc}") from None
    if not real.is_relative_to(real_root):
        raise UnsafePath(f"{what} '{shown}' leads outside the Jupyter root (through a symbolic link)")
    return real


def _check_lengths(raw: str, pure: PurePosixPath, what: str, shown: str) -> None:
    try:
        encoded = [part.encode("utf-8") for part in pure.parts]
        total = len(raw.encode("utf-8"))
    except UnicodeEncodeError:
        raise UnsafePath(f"{what} {shown!r} is not valid text (a lone surrogate)") from None
    if any(len(part) > MAX_NAME_BYTES for part in encoded):
        raise UnsafePath(
            f"{what} '{shown}' has a name longer than {MAX_NAME_BYTES} bytes, which no file can have; check the path"
        )
    if total > MAX_PATH_BYTES:
        raise UnsafePath(f"{what} '{shown}' is longer than {MAX_PATH_BYTES} bytes; check the path")


def relative_to_root(root: Path, path: Path) -> str | None:
    """``path`` as a Lab path (POSIX, relative to ``root``), or None when it lies outside."""
    real_root = root.resolve()
    real = path.resolve()
    if not real.is_relative_to(real_root):
        return None
    return real.relative_to(real_root).as_posix()


def resolve_notebook(root: Path, project_root: Path, raw: object) -> tuple[Path, str]:
    """A notebook of the project named by a Lab path: its real path and its project-relative path.

    Raises:
        UnsafePath: see :func:`resolve_inside`; also a file that is not ``.ipynb``.
        NotFound: no such notebook.
    """
    path = resolve_inside(root, raw, "notebook")
    if path.suffix != ".ipynb":
        raise UnsafePath(f"notebook '{raw}' is not a .ipynb file")
    if not path.is_file():
        raise NotFound(f"no notebook '{raw}' in the Jupyter root; check the path")
    real_project = project_root.resolve()
    if not path.is_relative_to(real_project):
        raise UnsafePath(f"notebook '{raw}' is outside the orchestrate project {real_project}")
    return path, path.relative_to(real_project).as_posix()


def contained_file(base: Path, recorded: str | None) -> Path | None:
    """A file the state store recorded (a log, an output notebook), if it exists inside ``base``.

    The store is trusted only as far as this: a recorded path outside the
    state folder is never read.
    """
    if not recorded:
        return None
    path = Path(recorded).resolve()
    if not path.is_relative_to(base.resolve()) or not path.is_file():
        return None
    return path
