"""orchestrate-ext: one pipeline of dbt nodes and notebooks, run, scheduled and watched."""

__version__ = "0.1.0"
