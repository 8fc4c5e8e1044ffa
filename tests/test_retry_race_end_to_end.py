"""Two real `orchestrate retry` processes of one failed run of the example, after a fix (stale manifest).

Exactly one executes the run; the other exits 2 naming the process that holds it. A dbt post-hook on the
fixed model counts its real builds in the warehouse: one.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from tests.conftest import run_cli

pytestmark = pytest.mark.slow

FIXED = "model.shop.fct_orders"
COUNTER = (
    "{{ config(post_hook=["
    '"create table if not exists main.fct_orders_builds (n integer)", '
    '"insert into main.fct_orders_builds values (1)"]) }}\n'
)


def test_of_two_retries_after_a_fix_one_builds_the_fixed_model_once(shop: Path) -> None:
    model = shop / "dbt" / "models" / "marts" / "fct_orders.sql"
    good_sql = model.read_text()
    model.write_text(good_sql.replace("from", "from no_such_table_here,", 1))
    failed = run_cli("run", "--json", "--logical-date", "2024-01-31", cwd=shop)
    assert failed.returncode == 1, failed.stderr
    run_id = json.loads(failed.stdout)["run_id"]

    model.write_text(COUNTER + good_sql)  # the fix makes the manifest stale: each retry runs dbt parse
    orchestrate = Path(sys.executable).with_name("orchestrate")
    retries = [
        subprocess.Popen(
            [str(orchestrate), "retry", run_id, "--json"],
            cwd=shop,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    ended = [(retry, *retry.communicate(timeout=600)) for retry in retries]
    codes = sorted(retry.returncode for retry, _, _ in ended)
    assert codes == [0, 2], [(retry.returncode, err[-2000:]) for retry, _, err in ended]
    (winner, out, _), (_, _, loser_err) = sorted(ended, key=lambda item: item[0].returncode)
    assert f"run {run_id}" in loser_err and f"pid {winner.pid} " in loser_err, loser_err
    assert "Traceback" not in loser_err

    nodes = {node["id"]: node for node in json.loads(out)["nodes"]}
    assert {node["status"] for node in nodes.values()} == {"success"}
    assert nodes[FIXED]["attempts"] == 3, "tries 1 and 2 failed; the winner's retry is try 3, and the only one"
    with duckdb.connect(str(shop / "shop.duckdb"), read_only=True) as warehouse:
        builds = warehouse.execute("select count(*) from main.fct_orders_builds").fetchone()
    assert builds == (1,), "the fixed model was built more than once"
    log = run_cli("logs", run_id, FIXED, "--try", "3", cwd=shop)
    assert log.returncode == 0 and "fct_orders" in log.stdout, log.stderr
