"""Redaction for the alerts plugin: the engine's one redactor (:mod:`orchestrate_ext.redact`).

Kept as a module so that the plugin's imports read as before; there is no second implementation.
"""

from __future__ import annotations

from orchestrate_ext.redact import MASK, RedactingFilter, Redactor, redacting_logger

__all__ = ["MASK", "RedactingFilter", "Redactor", "redacting_logger"]
