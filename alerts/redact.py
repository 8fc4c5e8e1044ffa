"""Keeping secrets out of alerts, logs and the store.

The values of the environment variables the configuration names (token,
webhook URL, SMTP login) are replaced wherever they appear, together with
text that merely looks like a credential (Slack tokens, bearer tokens,
``password=...``, passwords in URLs).
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterable, Mapping
from urllib.parse import quote, urlsplit

MASK = "[redacted]"

_PATTERNS = (
    re.compile(r"xox[abposre]-[A-Za-z0-9-]{6,}"),
    re.compile(r"xapp-[A-Za-z0-9-]{6,}"),
    re.compile(r"https://hooks\.slack(?:-gov)?\.com/[\w/\-]+"),
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]{8,}"),
    re.compile(r"(?i)((?:password|passwd|pwd|secret|token|api_key|apikey)\s*[=:]\s*)[^\s,;'\"&]+"),
    re.compile(r"(?i)(\b[a-z][a-z0-9+.-]*://[^/\s:@]+:)[^@\s/]+(@)"),
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
            parts = urlsplit(secret)
            if parts.scheme and parts.netloc and len(parts.path) >= 8:
                values.add(parts.path)  # a webhook URL's path is the secret part
        self._values = sorted(values, key=len, reverse=True)

    @classmethod
    def from_env(cls, names: Iterable[str], environ: Mapping[str, str] | None = None) -> Redactor:
        env = os.environ if environ is None else environ
        return cls(env.get(name, "") for name in names)

    def __call__(self, text: str | None) -> str:
        if not text:
            return text or ""
        for value in self._values:
            text = text.replace(value, MASK)
        for pattern in _PATTERNS:
            text = pattern.sub(lambda m: (m.group(1) if m.lastindex else "") + MASK + _tail(m), text)
        return text


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
