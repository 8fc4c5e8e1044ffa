"""The one place where errors become HTTP statuses.

The REST API raises the engine's own errors (so a message reads the same as
the CLI's ``error: ...`` line) plus a few of its own::

    OrchestrateError
    ├── BadInput ──────────── 400   (ConfigError, SelectorError, NodeNotFound, UnsafePath, FieldError, ...)
    ├── LookupError ───────── 404   (RunNotFound, NotFound)
    └── Conflict ──────────── 409   the resource is in the wrong state (a run still running, ...)
    PermissionError ───────── 403   the server's user may not write the file
    other OrchestrateError ── 500   with its message (a store or plugin failure)

A body is ``{"message", "reason", "error"}``, plus ``field`` and ``detail`` for a
:class:`FieldError`. 403 for missing credentials or rights comes from Jupyter's own
``@web.authenticated`` / ``@authorized`` before a handler runs.
"""

from __future__ import annotations

from tornado.httputil import responses
from tornado.web import HTTPError

from orchestrate_ext.errors import BadInput, OrchestrateError


class NotFound(OrchestrateError, LookupError):
    """A notebook, attempt, log or output that does not exist."""


class Conflict(OrchestrateError, RuntimeError):
    """The request is valid but the resource's state forbids it now."""


class UnsafePath(BadInput):
    """A path that would leave the server's root directory, or is not a plain relative path."""


class FieldError(BadInput):
    """Bad input that belongs to one field of a form (the Schedule dialog shows it there).

    Attributes:
        field: the request key, e.g. ``cron``.
        detail: the message in the field's own words, without the file and key.
    """

    def __init__(self, message: str, field: str, detail: str) -> None:
        super().__init__(message)
        self.field = field
        self.detail = detail


class ApiError(HTTPError):
    """An HTTP error whose message is shown as is (tornado would %-format ``log_message``)."""

    def __init__(self, status: int, message: str, kind: str, field: str | None = None, detail: str | None = None):
        super().__init__(status, "%s", message, reason=responses.get(status))
        self.message = message
        self.kind = kind
        self.field = field
        self.detail = detail


_STATUSES: tuple[tuple[type[BaseException], int], ...] = (
    (BadInput, 400),
    (LookupError, 404),
    (Conflict, 409),
)


def status_for(error: BaseException) -> int | None:
    """The HTTP status for an error the API raises on purpose; None for a bug (a plain 500)."""
    if isinstance(error, PermissionError) and not isinstance(error, OrchestrateError):
        return 403
    if not isinstance(error, OrchestrateError):
        return None
    for kind, status in _STATUSES:
        if isinstance(error, kind):
            return status
    return 500


def to_http_error(error: BaseException) -> BaseException:
    """``error`` as an :class:`ApiError` when it has a status, else ``error`` itself (a 500)."""
    if isinstance(error, HTTPError):
        return error
    status = status_for(error)
    if status is None:
        return error
    message = str(error)
    if isinstance(error, PermissionError) and not isinstance(error, OrchestrateError):
        message = f"permission denied: {error.filename or error}; check the file's permissions"
    if isinstance(error, FieldError):
        return ApiError(status, message, type(error).__name__, error.field, error.detail)
    return ApiError(status, message, type(error).__name__)
