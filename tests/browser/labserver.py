"""A JupyterLab server on localhost for the browser tests, and a whole-notebook screenshot.

``jupyter_lab(root, home)`` starts ``jupyter lab`` from the Python running the tests, on a free
port with a random token, serving ``root`` with ``home`` as its HOME (settings, workspaces and
log live there, so nothing leaks in from the machine), and stops it when the block ends.
"""
from __future__ import annotations

import contextlib
import json
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Iterator, Mapping, Sequence

# JupyterLab settings for a test server: render every cell (no windowing, so one tall viewport
# shows the whole notebook) and never ask about news or updates.
LAB_SETTINGS = {
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none", "scrollPastEnd": False},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false",
                                                                         "checkForUpdates": False},
}


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def jupyter_lab(root: Path, home: Path, env: Mapping[str, str] | None = None,
                args: Sequence[str] = ()) -> Iterator[tuple[str, str]]:
    """Run ``jupyter lab`` serving ``root`` until the block ends; yields (base URL, token).

    ``env`` adds environment variables for the server and its kernels; ``args`` adds options.
    """
    settings = home / "lab-settings"
    for name, values in LAB_SETTINGS.items():
        (settings / name).parent.mkdir(parents=True, exist_ok=True)
        (settings / name).write_text(json.dumps(values))
    port, token = free_port(), secrets.token_hex(16)
    log = home / "jupyter.log"
    command = [sys.executable, "-m", "jupyterlab", "--no-browser", "--allow-root", "--ServerApp.ip=127.0.0.1",
               f"--ServerApp.port={port}", "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
               f"--ServerApp.root_dir={root}", f"--LabApp.user_settings_dir={settings}",
               f"--LabApp.workspaces_dir={home / 'workspaces'}", *args]
    server_env = dict(os.environ, HOME=str(home), JUPYTER_CONFIG_DIR=str(home / ".jupyter"), **(env or {}))
    with open(log, "wb") as out:
        server = subprocess.Popen(command, cwd=root, env=server_env, stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2).close()
                break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                if server.poll() is not None or time.monotonic() > deadline:
                    tail = log.read_text(errors="replace")[-3000:]
                    raise RuntimeError(f"jupyter lab did not start on {base} (log {log}):\n{tail}") from None
                time.sleep(0.5)
        yield base, token
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def server_log(home: Path) -> str:
    """What the server started by ``jupyter_lab(root, home)`` has logged so far."""
    path = home / "jupyter.log"
    return path.read_text(errors="replace") if path.exists() else ""


# How far the open notebook's content reaches below the visible part of its scrolling panel.
HIDDEN_HEIGHT = """() => {
  const panel = document.querySelector('.jp-NotebookPanel .jp-WindowedPanel-outer');
  const cells = panel.querySelectorAll('.jp-Cell');
  const bottom = cells[cells.length - 1].getBoundingClientRect().bottom;
  return Math.ceil(bottom - panel.getBoundingClientRect().bottom);
}"""


def notebook_screenshot(page, path: Path, limit: int = 30000) -> Path:
    """Screenshot the open notebook whole: the viewport grows until the last cell is in view."""
    page.evaluate("() => document.querySelector('.jp-NotebookPanel .jp-WindowedPanel-outer').scrollTo(0, 0)")
    for _ in range(5):  # growing the page re-flows it (plots, maths), so measure again
        hidden = page.evaluate(HIDDEN_HEIGHT)
        if hidden <= 0 or page.viewport_size["height"] >= limit:
            break
        height = min(page.viewport_size["height"] + hidden + 40, limit)
        page.set_viewport_size({"width": page.viewport_size["width"], "height": height})
        page.wait_for_timeout(500)  # let the layout settle at the new size
    page.screenshot(path=str(path))
    return path
