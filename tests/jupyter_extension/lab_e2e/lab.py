"""Helpers for the end-to-end tests: the server, the panel, themes, screenshots, axe-core and the store.

Screenshots go to ``test-artifacts/`` (light theme, at the test's size). With
``ORCHESTRATE_DOC_SCREENSHOTS=1`` each view named by :func:`document_view` is
also written to ``docs/img/`` in the light and dark themes at 1440×900 and
1024×700 (``<view>.<theme>.<width>x<height>.png``); the README shows some of them.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CHROMIUM = Path("/usr/bin/chromium")
REPO = Path(__file__).resolve().parents[3]
ARTIFACTS = REPO / "test-artifacts"
DOC_IMAGES = REPO / "docs" / "img"
AXE = REPO / "jupyter_extension" / "ui" / "node_modules" / "axe-core" / "axe.min.js"
LAUNCH_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SIZES = ((1440, 900), (1024, 700))
THEMES = {"light": "JupyterLab Light", "dark": "JupyterLab Dark"}
REPORT = "notebooks/daily_report.ipynb"
INGEST = "notebooks/ingest_orders.ipynb"
REPORT_ID = "notebook.notebooks/daily_report"


@dataclass(frozen=True)
class Lab:
    url: str
    token: str
    root: Path
    pristine: Path

    def reset(self) -> None:
        """Stop every kernel, and put the notebooks and orchestrate.yaml back as the example has them."""
        for kernel in self.rest("GET", "api/kernels") or []:
            with contextlib.suppress(OSError):
                self.rest("DELETE", f"api/kernels/{kernel['id']}")
        shutil.rmtree(self.root / "notebooks")
        shutil.copytree(self.pristine / "notebooks", self.root / "notebooks")
        shutil.copy(self.pristine / "orchestrate.yaml", self.root / "orchestrate.yaml")

    def rest(self, method: str, path: str, body: Any = None) -> Any:
        """Call the server's REST API with the token; the decoded JSON answer (None when empty)."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            f"{self.url}/{path}", method=method, data=data, headers={"Authorization": f"token {self.token}"}
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            text = response.read().decode()
        return json.loads(text) if text else None

    def metadata(self, notebook: str = REPORT) -> dict[str, Any]:
        return dict(json.loads((self.root / notebook).read_text(encoding="utf-8"))["metadata"])

    def edit_metadata(self, notebook: str = REPORT, **changes: Any) -> None:
        path = self.root / notebook
        document = json.loads(path.read_text(encoding="utf-8"))
        document["metadata"].setdefault("orchestrate", {}).update(changes)
        path.write_text(json.dumps(document, indent=1), encoding="utf-8")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def lab_settings(folder: Path) -> None:
    """No news or update prompts: the browser must not wait on them, nor reach the network."""
    notification = folder / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
    notification.parent.mkdir(parents=True)
    notification.write_text(json.dumps({"fetchNews": "false", "checkForUpdates": False}), encoding="utf-8")


def wait_until_up(url: str, process: subprocess.Popen[bytes], log: Path, timeout: float = 90.0) -> None:
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


def stop_server(process: subprocess.Popen[bytes], url: str, token: str) -> None:
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


# -- the panel


def open_panel(page: Any) -> Any:
    """The Orchestrate sidebar, opened."""
    from playwright.sync_api import expect

    panel = page.locator("#orchestrate-panel")
    if not panel.is_visible():
        page.locator(".jp-SideBar [data-id='orchestrate-panel']").click()
    expect(panel).to_be_visible()
    return panel


def widen_left_sidebar(page: Any, panel: Any, to: int) -> None:
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


def command(page: Any, name: str, args: dict[str, Any] | None = None, wait: bool = False) -> Any:
    """Run a JupyterLab command, as the command palette would; ``wait`` for it to finish (a command that
    opens a dialog finishes when the dialog closes)."""
    if wait:
        return page.evaluate("([name, args]) => window.jupyterapp.commands.execute(name, args)", [name, args or {}])
    page.evaluate("([name, args]) => { void window.jupyterapp.commands.execute(name, args); }", [name, args or {}])
    return None


def set_theme(page: Any, theme: str) -> None:
    """Switch to ``light`` or ``dark`` and wait until the page has it."""
    command(page, "apputils:change-theme", {"theme": THEMES[theme]}, wait=True)
    page.wait_for_function(
        "light => document.body.dataset.jpThemeLight === light", arg="true" if theme == "light" else "false"
    )
    page.wait_for_timeout(300)


def save_screenshot(image: bytes, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / name).write_bytes(image)


def document_view(page: Any, view: str, target: str, prepare: Any = None) -> None:
    """Screenshots of one view (the element matching ``target``).

    Always one in ``test-artifacts/``; with ``ORCHESTRATE_DOC_SCREENSHOTS=1``, also every theme
    and size in ``docs/img/``. ``prepare(page)`` runs after each change of size or theme (e.g.
    to reopen a dialog that a resize closed); the page is left light, at 1440×900.
    """
    if os.environ.get("ORCHESTRATE_DOC_SCREENSHOTS") != "1":
        save_screenshot(page.locator(target).first.screenshot(), f"{view}.png")
        return
    DOC_IMAGES.mkdir(parents=True, exist_ok=True)
    for theme in THEMES:
        set_theme(page, theme)
        for width, height in SIZES:
            page.set_viewport_size({"width": width, "height": height})
            page.wait_for_timeout(400)
            if prepare is not None:
                prepare(page)
            image = page.locator(target).first.screenshot()
            (DOC_IMAGES / f"{view}.{theme}.{width}x{height}.png").write_bytes(image)
            if (theme, width) == ("light", 1440):
                save_screenshot(image, f"{view}.png")
    set_theme(page, "light")
    page.set_viewport_size({"width": 1440, "height": 900})


def axe_violations(page: Any, selector: str, every_impact: bool = False) -> list[dict[str, Any]]:
    """axe-core's serious and critical violations inside ``selector`` (the npm package, run in the page);
    with ``every_impact``, the minor and moderate ones too."""
    assert AXE.is_file(), f"axe-core is not installed ({AXE}); run `npm install` in jupyter_extension/ui"
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE))
    result = page.evaluate(
        """async selector => {
            const found = await window.axe.run(document.querySelector(selector), {resultTypes: ['violations']});
            return found.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.map(n => n.target.join(' ') + ': ' + n.failureSummary)}));
        }""",
        selector,
    )
    return [item for item in result if every_impact or item["impact"] in ("serious", "critical")]


@contextlib.contextmanager
def serve_lab(home: Path, root: Path, pristine: Path | None = None) -> Any:
    """``jupyter lab`` on ``root`` (any folder, e.g. one with no orchestrate.yaml yet) with settings, workspaces
    and runtime folders of its own under ``home``; yields a :class:`Lab` (``pristine``: an untouched copy of
    ``root``, default ``root`` itself)."""
    import secrets
    import sys

    lab_settings(home / "lab-settings")
    port, token = free_port(), secrets.token_hex(16)
    env = {
        **os.environ,
        "JUPYTERLAB_SETTINGS_DIR": str(home / "lab-settings"),
        "JUPYTERLAB_WORKSPACES_DIR": str(home / "lab-workspaces"),
        "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
        "JUPYTER_CONFIG_DIR": str(home / "jupyter-config"),
    }
    log = home / "jupyter-lab.log"
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
                f"--ServerApp.root_dir={root}",
                "--LabApp.expose_app_in_browser=True",
                # Files change under the server between tests: read the project on every request.
                "--OrchestrateExtension.cache_seconds=0",
            ],
            cwd=root,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(f"{url}/api/status?token={token}", process, log)
        yield Lab(url, token, root, pristine or root)
    finally:
        stop_server(process, url, token)
        ARTIFACTS.mkdir(exist_ok=True)
        shutil.copy(log, ARTIFACTS / f"jupyter-lab.{port}.log")


def open_lab_page(browser: Any, lab: Lab, workspace: str, path: str | None = None) -> tuple[Any, Any]:
    """A fresh browser context on ``lab`` (1440×900, America/New_York): (context, page), Lab loaded."""
    context = browser.new_context(viewport={"width": 1440, "height": 900}, timezone_id="America/New_York")
    page = context.new_page()
    tree = f"/tree/{path}" if path else ""
    page.goto(f"{lab.url}/lab/workspaces/{workspace}{tree}?token={lab.token}")
    page.wait_for_function("() => window.jupyterapp && window.jupyterapp.shell", timeout=90_000)
    page.locator("#jp-main-dock-panel").wait_for(timeout=90_000)
    return context, page
