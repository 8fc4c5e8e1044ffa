"""``POST /orchestrate/api/runs`` refuses a parameter no notebook of the run takes: 400, and no run starts."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.slow  # a real Jupyter server (and a dbt-parsed project)


async def test_an_unknown_parameter_is_400_naming_the_notebook_and_starts_no_run(api: Any) -> None:
    status, body = await api.post("runs", {"select": "daily_report", "parameters": {"top_m": 5}})
    assert status == 400, body
    assert "notebook 'notebooks/daily_report.ipynb' has no parameter 'top_m' in its parameters cell" in body["message"]
    assert "top_n" in body["message"]
    status, page = await api.get("runs")
    assert status == 200 and page["total"] == 0
