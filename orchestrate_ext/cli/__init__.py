"""The ``orchestrate`` command line (its commands load on demand: see :mod:`orchestrate_ext.cli.app`)."""

from orchestrate_ext.cli.app import main

__all__ = ["main"]
