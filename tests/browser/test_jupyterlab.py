"""Does a lab run in a real JupyterLab, in a real browser, the way a student runs it?

JupyterLab serves a temporary copy of a notebook; headless Chromium opens it, clicks Run > Run
All Cells, waits for the kernel to finish, reads the page, and saves a screenshot of the whole
notebook. The server runs with NBGRADER_EXECUTION=autograde, so the training cells use their
reduced budget and a run takes seconds.
"""
import re
import shutil
from pathlib import Path

import nbformat
import pytest
PlaywrightTimeout = pytest.importorskip("playwright.sync_api").TimeoutError

from labserver import jupyter_lab, notebook_screenshot, server_log

pytestmark = [pytest.mark.slow, pytest.mark.browser]

REPO = Path(__file__).resolve().parents[2]
LAB = "01_rnn"
STDERR = '.jp-RenderedText[data-mime-type="application/vnd.jupyter.stderr"]'
PROMPTS = ".jp-Notebook .jp-CodeCell .jp-InputPrompt"
# Run All is over when the kernel is idle and no cell waits ("[*]") any more; after an error,
# JupyterLab leaves the cells below it unrun, with an empty prompt.
FINISHED = """() => {
  const status = document.querySelector('.jp-Notebook-ExecutionIndicator');
  const prompts = [...document.querySelectorAll('%s')];
  return status && status.dataset.status === 'idle' && prompts.length > 0
      && prompts.every(p => !p.textContent.includes('*'));
}""" % PROMPTS
STARTED = """() => [...document.querySelectorAll('%s')].some(p => /\\[(\\*|\\d+)\\]/.test(p.textContent))""" % PROMPTS


def run_all(page, base: str, token: str, notebook: str) -> None:
    """Open ``notebook`` in JupyterLab, click Run > Run All Cells, and wait until the run is over."""
    page.goto(f"{base}/lab/tree/{notebook}?token={token}")
    page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=300_000)
    page.keyboard.press("Control+b")  # hide the file browser: the screenshot shows the notebook
    page.locator(".jp-Notebook .jp-Cell").first.click()   # focus the notebook, so the menu acts on it
    for attempt in range(3):  # on a loaded machine a click can land before the menu is wired
        accept_dialogs(page)
        page.get_by_role("menuitem", name="Run", exact=True).click()
        page.get_by_role("menuitem", name=re.compile(r"^Run All Cells")).click()
        # Started: some prompt shows [*] or a count (a 'busy' flag can come and go between two polls).
        try:
            page.wait_for_function(STARTED, timeout=40_000, polling=200)
            break
        except PlaywrightTimeout:
            if attempt == 2:
                raise
    page.wait_for_function(FINISHED, timeout=300_000, polling=1000)


def accept_dialogs(page) -> None:
    """Accept any modal dialog JupyterLab opened (on a loaded machine, "Select Kernel" can appear while
    the kernel is slow to start): it would take every click meant for the menu."""
    for _ in range(3):
        dialog = page.locator(".jp-Dialog")
        if not dialog.count():
            return
        page.locator(".jp-Dialog .jp-mod-accept").first.click(timeout=10_000)
        dialog.first.wait_for(state="detached", timeout=10_000)


def serve_copy(tmp_path: Path, source: Path) -> tuple[Path, Path, int]:
    """Copy ``source`` into an empty root folder; return (root, server home, its code-cell count)."""
    root, home = tmp_path / "root", tmp_path / "home"
    root.mkdir(), home.mkdir()
    shutil.copy(source, root)
    cells = nbformat.read(str(source), as_version=4).cells
    return root, home, sum(c.cell_type == "code" for c in cells)


def test_reference_lab_runs_all_cells_in_jupyterlab(page, artifacts, tmp_path):
    """Does Run All Cells on Lab 1's reference run every cell in JupyterLab, with no error shown and its plots drawn?"""
    root, home, code_cells = serve_copy(tmp_path, REPO / "solutions" / f"{LAB}.ipynb")
    with jupyter_lab(root, home, env={"NBGRADER_EXECUTION": "autograde"}) as (base, token):
        run_all(page, base, token, f"{LAB}.ipynb")
        prompts = page.locator(PROMPTS).all_text_contents()
        errors = [t for t in page.locator(STDERR).all_text_contents() if "Traceback" in t or "Error" in t]
        images = page.locator(".jp-RenderedImage img").count()
        shot = notebook_screenshot(page, artifacts / f"jupyterlab_{LAB}_reference.png")
        log = server_log(home)

    assert len(prompts) == code_cells, f"the page shows {len(prompts)} code cells, the notebook has {code_cells}"
    unrun = [i for i, p in enumerate(prompts) if not re.search(r"\[\d+\]", p)]
    assert not unrun, f"code cells {unrun} have no execution count after Run All (screenshot {shot})"
    assert not errors, f"error output on the page (screenshot {shot}):\n" + "\n---\n".join(errors)
    assert images >= 1, f"no plot was drawn in the page (screenshot {shot})"
    assert "Traceback" not in log, f"the Jupyter server logged an exception:\n{log[-3000:]}"


def test_student_lab_stops_at_the_first_exercise_in_jupyterlab(page, artifacts, tmp_path):
    """Does the untouched student Lab 1 show its Colab badge, run its setup, and stop only at the first exercise with NotImplementedError?"""
    root, home, _ = serve_copy(tmp_path, REPO / "labs" / f"{LAB}.ipynb")
    with jupyter_lab(root, home, env={"NBGRADER_EXECUTION": "autograde"}) as (base, token):
        run_all(page, base, token, f"{LAB}.ipynb")
        badge = page.locator('.jp-RenderedMarkdown img[alt="Open In Colab"]').count()
        outputs = page.locator(".jp-Notebook .jp-CodeCell").evaluate_all(
            "cells => cells.map(c => c.querySelector('.jp-OutputArea') ? c.querySelector('.jp-OutputArea').innerText : '')")
        prompts = page.locator(PROMPTS).all_text_contents()
        errors = [t for t in page.locator(STDERR).all_text_contents() if "Traceback" in t or "Error" in t]
        shot = notebook_screenshot(page, artifacts / f"jupyterlab_{LAB}_student.png")

    assert badge == 1, f"the header shows {badge} 'Open In Colab' badges (screenshot {shot})"
    assert "Not on Colab" in outputs[0], f"the setup cell printed {outputs[0]!r} (screenshot {shot})"
    assert len(errors) == 1 and "NotImplementedError" in errors[0], (
        f"expected one NotImplementedError, the page shows (screenshot {shot}):\n" + "\n---\n".join(errors))
    failed = next(i for i, text in enumerate(outputs) if "NotImplementedError" in text)
    ran = [i for i, p in enumerate(prompts) if re.search(r"\[\d+\]", p)]
    assert ran == list(range(failed + 1)), f"cells run: {ran}; Run All should stop at cell {failed} (screenshot {shot})"
