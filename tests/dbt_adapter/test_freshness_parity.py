"""A source freshness check dbt cannot compute warns and blocks nothing; what `dbt build` runs still runs.

Real dbt-core with dbt-duckdb (no metadata freshness): a source with a rule but no ``loaded_at_field``,
a source whose table is missing (a runtime error in the check) and a source past ``warn_after``. The
computed ``error_after`` breach that still blocks is tested in test_build_parity.py
(``test_source_freshness_gates_what_reads_the_source``).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.dbt_adapter.test_build_parity import dbt, dbt_outcomes, outcomes, run_json, small_project, working_profile

pytestmark = pytest.mark.slow

SOURCES = """version: 2
sources:
  - name: raw
    schema: main
    tables:
      - name: nofield
        identifier: raw_events
        freshness: {error_after: {count: 1, period: day}}
      - name: missing
        identifier: no_such_table
        loaded_at_field: loaded_at
        freshness: {error_after: {count: 1, period: day}}
      - name: late
        identifier: raw_events
        loaded_at_field: loaded_at
        freshness: {warn_after: {count: 1, period: day}}
"""
CHECKS = {
    "freshness.source.small.raw.nofield": "warned",
    "freshness.source.small.raw.missing": "warned",
    "freshness.source.small.raw.late": "warned",
}


def test_freshness_dbt_cannot_compute_warns_and_the_rest_is_dbt_builds(tmp_path: Path) -> None:
    outcomes_by_project = []
    documents = []
    for name in ("plain", "ours"):
        project = small_project(tmp_path / name, profile=working_profile(tmp_path / f"{name}.duckdb"))
        (project / "models" / "sources.yml").write_text(SOURCES)
        (project / "models" / "from_nofield.sql").write_text("select * from {{ source('raw', 'nofield') }}")
        (project / "models" / "from_missing.sql").write_text("select * from {{ source('raw', 'missing') }}")
        (project / "models" / "from_late.sql").write_text("select * from {{ source('raw', 'late') }}")
        (project / "orchestrate.yaml").write_text("dbt:\n  project_dir: .\n")
        assert dbt("seed", cwd=project).returncode == 0  # the table the sources point at
        if name == "plain":
            assert dbt("build", cwd=project).returncode == 1  # from_missing reads no table
            outcomes_by_project.append(dbt_outcomes(project / "target" / "run_results.json"))
        else:
            documents.append(run_json(cwd=project))
    [expected], [document] = outcomes_by_project, documents
    found = outcomes(document)
    assert {node_id: status for node_id, status in found.items() if node_id not in CHECKS} == expected
    assert expected["model.small.from_nofield"] == "success" and expected["model.small.from_missing"] == "failed"
    assert {node_id: found[node_id] for node_id in CHECKS} == CHECKS
    messages = {node["id"]: node["error"] for node in document["nodes"]}
    assert messages["freshness.source.small.raw.nofield"].startswith("dbt could not compute this source's freshness")
    assert (
        "Could not compute freshness for source nofield: no 'loaded_at_field' provided and duckdb adapter "
        "does not support metadata-based freshness checks" in messages["freshness.source.small.raw.nofield"]
    )
    assert "no_such_table does not exist" in messages["freshness.source.small.raw.missing"]
    assert "warn after 1 day" in messages["freshness.source.small.raw.late"]
