"""Notebook nodes for orchestrate-ext (and, later, its JupyterLab face)."""
