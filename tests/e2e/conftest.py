"""Browser tests: the built site and a live Jupyter, driven in a real Chromium by Playwright.

Playwright drives the system browser (Debian's ``chromium``; ``DLBOOK_CHROMIUM=/path`` picks another);
it never downloads one.  Without a Chromium every test here is skipped and the run ends with one line
saying so.  Every page runs offline: requests to anything but the local server are blocked and recorded,
and a test fails if a page even tried one.
"""

from __future__ import annotations

import functools
import http.server
import os
import shutil
import threading
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest

ROOT = Path(__file__).resolve().parents[2]
HTML = ROOT / "_build" / "html"
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
# Chromium as root in a container, with no network: no sandbox, no GPU, no background traffic.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-sync",
    "--disable-component-update",
    "--disable-background-networking",
    "--disable-dev-shm-usage",
]
PAGE_WEIGHTS: dict[str, dict[str, int]] = {}


def find_chromium() -> str | None:
    env = os.environ.get("DLBOOK_CHROMIUM")
    if env:
        return env if Path(env).is_file() else None
    for name in BROWSERS:
        path = shutil.which(name)
        if path:
            return path
    return None


def _skip_reason() -> str | None:
    if find_chromium() is None:
        env = os.environ.get("DLBOOK_CHROMIUM")
        if env:
            return f"DLBOOK_CHROMIUM={env} is not a file"
        return ("no Chromium found on PATH (install Debian's chromium package, as .ci/run does, "
                "or set DLBOOK_CHROMIUM=/path/to/chromium)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (make test installs requirements.txt)"
    return None


_SKIP = _skip_reason()


def pytest_collection_modifyitems(config, items):
    """Without a browser, leave the browser tests out of the run (one line at the end says why)."""
    if _SKIP is None:
        return
    here = Path(__file__).parent
    out = [i for i in items if Path(str(i.fspath)).is_relative_to(here)]
    if out:
        config.hook.pytest_deselected(items=out)
        items[:] = [i for i in items if i not in out]


def pytest_sessionfinish(session, exitstatus):
    if _SKIP is not None and exitstatus == pytest.ExitCode.NO_TESTS_COLLECTED:
        session.exitstatus = pytest.ExitCode.OK


def pytest_terminal_summary(terminalreporter):
    if _SKIP is not None:
        terminalreporter.write_line(f"BROWSER TESTS SKIPPED: {_SKIP}.", yellow=True, bold=True)
        return
    if PAGE_WEIGHTS:
        terminalreporter.section("page weight (bytes the browser loaded, offline, cold cache)")
        terminalreporter.write_line(f"{'page':<36}{'requests':>9}{'HTML':>10}{'images':>10}{'scripts':>10}"
                                    f"{'styles':>10}{'fonts':>10}{'total':>10}")
        for page, w in sorted(PAGE_WEIGHTS.items()):
            terminalreporter.write_line(
                f"{page:<36}{w['requests']:>9}" + "".join(f"{w[k] / 1e6:>8.2f}MB" for k in
                                                          ("document", "image", "script", "stylesheet", "font", "total")))


# ---------------------------------------------------------------------------------------------------------
# The built site, served on localhost


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="session")
def site():
    if not (HTML / "index.html").exists():
        pytest.fail("_build/html is missing: run `make book` (make test builds it before these tests)")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(HTML)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/"
    server.shutdown()
    server.server_close()


@pytest.fixture
def page_weights(request):
    """The page-weight test puts its page's weight here; the table at the end of the run lists them.

    Carried by the test report (``user_properties``), so the table is complete when pytest-xdist runs the
    tests in worker processes too.
    """
    weights: dict[str, dict[str, int]] = {}
    yield weights
    request.node.user_properties.append(("page_weights", weights))


def pytest_runtest_logreport(report):
    for name, value in getattr(report, "user_properties", ()):
        if name == "page_weights" and report.when == "teardown":
            PAGE_WEIGHTS.update(value)


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=find_chromium(), args=CHROMIUM_ARGS)
        yield b
        b.close()


def is_local(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("data", "blob", "about") or parts.hostname in ("127.0.0.1", "localhost")


@dataclass
class Tab:
    """A page in a fresh offline browser context, with what it tried to fetch and what went wrong."""

    page: object
    blocked: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)

    def assert_clean(self):
        assert not self.blocked, f"the page tried to reach the network: {self.blocked}"
        assert not self.errors, f"JavaScript errors: {self.errors}"
        assert not self.failed, f"requests that failed: {self.failed}"


@pytest.fixture
def tab(browser):
    """Open pages offline: every request that does not go to localhost is aborted and recorded."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    page = context.new_page()
    t = Tab(page)

    def route(r):
        if is_local(r.request.url):
            r.continue_()
        else:
            t.blocked.append(r.request.url)
            r.abort()

    context.route("**/*", route)
    page.on("pageerror", lambda e: t.errors.append(f"uncaught: {e} at {(e.stack or '').splitlines()[1:3]}"))
    page.on("console", lambda m: t.errors.append(f"console.error: {m.text}") if m.type == "error" else None)
    page.on("requestfailed", lambda r: None if not is_local(r.url) else t.failed.append(f"{r.url} ({r.failure})"))
    page.on("response", lambda r: t.failed.append(f"{r.url} (HTTP {r.status})") if r.status >= 400 else None)
    page.set_default_timeout(60_000)
    yield t
    context.close()
