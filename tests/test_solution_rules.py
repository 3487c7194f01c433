"""seqlab.rules: what a graded solution may not use, found on its source code."""
from __future__ import annotations

import textwrap

import numpy as np
import pytest

from seqlab.checks import CheckFailed
from seqlab.rules import check_rules, find_violations

ALIASES = {"np": "numpy", "torch": "torch", "F": "torch.nn.functional", "nn": "torch.nn",
           "check_close": "seqlab.check_close", "sys": "sys", "pickle": "pickle"}


def rules(source, forbid=(), tests=("_test_oracle",), protected=("check_close", "np", "torch")):
    return [(v.rule, v.what) for v in find_violations(textwrap.dedent(source), resolve=ALIASES.get,
                                                      test_names=tests, protected=protected, forbid=forbid)]


@pytest.mark.parametrize("source, found", [
    ("def f(x):\n    return _test_oracle(x)", ("test helper", "_test_oracle")),
    ("def f(x):\n    return torch.tanh(x)", ("forbidden", "torch.tanh")),
    ("def f(x):\n    return F.scaled_dot_product_attention(x, x, x)", ("forbidden", "F.scaled_dot_product_attention")),
    ("def f(x):\n    from torch.nn.functional import scaled_dot_product_attention as s\n    return s(x, x, x)",
     ("forbidden", "torch.nn.functional.scaled_dot_product_attention")),
    ("def f(x):\n    import torch as t\n    return t.ones(1)", ("forbidden", "torch")),
    ("def f(x):\n    return globals()['_test_' + 'oracle'](x)", ("dynamic code", "globals")),
    ("def f(x):\n    return eval('1')", ("dynamic code", "eval")),
    ("def f(x):\n    return sys._getframe().f_back.f_globals['o'](x)", ("introspection", "sys._getframe")),
    ("def f(x):\n    return f.__globals__['o'](x)", ("introspection", "__globals__")),
    ("def f(x):\n    return pickle.loads(b'')", ("introspection", "pickle.loads")),
    ("def f(x):\n    return getattr(np, name)(x)", ("dynamic code", "getattr")),
    ("def f(x):\n    return '{0.__globals__}'.format(f)", ("introspection", "__globals__")),
    ("check_close = lambda *a, **k: None", ("patching", "check_close")),
    ("def f(x):\n    np.tanh = abs\n    return x", ("patching", "np.tanh")),
    ("def f(x):\n    global check_close\n    return x", ("patching", "check_close")),
    ("%config InteractiveShell.ast_node_interactivity = 'all'", ("dynamic code", "%config InteractiveShell.ast_node_interactivity = 'all'")),
])
def test_each_family_of_shortcut_is_found(source, found):
    """Is each way of reaching the oracle, a forbidden shortcut or the tests' helpers reported?"""
    assert found in rules(source, forbid=("torch",))


@pytest.mark.parametrize("source", [
    "import numpy as np\ndef f(x, W):\n    return np.tanh(x @ W)",
    "def f(x, W):\n    out = np.zeros((x.shape[0], W.shape[1]))\n    for i in range(x.shape[0]):\n"
    "        for j in range(W.shape[1]):\n            out[i, j] = sum(x[i, k] * W[k, j] for k in range(W.shape[0]))\n"
    "    return np.tanh(out)",
    "def f(x, W):\n    return np.tanh(np.einsum('nd,dh->nh', x.astype(np.float32), W))",
    "def helper(a):\n    return a\ndef f(x):\n    oracle = helper\n    return oracle(x)",
    "def f(x):\n    _test_oracle = lambda a: a  # the student's own name, shadowing the test's\n    return _test_oracle(x)",
    "def f(x):\n    '''Like the oracle, but mine.'''\n    return getattr(x, 'T')",
    "%matplotlib inline\ndef f(x):\n    return x",
    "import sys\ndef f(x):\n    print(x, file=sys.stderr)\n    return x",
])
def test_correct_code_written_another_way_is_not_flagged(source):
    """Do loops, einsum, float32, the student's own helpers and harmless imports pass the rules?"""
    assert rules(source, forbid=("torch",)) == []


def test_forbid_is_a_dotted_prefix_not_a_substring():
    """Does forbidding torch.nn.MultiheadAttention leave torch.nn.Linear and torch.softmax alone?"""
    source = "def f(x):\n    return torch.softmax(nn.Linear(2, 2)(x), -1) + F.linear(x, x)"
    assert rules(source, forbid=("torch.nn.MultiheadAttention", "torch.nn.functional.scaled_dot_product_attention")) == []
    assert rules("def f(x):\n    return nn.MultiheadAttention(2, 1)(x, x, x)",
                 forbid=("torch.nn.MultiheadAttention",)) == [("forbidden", "nn.MultiheadAttention")]


def test_reimporting_what_the_setup_imports_is_not_patching():
    """Is `import numpy as np` at the top of a solution cell fine, and `import torch as np` not?"""
    assert rules("import numpy as np") == []
    assert ("patching", "np") in rules("import torch as np")


def test_check_rules_tells_the_student_in_the_kernel():
    """Does the visible-test helper raise CheckFailed naming the test helper and the line?"""
    namespace = {"np": np, "_test_oracle": lambda x: x}
    source = "def f(x):\n    return _test_oracle(x)\n"
    import linecache
    linecache.cache["<rules-test>"] = (len(source), None, source.splitlines(True), "<rules-test>")
    exec(compile(source, "<rules-test>", "exec"), namespace)
    with pytest.raises(CheckFailed, match=r"f calls _test_oracle, a test helper.*line 2 of f"):
        check_rules(namespace["f"])
    good = "def g(x):\n    return np.tanh(x)\n"
    linecache.cache["<rules-good>"] = (len(good), None, good.splitlines(True), "<rules-good>")
    exec(compile(good, "<rules-good>", "exec"), namespace)
    check_rules(namespace["g"], forbid=("torch",))
    with pytest.raises(CheckFailed, match="numpy.tanh"):
        check_rules(namespace["g"], forbid=("numpy.tanh",))


def _define(namespace, source, filename):
    import linecache
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    exec(compile(source, filename, "exec"), namespace)


def test_check_rules_reads_a_class_and_the_students_own_helpers():
    """Are a notebook class's methods, and a helper of the student's that a function calls, checked too?"""
    namespace = {"__name__": "__main__", "np": np, "_test_oracle": lambda x: x}
    _define(namespace, "class Model:\n    def forward(self, x):\n        return _test_oracle(x)\n", "<rules-class>")
    with pytest.raises(CheckFailed, match="Model.forward calls _test_oracle"):
        check_rules(namespace["Model"])
    _define(namespace, "def helper(x):\n    return np.tanh(x)\ndef f(x):\n    return helper(x)\n", "<rules-helper>")
    check_rules(namespace["f"])
    with pytest.raises(CheckFailed, match="helper uses np.tanh"):
        check_rules(namespace["f"], forbid=("numpy.tanh",))
