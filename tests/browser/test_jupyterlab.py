"""Real JupyterLab in real (headless) Chromium: open each notebook, Run All, save, no errors.

Run with ``make test-browser``. Chromium comes from Debian's ``chromium`` package (test tools
cannot download their own browser here); Playwright for Python drives it through
``executable_path``. Notebooks are copied to a temporary folder so outputs never reach the
repository. A screenshot of a rendered timeline is written to ``build/``.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
BUILD = ROOT / "build"
CHROMIUM_ARGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
# Every cell must render (no virtual windowing) and no news or update pop-up may cover it.
SETTINGS = {
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false",
        "checkForUpdates": False,
    },
}
RUN_TIMEOUT_S = 240

pytestmark = pytest.mark.browser


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, Path]]:
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian's chromium is missing: run `make test-browser` (it installs it)")
    work = tmp_path_factory.mktemp("lab")
    notebooks = work / "notebooks"
    shutil.copytree(ROOT / "notebooks", notebooks)
    settings = work / "settings"
    for name, value in SETTINGS.items():
        target = settings / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(value))
    port, token = free_port(), secrets.token_hex(16)
    env = {**os.environ, "LAB_FAST": os.environ.get("LAB_FAST", "1"),
           "JUPYTERLAB_SETTINGS_DIR": str(settings)}  # fmt: skip
    log = (work / "lab.log").open("w")
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ip=127.0.0.1",
         f"--port={port}", f"--IdentityProvider.token={token}", "--expose-app-in-browser",
         f"--ServerApp.root_dir={notebooks}",
         *(["--allow-root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else [])],
        env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2)
            break
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                server.kill()
                pytest.fail(f"jupyter lab did not start:\n{(work / 'lab.log').read_text()}")
            time.sleep(0.5)
    try:
        yield base, token, notebooks
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    # A dev dependency: if it is missing, fail (never skip the browser check quietly).
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        instance = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


# Find the notebook's panel by its path, never by focus: a restored layout or a dialog can
# leave another widget current.
PANEL = """(name) => {
  if (!window.jupyterapp || !window.jupyterapp.shell) return null;  // still loading
  for (const w of window.jupyterapp.shell.widgets('main')) {
    if (w.context && w.context.path === name && w.content && w.sessionContext) return w;
  }
  return null;
}"""


def with_panel(script: str) -> str:
    """``script`` with ``(PANEL)`` replaced by the panel-finding function above."""
    return script.replace("(PANEL)", f"({PANEL})")


READY = with_panel("""(name) => {
  const panel = (PANEL)(name);
  if (!panel) return false;
  window.jupyterapp.shell.activateById(panel.id);
  const session = panel.sessionContext.session;
  return !!(session && session.kernel && session.kernel.status === 'idle'
            && window.jupyterapp.shell.currentWidget === panel);
}""")
PROGRESS = with_panel("""(name) => {
  const panel = (PANEL)(name);
  const kernel = panel.sessionContext.session && panel.sessionContext.session.kernel;
  const cells = panel.content.widgets.filter(c => c.model.type === 'code');
  const ran = cells.filter(c => c.model.executionCount !== null
                               && !c.promptNode.textContent.includes('*')).length;
  const tagged = c => (c.model.getMetadata('tags') || []).includes('raises-exception');
  const errors = cells.filter(c => !tagged(c) && c.model.outputs.toJSON()
                                   .some(o => o.output_type === 'error')).length;
  return {idle: !!kernel && kernel.status === 'idle', ran, total: cells.length, errors};
}""")
RUN = with_panel("""async (name) => {
  const panel = (PANEL)(name);
  window.jupyterapp.shell.activateById(panel.id);
  await window.jupyterapp.commands.execute('notebook:run-all-cells');
}""")
SAVED = with_panel("""async (name) => {
  const panel = (PANEL)(name);
  await panel.context.save();
  return !panel.context.model.dirty;
}""")
SHUTDOWN = with_panel("""async (name) => {
  const panel = (PANEL)(name);
  await panel.sessionContext.shutdown();
}""")


def wait_until_finished(page: object, name: str) -> dict[str, object]:
    """Poll until the kernel has stayed idle with every cell run, or an error stopped Run All."""
    deadline = time.monotonic() + RUN_TIMEOUT_S
    settled = 0
    while time.monotonic() < deadline:
        state: dict[str, object] = page.evaluate(PROGRESS, name)  # type: ignore[attr-defined]
        finished = state["idle"] and (state["ran"] == state["total"] or state["errors"])
        settled = settled + 1 if finished else 0
        if settled >= 3:  # idle on three polls in a row: not a pause between two cells
            return state
        time.sleep(0.7)
    raise AssertionError(f"Run All did not finish within {RUN_TIMEOUT_S} s: {state}")


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_run_all_in_jupyterlab(lab: tuple[str, str, Path], browser: object, notebook: Path) -> None:
    base, token, folder = lab
    page = browser.new_page(viewport={"width": 1400, "height": 1000})  # type: ignore[attr-defined]
    name = notebook.name
    try:
        # A workspace of its own (reset): no tabs restored from the previous notebook.
        page.goto(f"{base}/lab/workspaces/{notebook.stem}/tree/{name}?reset&token={token}")
        page.wait_for_function(READY, arg=name, timeout=60_000)
        page.evaluate(RUN, name)
        wait_until_finished(page, name)
        assert page.evaluate(SAVED, name), "the notebook could not be saved"
        # Every notebook draws at least one figure; a screenshot of the first is kept.
        images = page.locator(".jp-OutputArea-output img")
        assert images.count(), f"{name} rendered no figure in JupyterLab"
        BUILD.mkdir(exist_ok=True)
        shot = BUILD / f"browser-{notebook.stem}.png"
        images.first.scroll_into_view_if_needed()
        images.first.screenshot(path=str(shot))
        assert shot.stat().st_size > 1000, f"the screenshot {shot} is empty"
        page.evaluate(SHUTDOWN, name)
    finally:
        page.close()
    saved = nbformat.read(folder / name, as_version=4)
    code = [c for c in saved.cells if c.cell_type == "code"]
    errors = [
        f"cell {i}: {o.get('ename')}: {o.get('evalue')}"
        for i, c in enumerate(code)
        if "raises-exception" not in c.metadata.get("tags", [])
        for o in c.outputs
        if o.output_type == "error"
    ]
    assert not errors, errors
    assert all(c.execution_count for c in code), "not every cell ran in the browser"
