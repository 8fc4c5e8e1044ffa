"""`orchestrate export airflow|dagster` on the example project: the generated text, without the tools.

The files are checked by the real Airflow and Dagster in tests/orchestrate_ext/test_export_tools.py (slow).
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

from orchestrate_ext.export.build import describe, export_project, render_project
from orchestrate_ext.project import Project
from tests.conftest import run_cli

SCHEDULES = """
schedules:
  - name: nightly
    cron: "0 6 * * *"
    timezone: Europe/Berlin
    select: "+daily_revenue"
    parameters: {region: eu}
    only_changed: true
    sla: {finish_by: "07:30"}
  - name: on_upload
    on_file: ["landing/*.csv"]
    select: notebooks/ingest_orders
alerts:
  routes: []
"""


@pytest.fixture
def scheduled(shop: Path) -> Path:
    config = shop / "orchestrate.yaml"
    config.write_text(config.read_text(encoding="utf-8") + SCHEDULES, encoding="utf-8")
    return shop


def _render(project: Path, tool: str, out: Path) -> str:
    text, _ = render_project(Project.load(project), tool, out)  # type: ignore[arg-type]
    return text


def test_airflow_dag_runs_dbt_through_cosmos_and_notebooks_through_papermill(shop: Path, tmp_path: Path) -> None:
    text = _render(shop, "airflow", tmp_path / "dags")
    ast.parse(text)
    assert 'PROJECT_DIR = (Path(__file__).resolve().parent / "../shop").resolve()' in text
    assert 'dbt_project_path=PROJECT_DIR / "dbt",' in text
    assert 'manifest_path=PROJECT_DIR / "dbt/target/manifest.json",' in text
    assert 'profile_name="shop",' in text and 'target_name="dev",' in text
    assert 'profiles_yml_filepath=PROJECT_DIR / "dbt/profiles.yml",' in text
    assert "render_config=RenderConfig(load_method=LoadMode.DBT_MANIFEST)," in text
    # the notebook's own parameters, then what orchestrate-ext passes every notebook, as Airflow templates
    assert 'parameters={"days": 30, "logical_date": "{{ ts }}", "run_id": "{{ run_id }}"},' in text
    assert 'kernel_name="python3",' in text
    # ingest_orders.ipynb: retries 1 and timeout 5m of its own; the defaults are the DAG's default_args
    assert "        retries=1,\n        execution_timeout=timedelta(minutes=5),\n" in text
    assert '"retry_delay": timedelta(seconds=5),' in text and '"retry_exponential_backoff": True,' in text
    assert '"execution_timeout": timedelta(minutes=10),' in text
    assert "schedule=None," in text and "max_active_tasks=4," in text
    # a notebook after a dbt model, and a dbt model after the notebook filling its source
    assert 'dbt.tasks_map["model.shop.daily_revenue"] >> daily_report' in text
    assert 'ingest_orders >> dbt.tasks_map["model.shop.stg_orders"]' in text
    assert text.count(" >> ") == 2  # dbt's own order is cosmos's


def test_a_schedule_is_a_dag_with_its_time_zone_selection_and_parameters(scheduled: Path, tmp_path: Path) -> None:
    text = _render(scheduled, "airflow", tmp_path / "dags")
    ast.parse(text)
    assert 'dag_id="shop__nightly",' in text
    assert 'schedule=CronTriggerTimetable("0 6 * * *", timezone="Europe/Berlin"),' in text
    assert 'start_date=datetime(2024, 1, 1, tzinfo=ZoneInfo("Europe/Berlin")),' in text
    nightly = text[text.index('dag_id="shop__nightly"') : text.index('dag_id="shop__on_upload"')]
    assert '"path:models/marts/daily_revenue.sql"' in nightly and '"path:seeds/products.csv"' in nightly
    assert "customers_snapshot" not in nightly and "daily_report" not in nightly
    assert '"region": "eu"' in nightly
    # a schedule without cron (on_file only) is a DAG started by hand; its notebook alone, no dbt
    upload = text[text.index('dag_id="shop__on_upload"') :]
    assert "schedule=None," in upload and "DbtTaskGroup" not in upload and "ingest_orders = " in upload


def test_what_cannot_be_expressed_is_listed_in_the_file_and_the_output(scheduled: Path, tmp_path: Path) -> None:
    result = export_project(Project.load(scheduled), "airflow", tmp_path / "dags")
    text = result.path.read_text(encoding="utf-8")
    head = text[: text.index("from __future__")]
    expected = [
        "schedule 'nightly' has only_changed",
        "schedule 'nightly' has an SLA",
        "schedule 'on_upload' runs when files change (landing/*.csv)",
        "resource 'warehouse'",
        "dbt model 'fct_orders' has retries: 1",
        "the `alerts:` section of orchestrate.yaml",
        "a notebook's working folder",
    ]
    output = "\n".join(describe(result))
    for words in expected:
        assert words in head
        assert words in output
    assert len(result.unexpressed) == head.count("\n#   - ")


def test_same_project_same_bytes(scheduled: Path, tmp_path: Path) -> None:
    for tool in ("airflow", "dagster"):
        first = export_project(Project.load(scheduled), tool, tmp_path / tool).path.read_bytes()
        again = export_project(Project.load(scheduled), tool, tmp_path / tool).path.read_bytes()
        assert first == again


def test_dagster_definitions_hold_dbt_assets_notebook_assets_and_schedules(scheduled: Path, tmp_path: Path) -> None:
    text = _render(scheduled, "dagster", tmp_path / "defs")
    ast.parse(text)
    assert "from __future__" not in text  # Dagster reads the context annotation at definition time
    assert (
        "@dbt_assets(" in text and "def shop_dbt_assets(context: AssetExecutionContext, dbt: DbtCliResource):" in text
    )
    assert '"source.shop.raw.orders": AssetKey(["ingest_orders"])' in text
    assert 'deps=[AssetKey(["daily_revenue"])],' in text
    assert "retry_policy=RetryPolicy(max_retries=1, delay=5, backoff=Backoff.EXPONENTIAL)," in text
    assert 'cron_schedule="0 6 * * *",' in text and 'execution_timezone="Europe/Berlin",' in text
    nightly = text[text.index("shop__nightly_job = ") : text.index("shop__nightly_schedule = ")]
    assert '        AssetKey(["daily_revenue"]),\n' in nightly and '        AssetKey(["products"]),\n' in nightly
    assert "customers_snapshot" not in nightly and "daily_report" not in nightly
    assert "defs = Definitions(" in text
    _, result = render_project(Project.load(scheduled), "dagster", tmp_path / "defs")
    assert "schedule 'nightly' has max_active_runs: 1: not exported (use a run queue limit on a tag of the job)" in (
        result.unexpressed
    )


def test_bad_input_exits_2_with_a_clear_message(shop: Path, tmp_path: Path) -> None:
    unknown = run_cli("export", "prefect", "--out", str(tmp_path / "out"), cwd=shop)
    assert unknown.returncode == 2
    assert "cannot export to 'prefect'; choose one of: airflow, dagster" in unknown.stderr
    a_file = tmp_path / "a_file"
    a_file.write_text("", encoding="utf-8")
    into_file = run_cli("export", "airflow", "--out", str(a_file), cwd=shop)
    assert into_file.returncode == 2
    assert f"--out {a_file}: {a_file} is a file, not a folder" in into_file.stderr
    assert not (tmp_path / "out").exists()


def test_the_command_writes_the_file_and_says_what_it_left_out(shop: Path, tmp_path: Path) -> None:
    done = run_cli("export", "dagster", "--out", str(tmp_path / "out"), cwd=shop)
    assert done.returncode == 0, done.stderr
    assert f"wrote {tmp_path / 'out' / 'orchestrate_definitions.py'}" in done.stdout
    assert "not expressible there" in done.stdout and "resource 'warehouse'" in done.stdout


def test_per_run_dbt_values_and_microbatch_windows_are_listed_as_not_exported(shop: Path, tmp_path: Path) -> None:
    """A project reading var('logical_date') or holding a microbatch model gets per-run values from us."""
    before = export_project(Project.load(shop), "airflow", tmp_path / "before")
    assert not [note for note in before.unexpressed if "logical_date" in note or "microbatch" in note]
    model = shop / "dbt" / "models" / "marts" / "daily_revenue.sql"
    model.write_text(model.read_text(encoding="utf-8") + "\n-- as of {{ var('logical_date') }}\n", encoding="utf-8")
    manifest_path = shop / "dbt" / "target" / "manifest.json"
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    config = manifest["nodes"]["model.shop.fct_orders"]["config"]
    config.update(materialized="incremental", incremental_strategy="microbatch", batch_size="day")
    manifest_path.write_text(json.dumps(manifest), encoding="utf-8")
    for tool, words in (("airflow", "tasks"), ("dagster", "assets")):
        notes = "\n".join(export_project(Project.load(shop), tool, tmp_path / tool).unexpressed)
        assert "reads var('logical_date'), which orchestrate-ext sets for each run" in notes
        assert f"the dbt {words} are not given them" in notes
        assert "dbt microbatch models (fct_orders)" in notes
