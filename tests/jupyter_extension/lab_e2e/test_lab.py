"""End to end in a real browser: JupyterLab on the shop example, driven by Playwright in Debian's Chromium.

Opens the report notebook, schedules it through the dialog, checks the
notebook's metadata on disk, starts "Run now" from the Orchestrate panel,
watches the run reach success and opens its output notebook. Screenshots of
the dialog and the panel go to ``test-artifacts/`` (and to ``docs/img/`` when
``ORCHESTRATE_DOC_SCREENSHOTS=1``, to refresh the README's pictures).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
REPO = Path(__file__).resolve().parents[3]
ARTIFACTS = REPO / "test-artifacts"
DOC_IMAGES = REPO / "docs" / "img"
LAUNCH_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
REPORT = "notebooks/daily_report.ipynb"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="Debian's chromium is not installed (/usr/bin/chromium); `.ci/run` installs it",
    ),
]


@dataclass(frozen=True)
class Lab:
    url: str
    token: str
    root: Path


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _lab_settings(folder: Path) -> None:
    """No news or update prompts: the browser must not wait on them, nor reach the network."""
    notification = folder / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
    notification.parent.mkdir(parents=True)
    notification.write_text(json.dumps({"fetchNews": "false", "checkForUpdates": False}), encoding="utf-8")


def _wait_until_up(url: str, process: subprocess.Popen[bytes], log: Path, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"jupyter lab exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise AssertionError(f"jupyter lab did not answer within {timeout} s:\n{log.read_text()[-3000:]}")


@pytest.fixture
def lab(shop: Path, tmp_path: Path) -> Iterator[Lab]:
    """``jupyter lab`` on a clean copy of the example, with its own settings, workspaces and runtime folders."""
    installed = Path(sys.prefix) / "share" / "jupyter" / "labextensions" / "orchestrate-ext" / "package.json"
    assert installed.is_file(), f"the lab extension is not installed ({installed}); run `pip install -e .`"
    settings = tmp_path / "lab-settings"
    _lab_settings(settings)
    port, token = _free_port(), secrets.token_hex(16)
    env = {
        **os.environ,
        "JUPYTERLAB_SETTINGS_DIR": str(settings),
        "JUPYTERLAB_WORKSPACES_DIR": str(tmp_path / "lab-workspaces"),
        "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"),
        "JUPYTER_CONFIG_DIR": str(tmp_path / "jupyter-config"),
    }
    log = tmp_path / "jupyter-lab.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                str(Path(sys.executable).with_name("jupyter")),
                "lab",
                "--no-browser",
                "--allow-root",
                f"--port={port}",
                "--ip=127.0.0.1",
                f"--IdentityProvider.token={token}",
                f"--ServerApp.root_dir={shop}",
            ],
            cwd=shop,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(f"{url}/api/status?token={token}", process, log)
        yield Lab(url, token, shop)
    finally:
        _stop(process, url, token)
        ARTIFACTS.mkdir(exist_ok=True)
        shutil.copy(log, ARTIFACTS / "jupyter-lab.log")


def _stop(process: subprocess.Popen[bytes], url: str, token: str) -> None:
    """Ask the server to shut down (it stops its kernels), then make sure its process group is gone."""
    try:
        request = urllib.request.Request(f"{url}/api/shutdown?token={token}", method="POST", data=b"")
        urllib.request.urlopen(request, timeout=5).close()
        process.wait(timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        pass
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=10)


def _save(image: bytes, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / name).write_bytes(image)
    if os.environ.get("ORCHESTRATE_DOC_SCREENSHOTS") == "1":
        DOC_IMAGES.mkdir(parents=True, exist_ok=True)
        (DOC_IMAGES / name).write_bytes(image)


def test_schedule_run_and_open_output_in_jupyterlab(lab: Lab) -> None:
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 860})
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        try:
            _scenario(page, lab, expect)
        except Exception:
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "failure.png"))
            raise
        finally:
            browser.close()
        assert not [error for error in errors if "orchestrate" in error.lower()], errors


def _widen_left_sidebar(page, panel, to: int) -> None:  # type: ignore[no-untyped-def]
    """Drag the splitter next to the left sidebar, as a user gives the panel room."""
    box = panel.bounding_box()
    handle = page.locator("#jp-main-split-panel > .lm-SplitPanel-handle:not(.lm-mod-hidden)").first
    grip = handle.bounding_box()
    if box is None or grip is None or box["width"] >= to:
        return
    y = grip["y"] + grip["height"] / 2
    page.mouse.move(grip["x"] + grip["width"] / 2, y)
    page.mouse.down()
    page.mouse.move(grip["x"] + (to - box["width"]), y, steps=5)
    page.mouse.up()


def _scenario(page, lab: Lab, expect) -> None:  # type: ignore[no-untyped-def]
    expect.set_options(timeout=30_000)
    page.goto(f"{lab.url}/lab/tree/{REPORT}?token={lab.token}")

    # The Schedule dialog, from the notebook's toolbar.
    page.locator(".jp-NotebookPanel .jp-Orchestrate-scheduleButton").click(timeout=90_000)
    dialog = page.locator(".jp-Orchestrate-scheduleDialog .jp-Dialog-content")
    expect(dialog).to_be_visible()
    dialog.locator("#jp-Orchestrate-preset").select_option("0 7 * * 1-5")
    dialog.locator("#jp-Orchestrate-timezone").fill("Europe/Berlin")
    expect(dialog.locator(".jp-Orchestrate-description")).to_have_text("At 07:00, Monday through Friday")
    times = dialog.locator(".jp-Orchestrate-nextTimes li")
    expect(times).to_have_count(3)
    expect(times.first).to_contain_text("07:00")
    dialog.get_by_label("parameter top_n value").fill("3")
    dialog.locator("#jp-Orchestrate-dependsSearch").fill("daily_rev")
    expect(dialog.get_by_label("depends-on choices").locator("li")).to_have_count(1)
    expect(dialog.get_by_label("depends-on choices").locator("input")).to_be_checked()
    dialog.locator("#jp-Orchestrate-owner").fill("ana@example.com")
    _save(dialog.screenshot(), "schedule-dialog.png")
    dialog.get_by_role("button", name="Save schedule").click()
    expect(dialog).to_be_hidden()

    # The schedule is in the notebook's own metadata.
    metadata = json.loads((lab.root / REPORT).read_text(encoding="utf-8"))["metadata"]["orchestrate"]
    assert metadata["schedule"] == "0 7 * * 1-5"
    assert metadata["timezone"] == "Europe/Berlin"
    assert metadata["parameters"] == {"top_n": 3, "warehouse": "../shop.duckdb"}
    assert metadata["depends_on"] == ["daily_revenue"]
    assert metadata["owner"] == "ana@example.com"

    # The Orchestrate panel: no scheduler yet, and the new schedule.
    panel = page.locator("#orchestrate-panel")
    if not panel.is_visible():
        page.locator(".jp-SideBar [data-id='orchestrate-panel']").click()
    expect(panel).to_be_visible()
    _widen_left_sidebar(page, panel, to=440)
    expect(panel.get_by_label("scheduler status")).to_contain_text("No scheduler is running")
    panel.get_by_role("tab", name="Schedules").click()
    schedule = panel.locator("[data-schedule='notebooks/daily_report']")
    expect(schedule).to_contain_text("At 07:00, Monday through Friday (Europe/Berlin)")
    expect(schedule).to_contain_text("next:")

    # Run now, and watch the run reach success.
    panel.locator(".jp-Orchestrate-runAll").click()
    run_view = panel.locator(".jp-Orchestrate-runView")
    expect(run_view).to_be_visible()
    expect(run_view.locator(".jp-Orchestrate-runHeader .jp-Orchestrate-badge")).to_have_attribute(
        "data-status", "success", timeout=240_000
    )
    report_row = run_view.locator(".jp-Orchestrate-nodeRow[data-node-id='notebook.notebooks/daily_report']")
    expect(report_row).to_have_attribute("data-status", "success")
    _save(panel.screenshot(), "orchestrate-panel.png")

    # The output notebook opens in Lab, read-only, with the parameters the run injected.
    report_row.locator(".jp-Orchestrate-openOutput").click()
    tab = page.locator(".jp-MainAreaWidget.jp-NotebookPanel", has_text="top_n = 3").last
    expect(page.get_by_role("tab", name="daily_report.try1.ipynb")).to_be_visible()
    expect(tab).to_contain_text("# Parameters")
    expect(tab).to_contain_text("wrote reports/output/daily_report_")

    # The pipeline graph colors the nodes by their last status.
    panel.get_by_role("tab", name="Pipeline").click()
    node = panel.locator(".jp-Orchestrate-graphNode[data-node-id='notebook.notebooks/daily_report']")
    expect(node).to_have_attribute("data-status", "success")
    expect(node).to_contain_text("succeeded")
    node.click()
    card = panel.locator(".jp-Orchestrate-nodeCard[data-node-id='notebook.notebooks/daily_report']")
    expect(card).to_contain_text("succeeded")
    expect(card.get_by_role("button", name="Schedule…")).to_be_visible()
    _save(panel.screenshot(), "pipeline-graph.png")
