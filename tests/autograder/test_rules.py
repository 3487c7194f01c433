"""autograder.rules: which parts of a submission break the lab's static rules, read outside the kernel."""
from __future__ import annotations

import pytest
from nbformat.v4 import new_code_cell

from autograder.rules import RuleError, declarations, violations
from labfactory import grade_cell, plain_cell, solution_cell

SETUP = plain_cell("setup", "import numpy as np\nimport torch\nfrom seqlab import check_close, check_rules")
SETUP.metadata["nbgrader"] = {"grade": False, "locked": True, "solution": False, "grade_id": "setup"}
TEST_F = grade_cell("f", "def _test_oracle(x):\n    return torch.tanh(torch.tensor(x)).numpy()\n\n\n"
                         "check_rules(f, forbid=('torch',))\ncheck_close('f', f(np.ones(2)), _test_oracle(np.ones(2)))", 2)
TEST_G = grade_cell("g", "check_rules(g)\nassert g(1) == 2", 1)


def lab(f_code, g_code="def g(x):\n    return x + 1", *added):
    """setup, f's solution and test, then g's; ``added`` are (position, source) student cells."""
    cells = [SETUP, solution_cell("f_code", f_code), TEST_F, solution_cell("g_code", g_code), TEST_G]
    for position, source in sorted(added, reverse=True):
        cells.insert(position, new_code_cell(source))
    return cells


def broken(cells, template=None):
    return {gid: v.rule for gid, v in violations(cells, template).items()}


def test_an_honest_submission_breaks_nothing():
    """Do correct parts, a re-import of numpy and an added cell of the student's own break no rule?"""
    assert broken(lab("import numpy as np\ndef f(x):\n    return np.tanh(x)", "def g(x):\n    return x + 1",
                      (3, "print(np.ones(2))"))) == {}


@pytest.mark.parametrize("f_code, rule", [
    ("def f(x):\n    return _test_oracle(x)", "test helper"),
    ("def f(x):\n    return torch.tanh(torch.tensor(x)).numpy()", "forbidden"),
    ("def f(x):\n    return helper(x)\ndef helper(x):\n    return _test_oracle(x)", "test helper"),
    ("from torch import tanh\ndef f(x):\n    return tanh(x)", "forbidden"),
    ("f = lambda x: _test_oracle(x)", "test helper"),
])
def test_a_part_that_calls_the_oracle_or_a_shortcut_loses_only_itself(f_code, rule):
    """Is the oracle or the forbidden module found in f's code, and g untouched?"""
    assert broken(lab(f_code)) == {"f": rule}


def test_a_helper_in_another_cell_is_followed():
    """Is a forbidden call moved into a helper defined in g's cell (before f's test) still f's?"""
    cells = lab("def f(x):\n    return helper(x)", "def g(x):\n    return x + 1")
    cells.insert(1, new_code_cell("def helper(x):\n    return torch.tanh(torch.tensor(x)).numpy()"))
    assert broken(cells) == {"f": "forbidden"}


def test_a_trick_outside_the_parts_costs_every_later_part():
    """Does an AST transformer or a use of the oracle in an added cell cost the parts tested after it?"""
    hook = "get_ipython().ast_transformers.append(object())"
    assert broken(lab("def f(x):\n    return np.tanh(x)", "def g(x):\n    return x + 1", (3, hook))) == {"g": "dynamic code"}
    assert broken(lab("def f(x):\n    return np.tanh(x)", "def g(x):\n    return x + 1", (0, hook))) == \
        {"f": "dynamic code", "g": "dynamic code"}


def test_patching_outside_a_part_costs_nothing():
    """Is rebinding check_close in a cell of its own left to the emitted cases (it cannot raise a score)?"""
    assert broken(lab("def f(x):\n    return np.tanh(x)", "def g(x):\n    return x + 1",
                      (3, "check_close = lambda *a, **k: None"))) == {}


def test_the_release_setup_cell_is_not_the_students():
    """Is a template cell without nbgrader metadata (the Colab setup cell) left out of the check?"""
    colab = new_code_cell("import sys\nif 'google.colab' in sys.modules:\n    pass")
    cells = lab("def f(x):\n    return np.tanh(x)")
    cells.insert(0, colab)
    assert broken(cells) == {"f": "introspection", "g": "introspection"}
    assert broken(cells, template=[colab]) == {}


def test_declarations_must_be_literal():
    """Does a forbid list that is not a literal tuple of strings stop the release with a message?"""
    assert declarations(lab("def f(x):\n    return x"))["f"].forbid == ("torch",)
    with pytest.raises(RuleError, match="literal tuple"):
        declarations([grade_cell("h", "check_rules(h, forbid=FORBIDDEN)", 1)])
