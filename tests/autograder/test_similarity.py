"""Tests of the similarity report (autograder/similarity.py, similarity_report.py), without a kernel.

The synthetic classes (``synthetic_class.py``) are built from the mutation suite's correct
implementations, plus disguised copies; notebooks are written, never run.
"""
from __future__ import annotations

import json
import subprocess
import sys
from html.parser import HTMLParser

import nbformat
import pytest

import synthetic_class as sc
from autograder.cli import main
from autograder.course import GradingError
from autograder.pages import CSP_META
from autograder.release import write_notebook
from autograder.similarity import code_tokens, similarity
from autograder.similarity_report import write_report

LABS = ("01_rnn", "02_lstm_gru")


def symbols(code: str) -> list:
    return [t.symbol for t in code_tokens(code)]


@pytest.fixture(scope="module", params=LABS)
def synthetic(request, tmp_path_factory):
    """(course, lab, students): independent students and a disguised copy of every other one."""
    lab = request.param
    students = sc.independent_students(lab)
    students = sc.with_copies(lab, students, list(students)[::2])
    course = tmp_path_factory.mktemp(f"similar-{lab}")
    sc.write_class(course, lab, students)
    return course, lab, students


def test_every_copy_pair_ranks_above_every_independent_pair(synthetic):
    """Does every disguised copy score above every pair of students who worked independently?"""
    course, lab, students = synthetic
    result = similarity(course, lab)
    copies = [p for p in result.code.pairs if sc.is_copy_pair(p.a, p.b)]
    independent = [p for p in result.code.pairs if not sc.is_copy_pair(p.a, p.b)]
    assert len(copies) == sum(s.startswith(sc.COPY) for s in students) and not result.skipped
    lowest, highest = min(copies, key=lambda p: p.score), max(independent, key=lambda p: p.score)
    figures = (f"{lab}: {len(students)} submissions, {len(copies)} copy pairs, {len(independent)} independent "
               f"pairs; lowest copy {lowest.score:.3f} ({lowest.a}, {lowest.b}), highest independent "
               f"{highest.score:.3f} ({highest.a}, {highest.b}), separation {lowest.score - highest.score:+.3f}")
    print(figures)
    assert lowest.score > highest.score, figures
    assert {(p.a, p.b) for p in result.code.pairs[:len(copies)]} == {(p.a, p.b) for p in copies}, figures


def test_renaming_comments_and_layout_do_not_change_the_tokens():
    """Do renamed names, new comments, a docstring and another layout leave the normalised tokens as they were?"""
    original = "def step(x, Wx, b):\n    a = np.tanh(x @ Wx + b)  # forward\n    return a, (x, a)\n"
    disguised = ('def move(inp, weights, bias):\n    """One step."""\n    # the pre-activation, squashed\n'
                 "    out = np.tanh(inp@weights+bias)\n\n    return out, (inp,\n                 out)\n")
    assert symbols(original) == symbols(disguised)
    assert symbols(original)[:3] == ["def", "V", "("]


def test_attributes_builtins_and_keyword_arguments_stay_as_written():
    """Are the names a renaming cannot touch (attributes, builtins, keyword arguments of a call) kept, and self's members not?"""
    tokens = symbols("y = x.sum(axis=0, keepdims=True) + len(self.hidden) + self.fc.weight\n"
                     "def f(a, scale=2.0):\n    return 'text' + \"more\"\n")
    assert tokens[:11] == ["V", "=", "V", ".", "sum", "(", "axis", "=", "0", ",", "keepdims"]
    assert tokens[14:27] == ["+", "len", "(", "self", ".", "V", ")", "+", "self", ".", "V", ".", "weight"]
    assert "scale" not in tokens and tokens[-4:] == ["return", "S", "+", "S"], tokens


def test_starter_alone_scores_nothing(tmp_path):
    """Does a submission that is only the starter notebook (with its tests pasted again) share nothing with a full one?"""
    lab = "01_rnn"
    students = sc.independent_students(lab)
    first = next(iter(students))
    sc.write_class(tmp_path, lab, {first: students[first]})
    starter = sc.released(lab)
    pasted = [nbformat.v4.new_code_cell(c.source) for c in starter.cells if c.cell_type == "code"]
    starter.cells += pasted      # the student copied every test cell of the notebook to try things
    write_notebook(starter, tmp_path / "submitted" / "blank" / lab / f"{lab}.ipynb")
    result = similarity(tmp_path, lab)
    (pair,) = result.code.pairs
    assert (pair.score, pair.a_matched, pair.b_matched) == (0.0, 0, 0), pair
    assert result.code.fingerprinted["blank"] == 0


def test_a_partial_copy_is_found_and_a_near_empty_notebook_is_not_flagged(tmp_path):
    """Does a student who copied three parts (and left the rest) rank first, and one who wrote a single
    short part, the same as another's, rank below the honest pairs?"""
    lab = "01_rnn"
    students = sc.independent_students(lab)
    stubs = {gid: c.source for gid, c in sc.solution_cells(sc.released(lab)).items() if c.cell_type == "code"}
    copied = ["rnn_backward_code", "temporal_softmax_loss_code", "sample_code"]
    partial = {**stubs, **{gid: students["s00"][gid] for gid in copied}}
    tiny = {**stubs, "rnn_step_forward_code": students["s01"]["rnn_step_forward_code"]}
    sc.write_class(tmp_path, lab, {**students, "partial": partial, "tiny": tiny})
    result = similarity(tmp_path, lab)
    best = result.code.pairs[0]
    assert (best.a, best.b) == ("partial", "s00") and best.a_share > 0.95 and best.b_share < 0.6, best
    assert best.score >= result.threshold
    tiny_best = max((p for p in result.code.pairs if "tiny" in (p.a, p.b)), key=lambda p: p.score)
    honest = max(p.score for p in result.code.pairs if p.a in students and p.b in students)
    # all of tiny's code is in s01's, yet it ranks below every honest pair's best
    assert max(tiny_best.a_share, tiny_best.b_share) > 0.9 and tiny_best.score < min(honest, result.threshold), tiny_best


PAYLOAD = "</pre></td><script>window.__pwned=1</script><img src=x onerror=\"window.__pwned=2\">"
HOSTILE_ANSWER = f"My answer. {PAYLOAD} " * 3


def _hostile(lab: str, answers: dict) -> nbformat.NotebookNode:
    """A submission carrying ``PAYLOAD`` in a solution cell, in an added cell, in outputs and in a written answer."""
    nb = sc.released(lab)
    source = nbformat.read(str(sc.REPO / "solutions" / f"{lab}.ipynb"), as_version=4)
    gid = next(iter(answers))
    nb = sc.fill_solutions(nb, source, {**answers, gid: f"NOTE = {PAYLOAD!r}\n" + answers[gid]})
    cell = nbformat.v4.new_code_cell(f"# {PAYLOAD}\nprint({PAYLOAD!r})")
    cell.outputs = [nbformat.v4.new_output("display_data", data={"text/html": PAYLOAD}),
                    nbformat.v4.new_output("stream", text=PAYLOAD)]
    nb.cells.append(cell)
    for c in nb.cells:
        if c.cell_type == "markdown" and c.metadata.get("nbgrader", {}).get("solution"):
            c.source = HOSTILE_ANSWER
    return nb


def _elements(page: str) -> list:
    """(tag, attributes) of every element a browser would build from ``page``."""
    found = []

    class Collect(HTMLParser):
        def handle_starttag(self, tag, attrs):
            found.append((tag, attrs))

    Collect().feed(page)
    return found


def test_hostile_submissions_leave_the_report_whole_and_inert(tmp_path):
    """Do a script in sources and outputs, a broken JSON file and a huge cell leave a report of the others, with no live script?"""
    lab = "01_rnn"
    students = sc.independent_students(lab)
    sc.write_class(tmp_path, lab, sc.with_copies(lab, students, ["s00"]), {"s02": {"q_shared_weights": HOSTILE_ANSWER}})
    folder = tmp_path / "submitted"
    write_notebook(_hostile(lab, students["s01"]), folder / "mallory" / lab / f"{lab}.ipynb")
    (folder / "broken" / lab).mkdir(parents=True)
    (folder / "broken" / lab / f"{lab}.ipynb").write_text('{"cells": [{"cell_type": "code", "source": "x = ')
    huge = dict(students["s02"], rnn_step_forward_code="x = 1\n" * 400_000 + students["s02"]["rnn_step_forward_code"])
    sc.write_class(tmp_path, lab, {"huge": huge})
    result = similarity(tmp_path, lab)
    index = write_report(result, tmp_path / "similarity" / lab)

    assert set(result.skipped) == {"broken"} and "truncated" in result.skipped["broken"]
    assert (result.written.pairs[0].a, result.written.pairs[0].b) == ("mallory", "s02")
    assert "only its first 50,000 characters" in result.code.documents["huge"].note
    # neither the payload nor the flood hid a copy: mallory handed in s01's code, huge s02's
    top = {(p.a, p.b) for p in result.code.pairs[:3]}
    assert top == {("copy_of_s00", "s00"), ("mallory", "s01"), ("huge", "s02")}, result.code.pairs[:4]
    pages = sorted(index.parent.glob("*.html"))
    assert len(pages) > 2
    for path in pages:
        text = path.read_text(encoding="utf-8")
        assert CSP_META in text, path.name
        live = [(tag, attrs) for tag, attrs in _elements(text) if tag in ("script", "iframe", "object", "embed")
                or any(name.startswith("on") for name, _ in attrs) or (tag == "img" and attrs != [("src", "scores.png"),
                                                                                             ("alt", attrs[-1][1])])]
        assert not live, f"{path.name} holds live student markup: {live}"
    shown = "".join(p.read_text(encoding="utf-8") for p in pages)
    assert "&lt;script&gt;window.__pwned=1&lt;/script&gt;" in shown and "&lt;/pre&gt;" in shown
    assert "broken" in index.read_text(encoding="utf-8")


def test_written_answers_are_compared_apart_from_code(tmp_path):
    """Are two students' shared written paragraph flagged in the written comparison, and the question they both quote not?"""
    lab = "01_rnn"
    students = sc.independent_students(lab)
    question = next(c.source for c in sc.released(lab).cells if c.metadata.get("nbgrader", {}).get("grade_id")
                    == "q_shared_weights_md")
    shared = ("The same weights are applied at every time step, so the number of parameters does not grow "
              "with the length of the sequence and what is learnt at one position carries to the others.")
    own = ["Sharing the matrices means one set of parameters serves all positions; a longer input costs more "
           "compute but never more weights.", "Because Wx and Wh are reused, gradients from all steps add up "
           "in one place, which is why BPTT sums over time."]
    written = {"s00": {"q_shared_weights": question + "\n\n" + shared},
               "s01": {"q_shared_weights": question + "\n\n" + shared.upper().replace(",", " ;")},
               "s02": {"q_shared_weights": question + "\n\n" + own[0]},
               "s03": {"q_shared_weights": question + "\n\n" + own[1]}}
    sc.write_class(tmp_path, lab, students, written)
    result = similarity(tmp_path, lab)
    best = result.written.pairs[0]
    assert (best.a, best.b) == ("s00", "s01") and best.score > 0.9, best
    assert all(p.score == 0 for p in result.written.pairs[1:]), result.written.pairs


def test_cli_prints_the_top_pairs_and_the_report(synthetic, capsys):
    """Does `seqlab-grade similarity` print the best pairs, the flagged count and where the report is?"""
    course, lab, students = synthetic
    assert main(["similarity", lab, "--course", str(course), "--top", "3", "--threshold", "0.7"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].startswith(f"{lab}: {len(students)} submissions")
    assert sc.COPY in lines[1] and lines[-1] == f"report: {course.resolve()}/similarity/{lab}/index.html"
    index = (course / "similarity" / lab / "index.html").read_text(encoding="utf-8")
    assert "scores.png" in index and (course / "similarity" / lab / "scores.png").stat().st_size > 0
    assert "pair-001.html" in index


def test_nothing_to_compare_says_what_to_do(tmp_path, capsys):
    """Does a course with one readable submission give a message that says what to run?"""
    lab = "01_rnn"
    students = sc.independent_students(lab)
    sc.write_class(tmp_path, lab, {"s00": students["s00"]})
    with pytest.raises(GradingError, match="seqlab-grade collect"):
        similarity(tmp_path, lab)
    assert main(["similarity", lab, "--course", str(tmp_path)]) == 1
    assert "nothing to compare" in capsys.readouterr().err


def test_import_needs_no_copydetect():
    """Does importing the module leave copydetect unimported (it is only needed when a report is made)?"""
    code = "import sys, autograder.similarity, autograder.similarity_report; print(json.dumps('copydetect' in sys.modules))"
    out = subprocess.run([sys.executable, "-c", "import json; " + code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) is False
