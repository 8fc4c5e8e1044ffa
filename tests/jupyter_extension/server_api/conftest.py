"""A real Jupyter server (pytest-jupyter) with the orchestrate-ext extension, rooted at a copy of the shop example.

pytest-jupyter's fixtures are imported here rather than enabled as a plugin,
so its autouse fixtures (event loop, server clean-up) apply to these tests only.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from pytest_jupyter.jupyter_server import *  # noqa: F403  (fixtures: jp_fetch, jp_serverapp, ...)
from tornado.httpclient import HTTPClientError, HTTPResponse

API = "orchestrate/api"


@pytest.fixture
def jp_root_dir(shop: Path) -> Path:
    """The server's root directory: a fresh copy of examples/shop with a parsed manifest."""
    return shop


@pytest.fixture
def jp_server_config() -> dict[str, Any]:
    return {"ServerApp": {"jpserver_extensions": {"jupyter_extension": True}}}


Fetch = Callable[..., Awaitable[HTTPResponse]]


class Api:
    """Calls the REST API with the server's token and returns (status, decoded JSON)."""

    def __init__(self, fetch: Fetch) -> None:
        self.fetch = fetch

    async def call(
        self, method: str, path: str, *, params: dict[str, Any] | None = None, body: Any = None
    ) -> tuple[int, Any]:
        kwargs: dict[str, Any] = {"method": method, "params": params or {}}
        if method in ("POST", "PUT", "PATCH"):
            kwargs["body"] = body if isinstance(body, str | bytes) else json.dumps(body if body is not None else {})
        elif method == "DELETE":
            kwargs["allow_nonstandard_methods"] = True
        try:
            response = await self.fetch(API, *[part for part in path.split("/") if part], **kwargs)
        except HTTPClientError as error:
            assert error.response is not None, error
            response = error.response
        text = response.body.decode() if response.body else ""
        return response.code, json.loads(text) if text else None

    async def get(self, route: str, **params: Any) -> tuple[int, Any]:
        return await self.call("GET", route, params={k: v for k, v in params.items() if v is not None})

    async def post(self, route: str, body: Any = None) -> tuple[int, Any]:
        return await self.call("POST", route, body=body)

    async def delete(self, route: str, **params: Any) -> tuple[int, Any]:
        return await self.call("DELETE", route, params=params)

    async def wait_for_run(self, run_id: str, timeout: float = 180.0) -> dict[str, Any]:
        """Poll ``GET /runs/{id}`` until the run is no longer running."""
        deadline = time.monotonic() + timeout
        while True:
            status, run = await self.get(f"runs/{run_id}")
            assert status == 200, run
            if run["status"] != "running":
                return run
            assert time.monotonic() < deadline, f"run {run_id} still running after {timeout} s: {run}"
            await asyncio.sleep(0.5)


@pytest.fixture
def api(jp_fetch: Fetch) -> Api:
    return Api(jp_fetch)


@pytest.fixture
def started_pids() -> Iterator[list[int]]:
    """Process groups a test started through the API (a scheduler); stopped at the end of the test."""
    pids: list[int] = []
    yield pids
    for pid in pids:
        try:
            os.killpg(pid, signal.SIGTERM)
        except ProcessLookupError:
            continue
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                os.killpg(pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.2)
        else:
            os.killpg(pid, signal.SIGKILL)
