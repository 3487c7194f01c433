"""A class of 40 ordinary submissions, the way Moodle hands them over, through the TA's four commands.

Nothing here is hostile: students paste images into markdown, write emoji (and half of one, as a
broken copy-paste leaves it), hand in Colab's "Copy of ..." and the browser's "(1)" downloads, and
have names that are not ASCII, two of them the same but for an accent. `collect`, `autograde`,
`feedback` and `export` must take all of it with no manual step, every student graded as deserved.
"""
from __future__ import annotations

import csv
import json
import zipfile

import nbformat
import pytest

from autograder.cli import main
from autograder.release import release
from autograder.course import release_notebook
from autograder.submissions import fill_solutions
from labfactory import TINY_LAB
from test_reading import PNG

NAMES = ["Zoë Martin", "Zoé Martin", "李雷", "Łukasz Nowak", "José Núñez", "Siobhán O'Brien", "Nguyễn Văn An",
         "Ærøskøbing Ødegård", "Mårten Ågren", "Ça Va"] + [f"Student Number{i:02d}" for i in range(30)]
FILE_NAMES = [f"{TINY_LAB}.ipynb", f"Copy of {TINY_LAB}.ipynb", f"{TINY_LAB} (1).ipynb", f"{TINY_LAB}-checkpoint.ipynb"]
WRONG_ADD = "def add(a, b):\n    return a - b"


def submission(released, source, i: int) -> bytes:
    """Student i's notebook: every third adds wrongly; others paste an image, write emoji, print them."""
    nb = fill_solutions(released, source, {"add": WRONG_ADD} if i % 3 == 0 else None)
    extra = []
    if i % 4 == 1:
        extra.append(nbformat.v4.new_markdown_cell("My plot 📈:\n\n![image.png](attachment:image.png)",
                                                   attachments={"image.png": {"image/png": PNG}}))
    if i % 4 == 2:
        extra.append(nbformat.v4.new_markdown_cell("Done! 🎉 and half of one: \ud83d"))
    if i % 5 == 0:
        extra.append(nbformat.v4.new_code_cell("print('résumé ✓ 李雷 \\ud83d')"))
    nb.cells.extend(extra)
    # Jupyter writes UTF-8, with what UTF-8 cannot hold (half an emoji) as a JSON escape.
    return json.dumps(nb, ensure_ascii=False, indent=1).replace("\ud83d", "\\ud83d").encode("utf-8")


def test_forty_ordinary_submissions_go_through_with_no_manual_step(tiny_repo, tmp_path, capsys):
    course = tmp_path / "course"
    release(TINY_LAB, course, repo=tiny_repo, cell_timeout=60)
    released = nbformat.read(str(release_notebook(course, TINY_LAB)), as_version=4)
    source = nbformat.read(str(tiny_repo / "solutions" / f"{TINY_LAB}.ipynb"), as_version=4)
    moodle = tmp_path / "moodle.zip"
    with zipfile.ZipFile(moodle, "w") as archive:
        for i, name in enumerate(NAMES):
            folder = f"{name}_{100000 + i}_assignsubmission_file_"
            archive.writestr(f"{folder}/{FILE_NAMES[i % len(FILE_NAMES)]}", submission(released, source, i))
    common = ["--course", str(course)]
    assert main(["collect", TINY_LAB, str(moodle), *common]) == 0
    assert main(["autograde", TINY_LAB, *common, "--workers", "2", "--quiet"]) == 0
    assert main(["feedback", TINY_LAB, *common]) == 0
    assert main(["export", TINY_LAB, *common]) == 0
    printed = capsys.readouterr().out

    results = {}
    for path in (course / "results" / TINY_LAB).glob("*.json"):
        result = json.loads(path.read_text(encoding="utf-8"))
        results[result["student"]] = result
    assert len(results) == len(NAMES), printed
    totals = sorted(sum(t["points"] for t in r["tests"]) for r in results.values())
    wrong = sum(1 for i in range(len(NAMES)) if i % 3 == 0)
    assert totals == [1.0] * wrong + [3.0] * (len(NAMES) - wrong), printed
    assert not any(r.get("problem") for r in results.values())

    with open(course / "grades.csv", encoding="utf-8", newline="") as f:
        rows = [row for row in csv.DictReader(f) if row["assignment"] == TINY_LAB]
    assert len(rows) == len(NAMES) and {row["student_id"] for row in rows} == set(results)
    for student in results:
        pages = list((course / "feedback" / student / TINY_LAB).glob("*.html"))
        assert len(pages) == 2, (student, pages)        # nbgrader's notebook page and our results page
        for page in pages:
            page.read_bytes().decode("utf-8")            # valid UTF-8: no lone surrogate got through
    for path in (course / "exports" / TINY_LAB).rglob("*"):
        if path.is_file() and path.suffix in (".csv", ".json", ".html"):
            path.read_bytes().decode("utf-8")
    ids = set(results)
    assert len({sid for sid in ids if "zo" in sid.lower()}) == 2        # Zoë and Zoé stay two students


@pytest.fixture(autouse=True)
def _quiet_tqdm(monkeypatch):
    monkeypatch.setenv("TQDM_DISABLE", "1")
