"""Dataset names per adapter (OpenLineage naming spec as the dbt integration applies it), and per node."""

from __future__ import annotations

from pathlib import Path

import pytest

from dbt_adapter.lineage_names import dataset_name, dataset_namespace, snowflake_account
from orchestrate_ext.datasets import Dataset, node_datasets
from orchestrate_ext.graph import build_graph
from orchestrate_ext.model import Node

PROJECT = Path("/srv/analytics/shop/dbt")


@pytest.mark.parametrize(
    ("adapter", "connection", "namespace"),
    [
        ("duckdb", {"path": "../shop.duckdb"}, "duckdb:///srv/analytics/shop/shop.duckdb"),
        ("duckdb", {"path": "/data/wh.duckdb"}, "duckdb:///data/wh.duckdb"),
        ("duckdb", {}, "duckdb://:memory:"),
        ("duckdb", {"path": "md:analytics?motherduck_token=abc123"}, "duckdb://md:analytics"),
        ("postgres", {"host": "db.internal", "port": 5433, "user": "u"}, "postgres://db.internal:5433"),
        ("postgres", {"host": "db.internal"}, "postgres://db.internal:5432"),
        (
            "redshift",
            {"host": "cluster.abc.us-east-1.redshift.amazonaws.com", "port": 5439},
            "redshift://cluster.abc.us-east-1.redshift.amazonaws.com:5439",
        ),
        ("snowflake", {"account": "xy12345"}, "snowflake://xy12345.us-west-1.aws"),
        ("snowflake", {"account": "xy12345.us-east-2"}, "snowflake://xy12345.us-east-2.aws"),
        ("snowflake", {"account": "xy12345.east-us-2.azure"}, "snowflake://xy12345.east-us-2.azure"),
        ("snowflake", {"account": "MyOrg-MyAccount"}, "snowflake://myorg-myaccount"),
        ("bigquery", {"project": "p", "dataset": "d", "keyfile": "/secret.json"}, "bigquery"),
        (
            "databricks",
            {"host": "https://adb-1.azuredatabricks.net/", "http_path": "/sql/1"},
            "databricks://adb-1.azuredatabricks.net",
        ),
        ("spark", {"host": "spark.local", "method": "thrift"}, "spark://spark.local:10001"),
        ("spark", {"host": "spark.local", "method": "http"}, "spark://spark.local:443"),
        ("spark", {"host": "spark.local", "port": 10000, "method": "thrift"}, "spark://spark.local:10000"),
        ("trino", {"host": "trino.local", "port": 8443}, "trino://trino.local:8443"),
        ("sqlserver", {"server": "sql.local", "port": 1433}, "mssql://sql.local:1433"),
        ("athena", {"region_name": "eu-west-1"}, "awsathena://athena.eu-west-1.amazonaws.com"),
        ("clickhouse", {"host": "ch.local", "port": 8123}, "clickhouse://ch.local:8123"),
        ("materialize", {"host": "mz.local", "port": 6875}, "materialize://mz.local:6875"),
        ("sqlite", {"schema_directory": "/x"}, "sqlite"),
    ],
)
def test_namespace_per_adapter(adapter: str, connection: dict[str, object], namespace: str) -> None:
    assert dataset_namespace(adapter, connection, PROJECT) == namespace


def test_no_profile_no_namespace() -> None:
    assert dataset_namespace(None, {"path": "x"}, PROJECT) is None
    assert dataset_namespace("duckdb", None, PROJECT) is None


def test_credentials_in_a_host_never_reach_the_namespace() -> None:
    namespace = dataset_namespace("postgres", {"host": "admin:s3cret@db.internal", "port": 5432}, PROJECT)
    assert namespace == "postgres://db.internal:5432"
    nested = dataset_namespace("duckdb", {"path": "a.duckdb", "settings": {"s3_secret_access_key": "k"}}, PROJECT)
    assert "s3" not in (nested or "")


@pytest.mark.parametrize(
    ("adapter", "relation", "name"),
    [
        ("duckdb", ("shop", "main", "orders"), "shop.main.orders"),
        ("postgres", ("analytics", "public", "orders"), "analytics.public.orders"),
        ("bigquery", ("my-project", "dataset", "orders"), "my-project.dataset.orders"),
        ("spark", ("hive", "default", "orders"), "default.orders"),
        ("trino", ("iceberg", "sales", "orders"), "iceberg.sales.orders"),
        ("databricks", (None, "default", "orders"), "default.orders"),
    ],
)
def test_dataset_names(adapter: str, relation: tuple[str | None, str | None, str], name: str) -> None:
    assert dataset_name(adapter, *relation) == name


def test_snowflake_account_is_lower_case() -> None:
    assert snowflake_account("XY12345.US-EAST-1") == "xy12345.us-east-1.aws"


def _dataset(name: str) -> dict[str, str]:
    return {"dataset": {"namespace": "duckdb:///w.duckdb", "name": name}}


def test_node_datasets_follow_the_graph() -> None:
    """Models read their parents' relations (through ephemeral models); a notebook reads its depends_on and
    writes the sources it produces; a test reads what it tests; a source is no output of what reads it."""
    nodes = [
        Node(
            "source.p.raw.orders", "source", "source", "raw.orders", runnable=False, settings=_dataset("w.raw.orders")
        ),
        Node(
            "notebook.ingest",
            "notebook",
            "notebook",
            "ingest",
            path="notebooks/ingest.ipynb",
            produces=("source.p.raw.orders",),
        ),
        Node("model.p.eph", "dbt", "model", "eph", depends_on=("source.p.raw.orders",), runnable=False),
        Node(
            "model.p.orders", "dbt", "model", "orders", depends_on=("model.p.eph",), settings=_dataset("w.main.orders")
        ),
        Node("test.p.not_null", "dbt", "test", "not_null", depends_on=("model.p.orders",)),
        Node("notebook.report", "notebook", "notebook", "report", depends_on=("model.p.orders", "notebook.ingest")),
    ]
    graph = build_graph(nodes)
    orders = Dataset("duckdb:///w.duckdb", "w.main.orders")
    raw = Dataset("duckdb:///w.duckdb", "w.raw.orders")
    assert node_datasets(graph, "notebook.ingest").outputs == (raw,)
    assert node_datasets(graph, "notebook.ingest").inputs == ()
    assert node_datasets(graph, "model.p.orders").inputs == (raw,)
    assert node_datasets(graph, "model.p.orders").outputs == (orders,)
    assert node_datasets(graph, "test.p.not_null").inputs == (orders,)
    assert node_datasets(graph, "test.p.not_null").outputs == ()
    assert node_datasets(graph, "notebook.report").inputs == (orders,)
    assert node_datasets(graph, "notebook.report").outputs == ()
    as_json = {item["id"]: item["datasets"] for item in graph.to_json()["nodes"]}
    assert as_json["notebook.report"] == {"inputs": [orders.to_json()], "outputs": []}


def test_dbt_nodes_carry_their_relation_as_a_dataset(tmp_path: Path) -> None:
    """Models, seeds, snapshots and sources name their relation (alias, or a source's identifier); an
    ephemeral model and a test have none."""
    from dbt_adapter.nodes import Naming, nodes_from_manifest
    from tests.dbt_adapter.manifests import ManifestDoc

    doc = ManifestDoc()
    raw = doc.add("source", "orders", database="wh", schema="raw", identifier="orders_v2")
    eph = doc.add(
        "model", "eph", [raw], database="wh", schema="main", alias="eph", config={"materialized": "ephemeral"}
    )
    model = doc.add("model", "fct", [eph], database="wh", schema="marts", alias="fct_orders")
    test = doc.test("not_null_fct", model)
    naming = Naming("postgres", "postgres://db:5432")
    nodes = {node.id: node for node in nodes_from_manifest(doc.read(tmp_path), tmp_path, tmp_path, naming=naming)}
    assert nodes[raw].settings["dataset"] == {"namespace": "postgres://db:5432", "name": "wh.raw.orders_v2"}
    assert nodes[model].settings["dataset"] == {"namespace": "postgres://db:5432", "name": "wh.marts.fct_orders"}
    assert "dataset" not in nodes[eph].settings and "dataset" not in nodes[test].settings
    graph = build_graph(nodes.values())
    assert node_datasets(graph, model).inputs == (Dataset("postgres://db:5432", "wh.raw.orders_v2"),)
    unnamed = nodes_from_manifest(doc.read(tmp_path), tmp_path, tmp_path)
    assert not any("dataset" in node.settings for node in unnamed)
