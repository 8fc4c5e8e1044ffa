"""Every route needs Jupyter's credentials; a read-only user can read but change nothing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from jupyter_server.auth import Authorizer

from jupyter_extension.server.app import API_ROUTES
from tests.jupyter_extension.server_api.routes import orchestrate_routes

pytestmark = pytest.mark.slow  # a real Jupyter server (and a dbt-parsed project)

NOTEBOOK = "notebooks/daily_report.ipynb"


async def _raw(client: Any, method: str, path: str, headers: dict[str, str]) -> int:
    body = b"{}" if method in ("POST", "PUT", "PATCH") else None
    response = await client.fetch(
        path, method=method, headers=headers, body=body, raise_error=False, allow_nonstandard_methods=True
    )
    return int(response.code)


def test_every_registered_route_is_found(jp_serverapp: Any) -> None:
    routes = orchestrate_routes(jp_serverapp.web_app)
    assert len(routes) == len(API_ROUTES)
    assert all(route.methods for route in routes)


@pytest.mark.parametrize("headers", [{}, {"Authorization": "token not-the-token"}], ids=["no-token", "wrong-token"])
async def test_every_route_and_method_answers_403_without_credentials(
    jp_serverapp: Any, http_server_client: Any, headers: dict[str, str]
) -> None:
    routes = orchestrate_routes(jp_serverapp.web_app)
    answers = {
        (route.pattern, method): await _raw(http_server_client, method, route.sample_path(), headers)
        for route in routes
        for method in route.methods
    }
    assert len(answers) >= len(API_ROUTES)
    assert {key: code for key, code in answers.items() if code != 403} == {}


class ReadOnlyAuthorizer(Authorizer):
    """Lets an authenticated user read the orchestrate resource and nothing else."""

    def is_authorized(self, handler: Any, user: Any, action: str, resource: str) -> bool:
        return action == "read"


class TestReadOnlyUser:
    @pytest.fixture
    def jp_server_config(self) -> dict[str, Any]:
        return {
            "ServerApp": {
                "jpserver_extensions": {"jupyter_extension": True},
                "authorizer_class": ReadOnlyAuthorizer,
            }
        }

    async def test_reads_work(self, api: Any) -> None:
        for path in ("info", "graph", "nodes", "runs", "schedules", "scheduler"):
            status, body = await api.get(path)
            assert status == 200, (path, body)
        status, body = await api.get("notebook", path=NOTEBOOK)
        assert status == 200, body

    async def test_every_mutation_is_refused_and_changes_nothing(
        self, jp_serverapp: Any, http_server_client: Any, jp_auth_header: dict[str, str], jp_root_dir: Path
    ) -> None:
        notebook = jp_root_dir / NOTEBOOK
        before = notebook.read_bytes()
        routes = orchestrate_routes(jp_serverapp.web_app)
        refused = {}
        for route in routes:
            for method in route.methods:
                if method == "GET":
                    continue
                refused[(route.pattern, method)] = await _raw(
                    http_server_client, method, route.sample_path(), jp_auth_header
                )
        assert refused, "no mutating route was found"
        assert {key: code for key, code in refused.items() if code != 403} == {}
        assert notebook.read_bytes() == before
        assert not (jp_root_dir / ".orchestrate" / "runs").exists()

    async def test_the_message_names_the_action(self, api: Any, jp_root_dir: Path) -> None:
        status, body = await api.post("schedules", {"notebook": NOTEBOOK, "cron": "0 7 * * *"})
        assert status == 403
        assert "not authorized to write on resource: orchestrate" in body["message"]
        status, body = await api.post("runs", {"select": "customers"})
        assert status == 403
        assert "execute" in body["message"]
        metadata = json.loads((jp_root_dir / NOTEBOOK).read_text())["metadata"]["orchestrate"]
        assert "schedule" not in metadata
