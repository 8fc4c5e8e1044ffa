"""JupyterLab in a real browser: one ``jupyter lab`` per test module, Debian's Chromium driven by Playwright.

Each module gets its own server on a copy of the shop example; before each
test the project's files are put back as they were (the run history stays),
and the page opens in a workspace of its own, so tests do not see each
other's tabs. Helpers for what many tests do (open the panel, switch the
theme, take the screenshots of the README, run axe-core) are in
:mod:`tests.jupyter_extension.lab_e2e.lab`.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import signal
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import copy_example, copy_parsed
from tests.jupyter_extension.lab_e2e.lab import (
    ARTIFACTS,
    CHROMIUM,
    LAUNCH_ARGS,
    Lab,
    serve_lab,
)

_WORKSPACES = itertools.count(1)


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory, parsed_manifest: Path) -> Iterator[Lab]:
    """``jupyter lab`` on a copy of the example, with its own settings, workspaces and runtime folders."""
    installed = Path(sys.prefix) / "share" / "jupyter" / "labextensions" / "orchestrate-ext" / "package.json"
    assert installed.is_file(), f"the lab extension is not installed ({installed}); run `pip install -e .`"
    home = tmp_path_factory.mktemp("lab")
    pristine = copy_example(home / "pristine")
    shop = copy_example(home / "shop")
    copy_parsed(parsed_manifest, shop / "dbt" / "target")
    try:
        with serve_lab(home, shop, pristine) as lab:
            yield lab
    finally:
        _stop_schedulers(shop)


def _stop_schedulers(root: Path) -> None:
    """A scheduler a test started from the panel keeps running on its own: stop it with the server."""
    from orchestrate_ext import schedule_api as api
    from orchestrate_ext.project import Project

    with contextlib.suppress(Exception):  # the project may be half-edited by a failed test; nothing to stop then
        status = api.scheduler_status(Project.load(root))
        if status.active and status.pid:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(status.pid, signal.SIGTERM)


# Module scope, not session: a started sync Playwright keeps an event loop running in the main thread,
# which breaks every later test that runs its own loop (the Jupyter server tests).
@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (/usr/bin/chromium); `.ci/run` installs it")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"report_{report.when}", report)


def settle_focus(page: Any) -> None:
    """Wait until Lab has restored its layout and focused the main area (the Launcher, or an opened file).

    Lab activates that widget a moment after start-up, which moves the keyboard focus there; a test that
    clicked into the panel before then would lose its focus to it, as a user who clicks too early does.
    """
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    page.evaluate("() => window.jupyterapp.restored.then(() => true)")
    # Nothing in the main area takes the focus when, e.g., only a folder was opened: then go on.
    with contextlib.suppress(PlaywrightTimeout):
        page.wait_for_function(
            "() => document.activeElement && document.activeElement.closest('#jp-main-dock-panel')", timeout=15_000
        )


@pytest.fixture
def new_page(browser: Any, lab: Lab, request: pytest.FixtureRequest) -> Iterator[Callable[..., Any]]:
    """Open Lab in a fresh browser context: ``new_page(path=None, width=1440, height=900, timezone=...)``.

    The project's files are reset first. The browser's time zone defaults to
    America/New_York: neither UTC nor the schedules' Europe/Berlin, so a time shown
    in the wrong zone shows. Errors of the page that mention orchestrate fail the test.
    """
    from playwright.sync_api import expect

    expect.set_options(timeout=30_000)
    lab.reset()
    contexts: list[Any] = []
    errors: list[str] = []
    pages: list[Any] = []

    def open_page(
        path: str | None = None, width: int = 1440, height: int = 900, timezone: str = "America/New_York"
    ) -> Any:
        context = browser.new_context(
            viewport={"width": width, "height": height}, timezone_id=timezone, accept_downloads=True
        )
        contexts.append(context)
        page = context.new_page()
        pages.append(page)
        page.on("pageerror", lambda error: errors.append(str(error)))
        workspace = f"e2e{next(_WORKSPACES)}"
        tree = f"/tree/{path}" if path else ""
        page.goto(f"{lab.url}/lab/workspaces/{workspace}{tree}?token={lab.token}")
        page.wait_for_function("() => window.jupyterapp && window.jupyterapp.shell", timeout=90_000)
        page.locator("#jp-main-dock-panel").wait_for(timeout=90_000)
        settle_focus(page)
        return page

    yield open_page
    failed = getattr(request.node, "report_call", None)
    if failed is not None and failed.failed and pages:
        ARTIFACTS.mkdir(exist_ok=True)
        with contextlib.suppress(Exception):
            pages[-1].screenshot(path=str(ARTIFACTS / f"failure-{request.node.name}.png"))
    for context in contexts:
        context.close()
    assert not [error for error in errors if "orchestrate" in error.lower()], errors
