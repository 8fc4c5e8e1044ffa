"""The canary (issue 10, item 2): a notebook that prints and raises with the alert secrets leaks them nowhere.

Real parts throughout: `orchestrate run` as a process, papermill with a real ipykernel, the alerts plugin
delivering to a loopback server that answers like Slack, and a real Jupyter server for the REST API.
The secrets are canary values in the environment of the test (and so of the server and the CLI).

* ``leaks.ipynb`` prints ``os.environ`` and raises with every secret: it never gets them (node
  environments are built, not inherited).
* ``allowed.ipynb`` lists ``SLACK_BOT_TOKEN`` in ``env_passthrough``: it gets the token, prints it and
  raises with it. Its own log and output notebook then hold the token (the user let it in), but the store,
  the CLI and every REST response show ``[redacted]`` (the redactor).
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest

from tests.alerts.fake_slack import FakeSlack
from tests.conftest import run_cli
from tests.jupyter_extension.server_api.routes import orchestrate_routes

TOKEN = "xoxb-canary-7391-token-value"
PASSWORD = "canary smtp password 4821"
USER = "canary-smtp-login-5502"
SECRETS = {"SLACK_BOT_TOKEN": TOKEN, "SMTP_PASSWORD": PASSWORD, "SMTP_USER": USER}
CANARIES = [TOKEN, PASSWORD, USER, "canary-7391", "4821"]
LEAK = """
import os
names = ["SLACK_BOT_TOKEN", "SMTP_PASSWORD", "SMTP_USER"]
print({name: os.environ.get(name) for name in names})
print(dict(os.environ))
raise ValueError("secrets: " + " ".join(str(os.environ.get(name)) for name in names))
"""


def write_notebook(path: Path, orchestrate: dict[str, Any]) -> None:
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    notebook.metadata["orchestrate"] = orchestrate
    notebook.cells = [nbformat.v4.new_code_cell("x = 1"), nbformat.v4.new_code_cell(LEAK)]
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, path)


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    fake = FakeSlack(token=TOKEN)
    yield fake
    fake.stop()


@pytest.fixture
def jp_root_dir(tmp_path: Path, slack: FakeSlack, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A notebook-only project with alerts; the secrets are in this process's environment (the server's)."""
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    root = tmp_path / "canary"
    root.mkdir()
    (root / "orchestrate.yaml").write_text(
        "notebooks: {include: ['notebooks/*.ipynb']}\n"
        "alerts:\n"
        f"  slack: {{token_env: SLACK_BOT_TOKEN, base_url: '{slack.base_url}'}}\n"
        "  email: {smtp_host: localhost, from: orchestrate@example.com,"
        " username_env: SMTP_USER, password_env: SMTP_PASSWORD}\n"
        "  routes: [{slack: '#data-alerts', on: [failure, run_finished]}]\n"
        "  delivery: {exit_wait: 5s}\n"
    )
    write_notebook(root / "notebooks" / "leaks.ipynb", {"owner": "ana@example.com"})
    write_notebook(root / "notebooks" / "allowed.ipynb", {"env_passthrough": ["SLACK_BOT_TOKEN"]})
    return root


def assert_clean(text: str, where: str) -> None:
    for canary in CANARIES:
        assert canary not in text, f"a secret ({canary[:12]}...) leaked into {where}"


def dump(database: Path) -> str:
    with sqlite3.connect(database) as connection:
        return "\n".join(connection.iterdump())


@pytest.mark.slow
async def test_no_canary_reaches_the_state_folder_the_store_the_cli_or_the_api(
    api: Any, jp_serverapp: Any, jp_root_dir: Path, slack: FakeSlack
) -> None:
    ran = await asyncio.to_thread(run_cli, "run", "--json", cwd=jp_root_dir)
    assert ran.returncode == 1, ran.stderr
    document = json.loads(ran.stdout)
    run_id = document["run_id"]
    errors = {node["id"]: node["error"] for node in document["nodes"]}
    assert errors["notebook.notebooks/leaks"].endswith("cell 2 (execution 3): ValueError: secrets: None None None")
    assert errors["notebook.notebooks/allowed"].endswith("ValueError: secrets: [redacted] None None")

    # the CLI, as a user would call it (the secrets are in its environment)
    outputs = [ran.stdout + ran.stderr]
    for args in (
        ("show", run_id),
        ("show", run_id, "--json"),
        ("logs", run_id, "notebook.notebooks/leaks"),
        ("logs", run_id, "notebook.notebooks/allowed"),
        ("runs", "--json"),
        ("validate",),
        ("alerts", "outbox", "--all"),
        ("graph", "--format", "json"),
    ):
        result = await asyncio.to_thread(run_cli, *args, cwd=jp_root_dir)
        outputs.append(result.stdout + result.stderr)
    for output in outputs:
        assert_clean(output, "the CLI output")
    assert "[redacted]" in outputs[4] and "'SLACK_BOT_TOKEN': None" in outputs[3]

    # every route of the REST API, and an error that echoes the input
    bodies = []
    for route in orchestrate_routes(jp_serverapp.web_app):
        if "GET" in route.methods:
            status, body = await api.get(route.sample_path({"run_id": run_id}).split("orchestrate/api/", 1)[-1])
            bodies.append((route.pattern, status, body))
    for node in ("notebook.notebooks/leaks", "notebook.notebooks/allowed"):
        for what in ("logs", "output"):
            status, body = await api.get(f"runs/{run_id}/{what}", node=node)
            assert status == 200, body
            bodies.append((what, status, body))
    for path in ("notebooks/leaks.ipynb", "notebooks/allowed.ipynb"):
        bodies.append(("notebook", *await api.get("notebook", path=path)))
    status, body = await api.post("runs", {"select": TOKEN})
    assert status == 400
    bodies.append(("POST runs", status, body))
    for where, status, body in bodies:
        assert status < 500, (where, body)
        assert_clean(json.dumps(body, ensure_ascii=False), f"the REST response of {where}")
    shown = json.dumps([body for _, _, body in bodies])
    assert "[redacted]" in shown and "secrets: None None None" in shown

    # the store, and every file of the state folder but the passthrough node's own log and output
    state = jp_root_dir / ".orchestrate"
    assert_clean(dump(state / "state.db"), "the store")
    checked = 0
    for path in state.rglob("*"):
        if not path.is_file():
            continue
        text = path.read_bytes().decode("utf-8", errors="replace")
        if "allowed" in path.name:
            continue  # the node was given the token: its own log, result and output notebook hold it
        assert_clean(text, f"the state folder ({path.relative_to(state)})")
        checked += 1
    assert checked >= 5
    allowed_output = next(state.rglob("allowed.try1.ipynb")).read_text()
    assert TOKEN in allowed_output, "the passthrough node did get the token"

    # the alerts went out, redacted
    assert slack.messages, "the failure alert was delivered"
    assert_clean("\n".join(body.decode() for _, _, body in slack.requests), "the Slack messages")
