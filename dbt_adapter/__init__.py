"""dbt nodes for orchestrate-ext: read the manifest, run nodes with dbt-core."""
