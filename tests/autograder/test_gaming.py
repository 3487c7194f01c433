"""A notebook with no code of its own cannot score on a real lab (Lab 1, through the whole pipeline).

Before the static rules and the emit-first hidden tests, a Lab 1 notebook whose every solution
just called the notebook's own oracles scored 25/25, and zero stubs scored 22/25 by rebinding
``check_close`` to copy the expected array into the student's. Both are graded here with
release → autograde → feedback, under bubblewrap where it works, beside the reference, and
beside an honest notebook whose one bug, in its first part, must cost that part and nothing that
is right (its later parts run the wrong step and are graded with the tests' own, where they can be).
"""
from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from autograder.course import release_notebook, source_notebook
from autograder.pipeline import autograde
from autograder.release import release
from autograder.report import feedback
from autograder.sandbox import Limits
from autograder.submissions import fill_solutions

LAB = "01_rnn"
REPO = Path(__file__).resolve().parents[2]

# Each part handed to the test's own oracle (its functions are defined by the time each test runs).
ORACLES = {
    "rnn_step_forward_code": "def rnn_step_forward(x, prev_h, Wx, Wh, b):\n"
                             "    return _test_rnn_cell(x, prev_h, Wx, Wh, b), (x, prev_h, Wx, Wh, b)",
    "rnn_step_backward_code": "def rnn_step_backward(dnext_h, cache):\n"
                              "    return tuple(_test_step_grads(*cache, dnext_h))",
    "rnn_forward_code": "def rnn_forward(x, h0, Wx, Wh, b):\n    return _test_rnn(x, h0, Wx, Wh, b), (x, h0, Wx, Wh, b)",
    "rnn_backward_code": "def rnn_backward(dh, cache):\n    return tuple(_test_rnn_grads(*cache, dh))",
    "temporal_affine_forward_code": "def temporal_affine_forward(x, w, b):\n"
                                    "    return _test_affine(x, w, b), (x, w, b)",
    "temporal_affine_backward_code": "def temporal_affine_backward(dout, cache):\n"
                                     "    return tuple(_test_affine_grads(*cache, dout))",
    "temporal_softmax_loss_code": "def temporal_softmax_loss(scores, y, mask):\n"
                                  "    return _test_cross_entropy(scores, y, mask)",
    "clip_grad_norm_code": "def clip_grad_norm(grads, max_norm):\n    return _test_clip(grads, max_norm)",
    "sample_code": "def sample(params, max_len, temperature, rng):\n"
                   "    return list(_test_draw(params, max_len, temperature, 1, int(rng.integers(1 << 30)))[0])",
}
# Zero stubs, and check_close rebound so that every visible check copies the expected values in.
COPY_EXPECTED = ("import numpy as np\n\n"
                 "def check_close(name, actual, expected, **kw):\n"
                 "    np.copyto(np.asarray(actual), expected, casting='unsafe')\n\n")
STUBS = {
    "rnn_step_forward_code": COPY_EXPECTED + "def rnn_step_forward(x, prev_h, Wx, Wh, b):\n"
                             "    return np.zeros((x.shape[0], Wx.shape[1])), (x, prev_h, Wx, Wh, b)",
    "rnn_forward_code": "def rnn_forward(x, h0, Wx, Wh, b):\n"
                        "    return np.zeros((x.shape[0], x.shape[1], Wx.shape[1])), None",
    "temporal_affine_forward_code": "def temporal_affine_forward(x, w, b):\n"
                                    "    return np.zeros((x.shape[0], x.shape[1], w.shape[1])), None",
}

# The reference everywhere but a step forward without the bias.
ONE_BUG = {"rnn_step_forward_code": "import numpy as np\n\ndef rnn_step_forward(x, prev_h, Wx, Wh, b):\n"
                                    "    next_h = np.tanh(x @ Wx + prev_h @ Wh)\n"
                                    "    return next_h, (x, prev_h, Wx, Wh, next_h)"}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    course = tmp_path_factory.mktemp("gaming") / "course"
    release(LAB, course, repo=REPO)
    released = nbformat.read(str(release_notebook(course, LAB)), as_version=4)
    source = nbformat.read(str(source_notebook(REPO, LAB)), as_version=4)
    for student, overrides in {"reference": {}, "oracles": ORACLES, "copy_expected": STUBS,
                                "one_bug": ONE_BUG}.items():
        folder = course / "submitted" / student / LAB
        folder.mkdir(parents=True)
        nbformat.write(fill_solutions(released, source, overrides), str(folder / f"{LAB}.ipynb"))
    results = {r.student: r for r in autograde(course, LAB, workers=2, progress=False,
                                               limits=Limits(cell_seconds=120, notebook_seconds=900))}
    return course, results


def test_calling_the_oracles_scores_nothing(graded):
    """Does a notebook whose every part calls the test's own oracle get 0, each part saying why?"""
    _, results = graded
    oracles = results["oracles"]
    parts = [t for t in oracles.tests if not t.name.startswith("q_")]   # its questions hold the model answers
    assert sum(t.points for t in parts) == 0, [(t.name, t.status, t.message[:200]) for t in parts]
    assert {t.status for t in parts} == {"forbidden"}
    step = next(t for t in oracles.tests if t.name == "rnn_step_forward")
    assert "rnn_step_forward calls _test_rnn_cell, a test helper" in step.message


def test_copying_the_expected_values_into_the_answer_scores_nothing(graded):
    """Do zero stubs earn nothing when check_close is rebound to copy the expected array in?"""
    _, results = graded
    by_name = {t.name: t for t in results["copy_expected"].tests}
    for part in ("rnn_step_forward", "rnn_forward", "temporal_affine_forward"):
        assert by_name[part].points == 0, (part, by_name[part].status, by_name[part].message[:200])


def test_reference_scores_full_marks_beside_them(graded):
    """Does the reference, graded in the same run, keep every point?"""
    _, results = graded
    reference = results["reference"]
    auto = [t for t in reference.tests if t.status != "needs_grading"]   # written answers wait for a TA
    assert all(t.passed for t in auto), [(t.name, t.status) for t in auto if not t.passed]
    assert reference.score == sum(t.max_points for t in auto) >= 25


def test_feedback_names_the_rule_not_the_hidden_values(graded):
    """Does the oracle notebook's feedback page say which rule was broken, without hidden sources?"""
    course, _ = graded
    page = next(p for p in feedback(course, LAB, "oracles") if p.name == f"{LAB}.html").read_text()
    assert "a test helper" in page and "BEGIN HIDDEN TESTS" not in page


def test_one_bug_costs_its_part_and_the_parts_that_cannot_be_isolated_from_it(graded):
    """Does a wrong rnn_step_forward cost its own points and rnn_step_backward's (whose cache it makes,
    blamed by name), while rnn_forward and rnn_backward, which call it, earn theirs on their hidden cases?"""
    _, results = graded
    by_name = {t.name: t for t in results["one_bug"].tests}
    assert by_name["rnn_step_forward"].points == 0
    assert by_name["rnn_step_backward"].points == 0
    assert "rnn_step_backward can't be checked until rnn_step_forward (Part 1) passes" in by_name["rnn_step_backward"].message
    for part in ("rnn_forward", "rnn_backward"):
        assert by_name[part].status == "passed", (part, by_name[part].message[:300])
        assert "the tests' own rnn_step_forward" in by_name[part].message
    auto = sum(t.max_points for t in results["one_bug"].tests if t.status != "needs_grading")
    assert results["one_bug"].score == auto - 2 - 3


def test_one_bug_feedback_shows_the_blame_and_no_hidden_check_message(graded):
    """Does the feedback page show the blame the visible test raised, and only the name of the error
    the hidden tests raised after it (its message holds values of unseen inputs)?"""
    course, _ = graded
    page = next(p for p in feedback(course, LAB, "one_bug") if p.name == f"{LAB}.html").read_text()
    assert "rnn_step_backward can&#39;t be checked until rnn_step_forward (Part 1) passes" in page \
        or "rnn_step_backward can't be checked until rnn_step_forward (Part 1) passes" in page
    assert "raised in a hidden test" in page and "BEGIN HIDDEN TESTS" not in page
