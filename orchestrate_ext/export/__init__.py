"""Export the pipeline to another orchestrator (``orchestrate export airflow|dagster``).

:mod:`~orchestrate_ext.export.spec` holds the contract with the plugins, :mod:`~orchestrate_ext.export.build`
the pipelines and the list of what cannot be expressed, :mod:`~orchestrate_ext.export.airflow` and
:mod:`~orchestrate_ext.export.dagster` the two file layouts.
"""
