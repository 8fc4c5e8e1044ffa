"""A store URL (``state.url_env``) whose password does not parse never shows it in a REST body or the server's log.

Issue 18: with an unencoded space, ``%`` or ``@`` in the password, psycopg's error echoed it and the
URL-shaped redaction missed it, so the 500 bodies and the Jupyter log showed the password.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from orchestrate_ext.secrets import process_sealed

URLS = {
    "space": "postgresql://bob:pa ss-canary-7731@127.0.0.1:1/db",
    "percent": "postgresql://bob:pa%zz-canary-7731@127.0.0.1:1/db",
    "at": "postgresql://bob:p@ss-canary-7731@127.0.0.1:1/db",
}


@pytest.fixture(params=sorted(URLS))
def jp_root_dir(shop: Path, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CANARY_STATE_URL", URLS[request.param])
    config = shop / "orchestrate.yaml"
    config.write_text(config.read_text() + "state: {url_env: CANARY_STATE_URL}\n")
    return shop


@pytest.mark.slow
async def test_the_rest_api_and_its_log_never_show_the_password(
    api: Any, jp_root_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    bodies = [await api.get(route) for route in ("runs", "info", "schedules", "nodes")]
    assert any(status >= 400 for status, _ in bodies), bodies
    for status, body in bodies:
        assert "canary" not in str(body), (status, body)
    assert "state store" in str(bodies)
    assert "canary" not in caplog.text
    assert process_sealed(), "the server extension seals the server's process: no run it starts can read it"
