"""The live path, as a reader meets it: a chapter opened in a real JupyterLab, run, and a slider moved.

nbval runs the explorers' Python but cannot see the browser side: the ipywidgets front end, the comm
messages that carry a slider move to the kernel, the jitted recompute and the image sent back.  This test
starts JupyterLab on localhost (on a copy of the chapter, so nothing writes to book/), opens chapter 1 in
Chromium, runs every cell from the Run menu, then moves each slider with the keyboard and checks that the
value shown and the figure both change.  The browser is offline: only localhost is reachable.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHAPTER = ROOT / "book" / "ch01_gradient_descent.ipynb"
RUN_TIMEOUT_MS = 600_000  # the whole chapter, on a slow 2-core runner
SETTINGS = {  # no news or update checks: nothing leaves localhost
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": '{"fetchNews": "false", "checkForUpdates": false}',
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def jupyterlab(tmp_path_factory):
    work = tmp_path_factory.mktemp("jupyterlab")
    (work / "notebooks").mkdir()
    shutil.copy(CHAPTER, work / "notebooks" / CHAPTER.name)
    for name, text in SETTINGS.items():
        (work / "settings" / name).parent.mkdir(parents=True, exist_ok=True)
        (work / "settings" / name).write_text(text)
    port, token = _free_port(), secrets.token_hex(16)
    env = dict(os.environ, JUPYTER_CONFIG_DIR=str(work / "config"), JUPYTER_RUNTIME_DIR=str(work / "runtime"),
               DLBOOK_EXPLORERS="live", PYTHONHASHSEED="0")
    env.pop("MPLBACKEND", None)
    log = open(work / "server.log", "w")
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--allow-root", "--ip=127.0.0.1", f"--port={port}",
         f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={work / 'notebooks'}",
         f"--LabApp.user_settings_dir={work / 'settings'}", f"--LabApp.workspaces_dir={work / 'workspaces'}",
         # window.jupyterapp, as JupyterLab's own browser tests (Galata) use it, to read the kernel's state
         "--LabApp.expose_app_in_browser=True"],
        env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        if server.poll() is not None:
            pytest.fail(f"JupyterLab exited with {server.returncode}:\n{(work / 'server.log').read_text()[-3000:]}")
        try:
            urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2)
            break
        except OSError:
            if time.monotonic() > deadline:
                server.kill()
                pytest.fail(f"JupyterLab did not start in 120 s:\n{(work / 'server.log').read_text()[-3000:]}")
            time.sleep(0.5)
    yield base, token, work
    server.terminate()
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.kill()
    log.close()


KERNEL_IDLE = """() => { const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;
  return !!(w && w.context && w.context.isReady && w.sessionContext && w.sessionContext.session
            && w.sessionContext.session.kernel && w.sessionContext.session.kernel.status === 'idle'); }"""
ALL_RUN = """() => { const w = window.jupyterapp.shell.currentWidget;
  if (w.sessionContext.session.kernel.status !== 'idle') return false;
  const cells = [...w.content.model.cells].filter(c => c.type === 'code');
  return cells.every(c => c.executionCount !== null); }"""
ERRORS = """() => [...window.jupyterapp.shell.currentWidget.content.model.cells].filter(c => c.type === 'code')
  .flatMap(c => c.outputs.toJSON()).filter(o => o.output_type === 'error').map(o => o.ename + ': ' + o.evalue)"""
IMAGE_HASH = """async (img) => { const b = await (await fetch(img.src)).arrayBuffer();
  const d = await crypto.subtle.digest('SHA-256', b); return [...new Uint8Array(d)].map(x => x.toString(16)).join(''); }"""


def test_chapter_runs_in_jupyterlab_and_its_sliders_redraw(tab, jupyterlab):
    base, token, work = jupyterlab
    page = tab.page
    page.goto(f"{base}/lab/tree/{CHAPTER.name}?token={token}&reset")
    page.wait_for_function(KERNEL_IDLE, timeout=120_000)

    # Run → Run All Cells, as a reader would.
    page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
    page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()
    page.wait_for_function(ALL_RUN, timeout=RUN_TIMEOUT_MS, polling=1000)
    assert page.evaluate(ERRORS) == [], "a cell raised in JupyterLab"
    # MyST markdown (admonitions, dropdown solutions, citations) renders, it is not shown as raw text
    assert ":::{" not in page.locator(".jp-MarkdownOutput").all_inner_texts().__str__()

    sliders = page.locator(".widget-slider")
    assert sliders.count() >= 3, "the chapter's explorers did not appear as ipywidgets sliders"
    for k in range(sliders.count()):
        slider = sliders.nth(k)
        slider.scroll_into_view_if_needed()
        img = slider.locator("xpath=ancestor::div[contains(@class, 'widget-vbox')][1]").locator("img").first
        handle, readout = slider.locator(".noUi-handle"), slider.locator(".widget-readout")
        before_value, before_img = readout.inner_text(), img.evaluate(IMAGE_HASH)
        now, top = (int(float(handle.get_attribute(a))) for a in ("aria-valuenow", "aria-valuemax"))
        handle.focus()
        handle.press("ArrowRight" if now < top else "ArrowLeft")
        deadline = time.monotonic() + 60
        while (readout.inner_text() == before_value or img.evaluate(IMAGE_HASH) == before_img) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert readout.inner_text() != before_value, f"slider {k}: the value shown did not change"
        assert img.evaluate(IMAGE_HASH) != before_img, f"slider {k}: the figure was not redrawn"
    assert page.evaluate(ERRORS) == []
    tab.assert_clean()
