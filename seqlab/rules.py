"""What a graded solution may not use, checked on its source code (``ast``), never by running it.

A lab's test cells compute their expected values with oracles (``torch.nn.RNNCell``, numerical
gradients, brute force) that live in the notebook. A solution that just calls one of them, or that
reaches around the exercise with a shortcut the lab forbids (torch inside a numpy exercise,
``scipy.stats.spearmanr`` where Spearman is the exercise), earns nothing for that part. Two sets of
rules apply:

* **always**, in every cell a student wrote: no reference to a name only the tests define (the
  oracles and check helpers); no dynamic code or introspection that could reach them anyway
  (``eval``, ``exec``, ``globals()``, ``get_ipython``, frames, ``__globals__``, ``sys``,
  ``inspect``, pickling ...); no patching of what the tests use (rebinding ``check_close`` or
  ``np``, assigning to a module's attributes);
* **per part**, the dotted names the part declares with ``check_rules(fn, forbid=(...))`` in its
  test cell: any use of a forbidden module or function, however it was imported.

The same walker serves two callers. The autograder checks the submitted cells outside the kernel
(``autograder/rules.py``: that check is the guard, and the only one that affects a score); a
lab's visible test calls ``check_rules`` in the student's kernel so that the student reads the
same message before submitting. Names do not hide anything: the static check is what counts.
"""
from __future__ import annotations

import ast
import re
import inspect as _inspect
import textwrap
import types
from dataclasses import dataclass
from typing import Callable, Dict, Iterable, Iterator, List, Optional, Sequence, Set

__all__ = ["Violation", "find_violations", "check_rules", "ALWAYS_MODULES", "GRADING_MODULES", "ALWAYS_BUILTINS",
           "FORBIDDEN_ATTRIBUTES", "TEST_PREFIX"]

# Test helpers in the labs are named with this prefix, so that the student's kernel can tell them.
TEST_PREFIX = "_test_"

# Modules, and functions of modules, that reach into the interpreter: frames, the namespaces of
# other cells, the IPython shell, code by name (unpickling calls any global it names).
ALWAYS_MODULES = ("sys.modules", "sys._getframe", "sys._current_frames", "sys.settrace", "sys.setprofile",
                  "sys.meta_path", "sys.path_hooks", "sys.addaudithook", "sys.monitoring", "gc.get_objects",
                  "gc.get_referrers", "gc.get_referents", "inspect", "importlib", "builtins", "ctypes",
                  "IPython.get_ipython", "IPython.core", "IPython.terminal", "IPython.utils", "IPython.testing",
                  "IPython.extensions", "ipykernel", "__main__", "pickle", "marshal", "dill", "cloudpickle", "shelve",
                  "copyreg", "runpy", "code", "codeop")
# The grading machinery itself: a part's code may not use it (elsewhere it can only lose cases).
GRADING_MODULES = ("seqlab.grading", "seqlab.rules")
# Builtins that run or look up code by name.
ALWAYS_BUILTINS = ("eval", "exec", "compile", "__import__", "globals", "locals", "vars", "breakpoint",
                   "get_ipython", "delattr")
# Attributes that lead from an object to the namespaces and frames around it.
FORBIDDEN_ATTRIBUTES = ("__globals__", "__builtins__", "__dict__", "__code__", "__closure__",
                        "__subclasses__", "__bases__", "__base__", "__mro__", "__getattribute__",
                        "__self__", "__func__", "__wrapped__", "__traceback__", "__reduce__",
                        "__reduce_ex__", "__loader__", "__spec__", "__import__", "__kwdefaults__",
                        "__defaults__", "f_back", "f_globals", "f_locals", "f_builtins", "f_code",
                        "tb_frame", "tb_next", "gi_frame", "cr_frame", "ag_frame", "co_consts")
# IPython magics a student may keep in a cell (they do not change how other cells run).
HARMLESS_MAGICS = ("%matplotlib", "%time", "%timeit", "%%time", "%%timeit", "%pip", "%load_ext autoreload",
                   "%autoreload")


@dataclass(frozen=True)
class Violation:
    """One use of something a solution may not use."""

    line: int        # line number in the checked source (1-based)
    what: str        # the name as written, e.g. "F.scaled_dot_product_attention"
    rule: str        # "test helper", "forbidden", "dynamic code", "introspection", "import" or "patching"
    message: str     # one sentence for the student

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


def _matches(path: str, prefixes: Iterable[str]) -> Optional[str]:
    for prefix in prefixes:
        if path == prefix or path.startswith(prefix + "."):
            return prefix
    return None


def strip_magics(source: str) -> tuple:
    """(source with IPython magics and shell escapes blanked, [(line, magic) that are not harmless])."""
    lines, odd = [], []
    for number, line in enumerate(source.splitlines(), 1):
        stripped = line.strip()
        if stripped.startswith(("%", "!")):
            if not stripped.startswith(HARMLESS_MAGICS):
                odd.append((number, stripped[:60]))
            line = ""
        lines.append(line)
    return "\n".join(lines), odd


def _bound(node: ast.AST) -> Set[str]:
    """Names a function or module body binds in its own scope (not inside nested functions)."""
    names: Set[str] = set()

    def visit(n: ast.AST, top: bool) -> None:
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and not top:
            names.add(n.name)
            for d in n.decorator_list:
                visit(d, False)
            return
        if isinstance(n, ast.Lambda) and not top:
            return
        if isinstance(n, ast.Name) and isinstance(n.ctx, (ast.Store, ast.Del)):
            names.add(n.id)
        elif isinstance(n, (ast.Import, ast.ImportFrom)):
            for alias in n.names:
                names.add((alias.asname or alias.name).split(".")[0])
        elif isinstance(n, ast.ExceptHandler) and n.name:
            names.add(n.name)
        elif isinstance(n, ast.arg):
            names.add(n.arg)
        elif isinstance(n, (ast.MatchAs, ast.MatchStar)) and n.name:
            names.add(n.name)
        for child in ast.iter_child_nodes(n):
            visit(child, False)

    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
        for a in node.args.posonlyargs + node.args.args + node.args.kwonlyargs:
            names.add(a.arg)
        for a in (node.args.vararg, node.args.kwarg):
            if a is not None:
                names.add(a.arg)
        body = node.body if isinstance(node.body, list) else [node.body]
    else:
        body = getattr(node, "body", [])
    for stmt in body:
        visit(stmt, False)
    return names


def _dotted(node: ast.AST) -> Optional[List[str]]:
    """["F", "scaled_dot_product_attention"] for F.scaled_dot_product_attention; None otherwise."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        return [node.id] + parts[::-1]
    return None


class _Walker(ast.NodeVisitor):
    def __init__(self, resolve, test_names, protected, forbid, module_names, what):
        self.resolve = resolve            # name -> dotted path of what it refers to, or None
        self.test_names = test_names      # names only the tests define
        self.protected = protected        # names the tests use (imports, helpers): no rebinding
        self.forbid = tuple(forbid)
        self.module_names = module_names  # names bound at the top level of the student's cells
        self.what = what                  # how to name the checked code in messages
        self.scopes: List[Set[str]] = []
        self.found: List[Violation] = []
        self.globals_declared: Set[str] = set()

    def add(self, node, what, rule, message):
        self.found.append(Violation(getattr(node, "lineno", 0), what, rule, message))

    def local(self, name: str) -> bool:
        return any(name in scope for scope in self.scopes)

    # -- scopes -----------------------------------------------------------------------------
    def visit_FunctionDef(self, node):
        if not self.scopes and node.name in self.protected:
            self.add(node, node.name, "patching", f"{self.what} defines {node.name}, a name the tests "
                     "use: choose another name")
        for d in node.decorator_list:
            self.visit(d)
        for default in node.args.defaults + [d for d in node.args.kw_defaults if d is not None]:
            self.visit(default)
        self.scopes.append(_bound(node) - self._globals_in(node))
        for stmt in node.body:
            self.visit(stmt)
        self.scopes.pop()

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_Lambda(self, node):
        self.scopes.append(_bound(node))
        self.visit(node.body)
        self.scopes.pop()

    def visit_ClassDef(self, node):
        if not self.scopes and node.name in self.protected:
            self.add(node, node.name, "patching", f"{self.what} defines {node.name}, a name the tests "
                     "use: choose another name")
        for n in node.bases + node.keywords + node.decorator_list:
            self.visit(n)
        self.scopes.append(_bound(node))
        for stmt in node.body:
            self.visit(stmt)
        self.scopes.pop()

    def _globals_in(self, node) -> Set[str]:
        names = set()
        for n in ast.walk(node):
            if isinstance(n, ast.Global):
                names.update(n.names)
        return names

    # -- the rules ----------------------------------------------------------------------------
    def visit_Global(self, node):
        for name in node.names:
            if name in self.protected:
                self.add(node, name, "patching", f"{self.what} declares `global {name}` to rebind "
                         f"{name}, which the tests use: leave the tests' names alone")

    def visit_Name(self, node):
        name = node.id
        if isinstance(node.ctx, ast.Load):
            if self.local(name):
                return
            if name in self.test_names and name not in self.module_names:
                self.add(node, name, "test helper", f"{self.what} calls {name}, a test helper: write "
                         "the computation yourself")
                return
            if name in ALWAYS_BUILTINS and name not in self.module_names:
                self.add(node, name, "dynamic code", f"{self.what} uses {name}(), which graded code may "
                         "not use (it runs or looks up code by name)")
                return
            self.check_path(node, [name])
        elif not self.scopes and name in self.protected:   # rebinding at the top level of a cell
            self.add(node, name, "patching", f"{self.what} rebinds {name}, which the tests use: "
                     "choose another name")

    def visit_Attribute(self, node):
        if node.attr in FORBIDDEN_ATTRIBUTES:
            self.add(node, node.attr, "introspection", f"{self.what} reads .{node.attr}, which graded code "
                     "may not use (it reaches the namespaces and frames around the code)")
        parts = _dotted(node)
        if parts is not None and not self.local(parts[0]):
            if isinstance(node.ctx, (ast.Store, ast.Del)) and self._is_shared(parts[0]):
                self.add(node, ".".join(parts), "patching", f"{self.what} assigns to {'.'.join(parts)}: "
                         "graded code may not change modules or the tests' helpers")
            if self.check_path(node, parts):
                return
        self.generic_visit(node)

    def _is_shared(self, name: str) -> bool:
        return name in self.protected or name in self.test_names or self.resolve(name) is not None \
            and name not in self.module_names

    def check_path(self, node, parts: List[str]) -> bool:
        root = self.resolve(parts[0])
        if root is None:
            return False
        path = ".".join([root] + parts[1:])
        always = _matches(path, ALWAYS_MODULES)
        if always:
            self.add(node, ".".join(parts), "introspection", f"{self.what} uses {always}, which graded "
                     "code may not use (it reaches into the interpreter)")
            return True
        grading = _matches(path, GRADING_MODULES)
        if grading:
            self.add(node, ".".join(parts), "patching", f"{self.what} uses {grading}, the grader's own "
                     "machinery: graded code may not touch it")
            return True
        rule = _matches(path, self.forbid)
        if rule:
            self.add(node, ".".join(parts), "forbidden", f"{self.what} uses {'.'.join(parts)}"
                     f"{f' ({path})' if path != '.'.join(parts) else ''}, which this part forbids "
                     f"({rule}): write the computation yourself")
            return True
        return False

    def visit_Import(self, node):
        for alias in node.names:
            self.check_module(node, alias.name)
            bound = alias.asname or alias.name.split(".")[0]
            path = alias.name if alias.asname else bound
            self.check_rebind(node, bound, path)

    def visit_ImportFrom(self, node):
        module = "." * node.level + (node.module or "")
        for alias in node.names:
            full = f"{module}.{alias.name}" if alias.name != "*" else module
            self.check_module(node, full)
            self.check_rebind(node, alias.asname or alias.name, full)

    def check_rebind(self, node, bound: str, path: str) -> None:
        """Importing what the tests import, under the same name (``import numpy as np``) is fine."""
        if not self.scopes and bound in self.protected and self.resolve(bound) != path:
            self.add(node, bound, "patching", f"{self.what} rebinds {bound}, which the tests use: "
                     "choose another name")

    def check_module(self, node, path: str) -> None:
        always = _matches(path, ALWAYS_MODULES + GRADING_MODULES)
        if always:
            self.add(node, path, "import", f"{self.what} imports {path}, which graded code may "
                     "not use (it reaches into the interpreter)")
            return
        rule = _matches(path, self.forbid)
        if rule:
            self.add(node, path, "forbidden", f"{self.what} imports {path}, which this part forbids "
                     f"({rule}): write the computation yourself")

    def visit_Call(self, node):
        func = node.func
        if isinstance(func, ast.Name) and func.id in ("setattr", "getattr") and not self.local(func.id) \
                and func.id not in self.module_names and node.args:
            target = _dotted(node.args[0])
            attr = node.args[1] if len(node.args) > 1 else None
            shared = target is not None and not self.local(target[0]) and self._is_shared(target[0])
            if func.id == "setattr" and shared:
                self.add(node, "setattr", "patching", f"{self.what} calls setattr on {'.'.join(target)}: "
                         "graded code may not change modules or the tests' helpers")
            elif shared and not (isinstance(attr, ast.Constant) and isinstance(attr.value, str)):
                self.add(node, "getattr", "dynamic code", f"{self.what} looks up an attribute of "
                         f"{'.'.join(target)} by a computed name: name it directly")
            elif shared and isinstance(attr, ast.Constant):
                self.check_path(node, target + [attr.value])
        self.generic_visit(node)

    def visit_Constant(self, node):
        if isinstance(node.value, str):
            words = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", node.value))
            hits = [w for w in FORBIDDEN_ATTRIBUTES if w in words]
            hits += sorted(w for w in words & self.test_names if w.startswith("_") and w not in self.module_names)
            if hits:
                self.add(node, hits[0], "introspection", f"{self.what} spells out {hits[0]!r} in a string, "
                         "which graded code may not do")


def find_violations(source: str, *, resolve: Callable[[str], Optional[str]] = lambda name: None,
                    test_names: Iterable[str] = (), protected: Iterable[str] = (),
                    forbid: Sequence[str] = (), module_names: Iterable[str] = (),
                    what: str = "this code") -> List[Violation]:
    """Every rule ``source`` breaks (one Violation per place), in line order.

    Inputs:
    - resolve: maps a top-level name to the dotted path of what it refers to ("F" ->
      "torch.nn.functional"), or None for the student's own names and unknown ones.
    - test_names: names only the tests define; protected: names the tests use (never rebound);
    - forbid: dotted prefixes this part may not use ("torch", "scipy.stats.spearmanr");
    - module_names: names the student's own cells bind at the top level (theirs to use);
    - what: how messages name the code, e.g. "rnn_step_forward".
    A source that does not parse has no violations here (the kernel reports its SyntaxError).
    """
    source, magics = strip_magics(source)
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return []
    walker = _Walker(resolve, set(test_names), set(protected), forbid, set(module_names), what)
    walker.visit(tree)
    for line, magic in magics:
        walker.found.append(Violation(line, magic, "dynamic code", f"{what} runs the IPython command "
                                      f"{magic!r}, which graded notebooks may not use"))
    seen, unique = set(), []
    for v in sorted(walker.found, key=lambda v: v.line):
        if (v.line, v.what, v.rule) not in seen:
            seen.add((v.line, v.what, v.rule))
            unique.append(v)
    return unique


# --- in the student's kernel: the same message before submitting ------------------------------

def _kernel_resolver(namespace: Dict[str, object]) -> Callable[[str], Optional[str]]:
    def resolve(name: str) -> Optional[str]:
        if name not in namespace:
            return None
        value = namespace[name]
        if isinstance(value, types.ModuleType):
            return value.__name__
        if not isinstance(value, (types.FunctionType, types.BuiltinFunctionType, type)):
            return None     # an object, not something imported by name (IPython's own exit, say)
        module = getattr(value, "__module__", None)
        if isinstance(module, str) and module != "__main__":
            return f"{module}.{getattr(value, '__qualname__', name)}"
        return None
    return resolve


def _functions(obj) -> List[object]:
    """The functions whose source makes up ``obj``: itself, or a class's methods (a notebook class
    has no source file of its own that ``inspect`` can find; its methods do)."""
    if not isinstance(obj, type):
        return [obj]
    found = []
    for member in vars(obj).values():
        if isinstance(member, (staticmethod, classmethod)):
            member = member.__func__
        if isinstance(member, property):
            found += [f for f in (member.fget, member.fset, member.fdel) if f is not None]
        elif isinstance(member, types.FunctionType):
            found.append(member)
    return found


def check_rules(fn, forbid: Sequence[str] = ()) -> None:
    """Fail (CheckFailed) if ``fn``'s source calls a test helper, or uses what ``forbid`` names.

    ``fn`` is a function or a class (its methods are read). The student's own functions and
    classes that it uses are read too. Called at the top of a visible test, e.g.
    ``check_rules(rnn_step_forward, forbid=("torch",))``. The autograder applies the same rules to
    the submitted cells, outside the kernel, and that check is the one that counts; this one only
    tells the student early.
    """
    from .checks import CheckFailed

    name = getattr(fn, "__name__", str(fn))
    todo, seen = list(_functions(fn)), set()
    while todo:
        func = todo.pop(0)
        if id(func) in seen:
            continue
        seen.add(id(func))
        try:
            source = textwrap.dedent(_inspect.getsource(func))
        except (OSError, TypeError):
            continue   # no source to read (defined by exec, or a builtin): the grader reads the cells
        namespace = getattr(func, "__globals__", {})
        tests = {n for n in namespace if n.startswith(TEST_PREFIX)}
        what = getattr(func, "__qualname__", name)
        found = find_violations(source, resolve=_kernel_resolver(namespace), test_names=tests,
                                forbid=forbid, what=what)
        if found:
            raise CheckFailed(f"{found[0].message} (line {found[0].line} of {what}). The autograder gives "
                              "no points to a part that does this.")
        # the student's own functions and classes this one uses are part of it
        for used in {n.id for n in ast.walk(ast.parse(source)) if isinstance(n, ast.Name)}:
            value = namespace.get(used)
            if used.startswith(TEST_PREFIX) or getattr(value, "__module__", None) != namespace.get("__name__"):
                continue
            if isinstance(value, (types.FunctionType, type)):
                todo.extend(_functions(value))
