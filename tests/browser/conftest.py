"""Fixtures for the real-browser tests: headless Chromium, a page, and the screenshot folder.

The browser is Debian's chromium (``apt-get install -y chromium``), driven by the Python
``playwright`` package; no browser is ever downloaded. Screenshots go to ``$SEQLAB_ARTIFACTS``,
else ``tests/artifacts/``. Every test using ``browser`` skips, saying what to install, when
chromium or playwright is missing, except under CI (``CI`` set), where it fails instead. The
JupyterLab server itself is in labserver.py.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

CHROMIUM = Path(os.environ.get("SEQLAB_CHROMIUM", "/usr/bin/chromium"))
# As root on a closed network: no sandbox, no GPU, and none of Chromium's own calls home.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """The folder screenshots are saved in (created if missing)."""
    folder = Path(os.environ.get("SEQLAB_ARTIFACTS") or REPO / "tests" / "artifacts")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def missing(reason: str):
    """Skip, except under CI (CI=true), where a missing browser must fail rather than hide the tests."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set: the browser tests must run there)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def browser():
    """One headless Chromium for the session (skips when chromium or playwright is missing)."""
    if not CHROMIUM.exists():
        missing(f"no Chromium at {CHROMIUM}: apt-get install -y chromium (or set SEQLAB_CHROMIUM)")
    try:
        from playwright import sync_api
    except ImportError:
        missing("playwright is missing: pip install playwright (it drives the installed chromium; "
                "no browser download is needed)")
    with sync_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    """A fresh page with its own cookies and storage, 1280 x 900."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    yield context.new_page()
    context.close()
