"""The one redactor: keeping secrets out of the store, the CLI, the REST API, alerts and logs.

The values of the environment variables orchestrate.yaml names as secrets
(``*_env`` keys, see :mod:`orchestrate_ext.secrets`) are replaced with
``[redacted]`` wherever they appear (also URL-quoted, a webhook URL's
path, and a connection URL's password and its pieces, also when the URL does not
parse: a parser's error echoes what it could not read), together with text that
merely looks like a credential (Slack tokens, bearer tokens, ``password=...``,
passwords in URLs).

Only values are removed, never the words around them: prose and help texts that
talk about credentials stay readable. A ``password:``/``token:`` followed by a plain
word ("a bot token: Block Kit") is prose, so after a colon only a credential-shaped
value (one with a digit or a symbol, or a 20-character word) is masked; after ``=``
any value is. Placeholders of examples (``postgresql://user:password@host``,
``token=<token>``, ``$TOKEN``, ``***``) are left as they are.

Where it is applied: every error and warning a runner reports, before the run
loop stores or announces it; every log and error the CLI prints; every string
of every REST response; every alert (the alerts plugin). Node processes do not
get the secrets in the first place (:func:`orchestrate_ext.secrets.node_environment`);
redaction is the second line, for a node that was given one (``env_passthrough``)
or a secret that reached a message some other way.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from orchestrate_ext.secrets import prefixed_secrets

MASK = "[redacted]"

_PLACEHOLDER = r"(?:password|passwd|pass|pwd|secret|token|\*+|<[^<>@\s]*>|(?-i:\$\{?[A-Z_][A-Z0-9_]*\}?)|\.\.\.)"
"""Values that stand for a credential in an example or a help text (``postgresql://user:password@host``)."""
_SHAPED = r"(?=[^\s,;'\"&`]*(?:\d|[._~+/=!#$%^*-][^\s,;'\"&`])|[^\s,;'\"&`]{20})"
"""A value that looks made, not written: it holds a digit or a symbol inside it (a full stop at its end is
prose), or is a 20-character word."""

_PATTERNS = (
    re.compile(r"xox[abposre]-[A-Za-z0-9-]{6,}"),
    re.compile(r"xapp-[A-Za-z0-9-]{6,}"),
    re.compile(r"https://hooks\.slack(?:-gov)?\.com/[\w/\-]+"),
    re.compile(rf"(?i)(\bbearer\s+)(?!{_PLACEHOLDER}\b){_SHAPED}[A-Za-z0-9._~+/=-]{{8,}}"),
    # key=value: whatever follows '=' (but not a placeholder or a quote/backtick that starts prose)
    re.compile(
        rf"(?i)((?:password|passwd|pwd|secret|token|api_key|apikey)\s*=\s*)"
        rf"(?!{_PLACEHOLDER}(?![^\s,;'\"&`]))[^\s,;'\"&`<>(){{}}\[\]][^\s,;'\"&]*"
    ),
    # key: value: only a credential-shaped value, so prose ("a bot token: Block Kit") stays
    re.compile(
        rf"(?i)((?:password|passwd|pwd|secret|token|api_key|apikey)\s*:\s*)"
        rf"(?!{_PLACEHOLDER}(?![^\s,;'\"&`])){_SHAPED}[^\s,;'\"&`<>(){{}}\[\]][^\s,;'\"&]*"
    ),
    # scheme://user:password@ (a placeholder, or a password already ***, stays); up to the last '@' of the
    # word, as a password with an unencoded '@' or '/' does not parse and is echoed whole
    re.compile(rf"(?i)(\b[a-z][a-z0-9+.-]*://[^/\s:@]+:)(?!{_PLACEHOLDER}@)[^\s]*[^@\s](@)"),
    # ... and one with spaces in its password, when '@host/' or '@host:port/' follows
    re.compile(
        rf"(?i)(\b[a-z][a-z0-9+.-]*://[^/\s:@]+:)(?!{_PLACEHOLDER}@)[^\n@]{{0,64}}?[^@\s](@)"
        r"(?=[a-z0-9.\-\[\]]+(?::\d+)?/)"
    ),
)
_MIN_SECRET = 6


class Redactor:
    """Replaces known secret values and credential-looking text with ``[redacted]``."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        values: set[str] = set()
        for secret in secrets:
            if not secret or len(secret) < _MIN_SECRET:
                continue
            values.update({secret, quote(secret, safe=""), quote(secret)})
            values.update(url_password_pieces(secret))
            parts = urlsplit(secret)
            if parts.scheme and parts.netloc and len(parts.path) >= 8:
                values.add(parts.path)  # a webhook URL's path is the secret part
        self._values = sorted(values, key=len, reverse=True)

    @classmethod
    def from_env(cls, names: Iterable[str], environ: Mapping[str, str] | None = None) -> Redactor:
        """A redactor for the values the variables ``names`` have in ``environ`` (default: this process's),
        and those of the variables secret by name (``DBT_ENV_SECRET_*``)."""
        env = os.environ if environ is None else environ
        return cls(env.get(name, "") for name in {*names, *prefixed_secrets(env)})

    def document(self, value: Any) -> Any:
        """A copy of ``value`` (a JSON-like document) with every string in it, keys included, redacted.

        Walks without recursion, so a deeply nested document (an output notebook) cannot exhaust the stack.
        """
        root: list[Any] = [value]
        pending: list[tuple[Any, Any]] = [(root, 0)]
        while pending:
            container, key = pending.pop()
            item = container[key]
            if isinstance(item, str):
                container[key] = self(item)
            elif isinstance(item, dict):
                copy = {self(name) if isinstance(name, str) else name: child for name, child in item.items()}
                container[key] = copy
                pending.extend((copy, name) for name in copy)
            elif isinstance(item, list | tuple):
                listed = list(item)
                container[key] = listed
                pending.extend((listed, index) for index in range(len(listed)))
        return root[0]

    def __call__(self, text: str | None) -> str:
        """``text`` with secrets replaced; None becomes the empty string."""
        if not text:
            return text or ""
        for value in self._values:
            text = text.replace(value, MASK)
        for pattern in _PATTERNS:
            text = pattern.sub(lambda m: (m.group(1) if m.lastindex else "") + MASK + _tail(m), text)
        return text


def url_password(url: str) -> str | None:
    """The password of a ``scheme://user:password@host`` URL, also one that does not parse (an unencoded
    space, ``%``, ``@`` or ``/`` in it): everything between the user's ``:`` and the last ``@``."""
    scheme, separator, rest = url.strip().partition("://")
    if not separator or not scheme or "@" not in rest:
        return None
    userinfo = rest.rpartition("@")[0]
    _user, colon, password = userinfo.partition(":")
    return password if colon and password else None


def url_password_pieces(url: str) -> set[str]:
    """What a parser may echo of a URL's password: the password (also decoded where it decodes) and,
    when it holds characters that split URLs (space, ``@``, ``/``, ``%``, ...), each piece of it long
    enough not to be a common word."""
    password = url_password(url)
    if password is None:
        return set()
    pieces = {password, unquote(password)}
    pieces.update(piece for piece in re.split(r"[\s@/%:#?\[\]]+", password) if len(piece) >= _MIN_SECRET)
    return {piece for piece in pieces if len(piece) >= _MIN_SECRET or piece == password}


def _tail(match: re.Match[str]) -> str:
    return match.group(2) if match.lastindex and match.lastindex >= 2 else ""


class RedactingFilter(logging.Filter):
    """Formats a record's message, then redacts it; attach it to the logger that emits the record."""

    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self.redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = self.redactor(record.getMessage())
        record.args = None
        return True


def redacting_logger(name: str, redactor: Redactor) -> logging.Logger:
    """A private logger whose records are redacted, then handled like those of ``name``.

    Not registered with :mod:`logging` (no global state); records propagate to
    the handlers of ``name`` and its ancestors.
    """
    logger = logging.Logger(name)
    logger.parent = logging.getLogger(name)
    logger.addFilter(RedactingFilter(redactor))
    return logger
