"""OpenLineage dataset names of dbt relations, from the adapter and the profile's target.

The naming follows the OpenLineage naming spec as the OpenLineage dbt
integration applies it: the *namespace* names the warehouse (from the
target's connection values), the *name* is the relation,
``database.schema.identifier`` with the parts dbt leaves empty dropped.

============  =========================================  ================================
adapter       namespace                                  name
============  =========================================  ================================
duckdb        ``duckdb://<absolute path of the file>``   ``database.schema.table``
postgres      ``postgres://<host>:<port>``               ``database.schema.table``
redshift      ``redshift://<host>:<port>``               ``database.schema.table``
snowflake     ``snowflake://<account>`` (normalized)     ``database.schema.table``
bigquery      ``bigquery``                               ``project.dataset.table``
databricks    ``databricks://<host>``                    ``catalog.schema.table``
spark         ``spark://<host>[:<port>]``                ``schema.table``
trino         ``trino://<host>:<port>``                  ``catalog.schema.table``
sqlserver     ``mssql://<server>:<port>``                ``database.schema.table``
clickhouse    ``clickhouse://<host>:<port>``             ``schema.table``
athena        ``awsathena://athena.<region>.amazonaws.com``  ``catalog.schema.table``
============  =========================================  ================================

A DuckDB path is made absolute against the dbt project folder (dbt runs
there), so that two projects' ``dev.duckdb`` are two namespaces; an in-memory
database is ``duckdb://:memory:``. A snowflake account locator without a
region gets ``us-west-1.aws`` (Snowflake's default), one with a region but no
cloud gets ``aws``; ``org-account`` identifiers stay as they are. An adapter
not listed gets ``<type>://<host>[:<port>]`` when the target has a host, else
``<type>``. Only the keys named here are read from the target: never a
password, token or key, and a query string or user part of a value is dropped.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

DEFAULT_PORTS = {
    "postgres": 5432,
    "redshift": 5439,
    "trino": 8080,
    "sqlserver": 1433,
    "clickhouse": 8123,
}
"""The port dbt's adapter connects to when the target names none."""


def dataset_namespace(adapter: str | None, connection: Mapping[str, Any] | None, project_dir: Path) -> str | None:
    """The OpenLineage namespace of the warehouse the target connects to; None without a profile."""
    if not adapter or connection is None:
        return None
    get = _Values(connection)
    if adapter == "duckdb":
        return "duckdb://" + _duckdb_path(get.text("path") or ":memory:", project_dir)
    if adapter == "bigquery":
        return "bigquery"
    if adapter == "snowflake":
        return "snowflake://" + snowflake_account(get.text("account"))
    if adapter == "databricks":
        return f"databricks://{get.host('host')}"
    if adapter == "spark":
        return f"spark://{get.host('host')}{_spark_port(get)}"
    if adapter == "sqlserver":
        return f"mssql://{get.host('server') or get.host('host')}:{get.port(adapter)}"
    if adapter == "athena":
        return f"awsathena://athena.{get.text('region_name')}.amazonaws.com"
    if adapter in ("postgres", "redshift", "trino", "clickhouse"):
        return f"{adapter}://{get.host('host')}:{get.port(adapter)}"
    host = get.host("host")
    if not host:
        return adapter
    port = get.port(adapter)
    return f"{adapter}://{host}:{port}" if port else f"{adapter}://{host}"


def dataset_name(adapter: str | None, database: str | None, schema: str | None, identifier: str) -> str:
    """The dataset name of one relation: its parts joined with dots (Spark and ClickHouse have no database)."""
    if adapter in ("spark", "clickhouse"):
        database = None
    return ".".join(part for part in (database, schema, identifier) if part)


def snowflake_account(account: str) -> str:
    """A snowflake account as the naming spec writes it: ``org-account``, or ``locator.region.cloud``."""
    parts = account.lower().split(".")
    if "-" in parts[0] or len(parts) >= 3:
        return ".".join(parts) if len(parts) >= 3 else parts[0]
    if len(parts) == 1:
        return f"{parts[0]}.us-west-1.aws"
    return f"{parts[0]}.{parts[1]}.aws"


class _Values:
    """Reads one scalar key of the target at a time (nested mappings, which may hold secrets, never)."""

    def __init__(self, connection: Mapping[str, Any]) -> None:
        self.connection = connection

    def text(self, key: str) -> str:
        value = self.connection.get(key)
        return "" if value is None or isinstance(value, Mapping | list) else str(value).strip()

    def host(self, key: str) -> str:
        host = self.text(key)
        for prefix in ("https://", "http://"):
            host = host.removeprefix(prefix)
        host = host.split("/", 1)[0].split("?", 1)[0]
        return host.rsplit("@", 1)[-1]  # never a user (or password) written into the host

    def port(self, adapter: str) -> int | str:
        value = self.text("port")
        return value if value else DEFAULT_PORTS.get(adapter, "")


def _spark_port(get: _Values) -> str:
    if get.text("port"):
        return f":{get.text('port')}"
    method = get.text("method")
    if method in ("http", "odbc"):
        return ":443"
    if method == "thrift":
        return ":10001"
    return ""


def _duckdb_path(path: str, project_dir: Path) -> str:
    path = path.split("?", 1)[0]  # a MotherDuck path may carry its token as a query parameter
    if path == ":memory:" or "://" in path or path.startswith("md:"):
        return path
    return str((project_dir / path).resolve())
