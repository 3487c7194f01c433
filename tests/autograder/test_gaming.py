"""A notebook with no code of its own cannot score on a real lab (Lab 1, through the whole pipeline).

Before the static rules and the emit-first hidden tests, a Lab 1 notebook whose every solution
just called the notebook's own oracles scored 25/25, and zero stubs scored 22/25 by rebinding
``check_close`` to copy the expected array into the student's. Both are graded here with
release → autograde → feedback, under bubblewrap where it works, beside the reference.
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


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    course = tmp_path_factory.mktemp("gaming") / "course"
    release(LAB, course, repo=REPO)
    released = nbformat.read(str(release_notebook(course, LAB)), as_version=4)
    source = nbformat.read(str(source_notebook(REPO, LAB)), as_version=4)
    for student, overrides in {"reference": {}, "oracles": ORACLES, "copy_expected": STUBS}.items():
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
    assert oracles.score == 0, [(t.name, t.status, t.message[:200]) for t in oracles.tests]
    assert {t.status for t in oracles.tests} == {"forbidden"}
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
    assert results["reference"].score == results["reference"].max_score == 25


def test_feedback_names_the_rule_not_the_hidden_values(graded):
    """Does the oracle notebook's feedback page say which rule was broken, without hidden sources?"""
    course, _ = graded
    page = next(p for p in feedback(course, LAB, "oracles") if p.name == f"{LAB}.html").read_text()
    assert "a test helper" in page and "BEGIN HIDDEN TESTS" not in page
