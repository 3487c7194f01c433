"""Does any student HTML or script run when a TA or student opens what the grader wrote?

A hostile student of the tiny lab (``tests/autograder/labfactory.py``) hands in a notebook whose
outputs (HTML with ``<script>`` and ``<img onerror>``, ``Javascript()``, SVG, Markdown) and own
markdown cells carry one payload: mark the page (``window.__pwned``, the title), create
``pwned.txt`` through the Jupyter server's contents API and start a kernel through its kernels
API, with the XSRF token a same-origin script can read. The real pipeline grades it; headless
Chromium then opens the submission in nbgrader's formgrader (served on the Jupyter server's own
origin), the autograded notebook in JupyterLab, and the student's feedback and results pages, and
checks that nothing ran while the student's work is still shown. Screenshots go to the artifacts
folder.
"""
import json
import sys
import urllib.request
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_markdown_cell

from autograder.pages import CSP
from labserver import jupyter_lab, notebook_screenshot, server_log

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "autograder"))
from labfactory import TINY_LAB, write_tiny_repo  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.browser]

STUDENT = "mallory"
# The payload: no space and no double quote, so it fits a script, an attribute and a link alike.
PAYLOAD = ("window.__pwned=1;document.title='PWNED';"
           "window.__x=(document.cookie.match(/_xsrf=([^;]+)/)||[])[1]||'';"
           "fetch('/api/contents/pwned.txt',{method:'PUT',headers:{'X-XSRFToken':window.__x},"
           "body:JSON.stringify({type:'file',format:'text',content:'pwned'})});"
           "fetch('/api/kernels',{method:'POST',headers:{'X-XSRFToken':window.__x},body:'{}'});")
# IPython's ``display`` is a builtin in the kernel: raw mime bundles need no import.
HOSTILE_ADD = f'''PAYLOAD = {PAYLOAD!r}


def add(a, b):
    """Return a + b."""
    return a + b


display({{"text/html": '<p>Training log:</p><table><tr><th>epoch</th><th>loss</th></tr><tr><td>1</td>'
          '<td>0.25</td></tr></table><script>' + PAYLOAD + '</script><img src="missing.png" onerror="' + PAYLOAD + '">',
          "text/plain": "<HTML>"}}, raw=True)
display({{"application/javascript": PAYLOAD, "text/plain": "<Javascript>"}}, raw=True)
display({{"image/svg+xml": '<svg xmlns="http://www.w3.org/2000/svg" onload="' + PAYLOAD + '"><script>'
          + PAYLOAD + '</script></svg>', "text/plain": "a drawing"}}, raw=True)
display({{"text/markdown": '**Loss went down.** <img src="x" onerror="' + PAYLOAD + '">'}}, raw=True)
print("loss 0.25 < 0.5")
'''
# Its error message reaches the results page.
HOSTILE_SCALE = '''def scale(x, k):
    """Return x times k."""
    raise ValueError('<script>' + PAYLOAD + '</script><img src="x" onerror="' + PAYLOAD + '">')
'''
NOTES = ("## My notes\n\nThe loss goes down when a < b, and `<pad>` is token 0.\n\n"
         f"<script>{PAYLOAD}</script>\n<img src=\"x\" onerror=\"{PAYLOAD}\">\n")
LINK = f"Questions? [Click here](javascript:{PAYLOAD})"
SHOWN = ("The loss goes down when a < b", "Training log:", "Loss went down.", "loss 0.25 < 0.5", "Click here")

# What a script of the student's would have left in the page: its marks, and any script element or
# attribute (event handler, javascript: URL) still carrying the payload.
TRACES = """() => ({
  pwned: window.__pwned === undefined ? null : String(window.__pwned),
  title: document.title === 'PWNED',
  scripts: [...document.scripts].filter(s => s.textContent.includes('__pwned')).length,
  attributes: [...document.querySelectorAll('*')].flatMap(e => [...e.attributes]
      .filter(a => a.value.includes('__pwned')).map(a => e.tagName.toLowerCase() + ' ' + a.name)),
})"""
CLEAN = {"pwned": None, "title": False, "scripts": 0, "attributes": []}


def api(base: str, token: str, path: str):
    """GET ``path`` from the Jupyter server's REST API, as the test (with the token), not the page."""
    request = urllib.request.Request(f"{base}{path}", headers={"Authorization": f"token {token}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


def planted(course: Path) -> set:
    """The files a student script could have written through the contents API."""
    return {str(p) for p in course.rglob("pwned.txt")}


def traces(page) -> dict:
    """What the student's scripts left in ``page``, after giving them time to run."""
    page.wait_for_timeout(2500)  # the payload's fetches are asynchronous
    return page.evaluate(TRACES)


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """The tiny lab released, and the hostile student's submission autograded and given feedback."""
    from autograder import pipeline, report
    from autograder.collect import collect
    from autograder.course import release_notebook
    from autograder.release import release, write_notebook
    from autograder.submissions import fill_solutions

    repo = write_tiny_repo(tmp_path_factory.mktemp("repo"))
    course = tmp_path_factory.mktemp("course")
    release(TINY_LAB, course, repo=repo, cell_timeout=60)
    released = nbformat.read(str(release_notebook(course, TINY_LAB)), as_version=4)
    source = nbformat.read(str(repo / "solutions" / f"{TINY_LAB}.ipynb"), as_version=4)
    nb = fill_solutions(released, source, {"add": HOSTILE_ADD, "scale": HOSTILE_SCALE})
    after = 1 + next(i for i, c in enumerate(nb.cells) if c.metadata.get("nbgrader", {}).get("grade_id") == "add")
    nb.cells[after:after] = [new_markdown_cell(NOTES), new_markdown_cell(LINK)]
    inbox = tmp_path_factory.mktemp("inbox")
    write_notebook(nb, inbox / STUDENT / f"{TINY_LAB}.ipynb")
    pipeline.autograde(course, TINY_LAB, collect(inbox, course, TINY_LAB).collected, progress=False)
    report.feedback_pages(course, TINY_LAB, STUDENT)
    return course


def test_formgrader_runs_no_student_script(page, artifacts, course, tmp_path):
    """Does the formgrader, on the Jupyter server's origin, show the hostile submission with none of its scripts run?"""
    from autograder.course import gradebook

    with gradebook(course) as gb:
        submission = gb.find_submission_notebook(TINY_LAB, TINY_LAB, STUDENT).id
    home = tmp_path / "home"
    home.mkdir()
    with jupyter_lab(course, home) as (base, token):
        kernels, files = api(base, token, "/api/kernels"), planted(course)
        page.goto(f"{base}/formgrader?token={token}")  # as a TA comes in: logged in, with an XSRF cookie
        page.wait_for_selector("table tbody tr", timeout=60_000)
        page.goto(f"{base}/formgrader/submissions/{submission}/")
        page.wait_for_selector("#notebook-container .cell", timeout=60_000)
        found = traces(page)
        text = page.inner_text("#notebook-container")
        page.screenshot(path=str(artifacts / "hostile_formgrader.png"), full_page=True)
        kernels_after = api(base, token, "/api/kernels")
        log = server_log(home)

    effects = {**found, "files": sorted(planted(course) - files), "kernels": len(kernels_after) - len(kernels)}
    assert effects == {**CLEAN, "files": [], "kernels": 0}, (
        f"a student script ran or is live in the formgrader: {effects}")
    for words in SHOWN:
        assert words in text, f"the formgrader no longer shows {words!r} of the student's work"
    assert "Traceback" not in log, f"the server logged an exception:\n{log[-3000:]}"


def test_jupyterlab_runs_no_student_script(page, artifacts, course, tmp_path):
    """Does JupyterLab open the autograded notebook as untrusted, running none of the student's scripts?"""
    home = tmp_path / "home"
    home.mkdir()
    path = f"autograded/{STUDENT}/{TINY_LAB}/{TINY_LAB}.ipynb"
    files = planted(course)
    with jupyter_lab(course, home) as (base, token):
        page.goto(f"{base}/lab/tree/{path}?token={token}")
        page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=120_000)
        page.keyboard.press("Control+b")  # hide the file browser: the screenshot shows the notebook
        found = traces(page)
        text = page.inner_text(".jp-NotebookPanel .jp-Notebook")
        notebook_screenshot(page, artifacts / "hostile_jupyterlab.png")
        kernels = {k["id"] for k in api(base, token, "/api/kernels")}
        opened = {s["kernel"]["id"] for s in api(base, token, "/api/sessions") if s.get("kernel")}

    effects = {**found, "files": sorted(planted(course) - files), "kernels": len(kernels - opened)}
    assert effects == {**CLEAN, "files": [], "kernels": 0}, (
        f"a student script ran or is live in JupyterLab ('kernels': started outside the notebook's own "
        f"session): {effects}")
    for words in SHOWN:
        assert words in text, f"JupyterLab no longer shows {words!r} of the student's work"


def test_feedback_and_results_pages_run_no_student_script(page, artifacts, course):
    """Do the student's feedback and results pages carry our CSP, run no script and still show the work?"""
    folder = course / "feedback" / STUDENT / TINY_LAB
    feedback = folder / f"{TINY_LAB}.html"
    for name, shown in ((feedback, SHOWN), (folder / "results.html", ("test_add", "test_scale", "ValueError"))):
        page.goto(name.as_uri())
        found = traces(page)
        text = page.inner_text("body")
        page.screenshot(path=str(artifacts / f"hostile_{name.stem}.png"), full_page=True)
        assert found == CLEAN, f"a student script ran or is still live in {name.name}: {found}"
        for words in shown:
            assert words in text, f"{name.name} no longer shows {words!r}"
    head = feedback.read_text(encoding="utf-8").split("<head>", 1)[1].lstrip()
    assert head.startswith(f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'), (
        f"{feedback.name} does not open its <head> with our Content-Security-Policy: {head[:120]!r}")
