"""Self-checks for the labs' visible tests: compare a student's output with an oracle, and when it
differs, say *what* differs and the likeliest cause, not just ``AssertionError``.

A failure message names the output, the first wrong element with both values, the max relative
error, and then any diagnosis that fits the numbers: a transposed or sign-flipped result, a constant
factor, all zeros, NaN, float32 round-off, a pattern over time steps ("the first time step is right
and later ones are not"), or a match with a known mistake the test computed for comparison
(``suspects``). The oracle values come from independent computations (torch, numerical gradients),
so printing one element of them does not give the implementation away.
"""
from __future__ import annotations

import contextlib
import copy
import inspect
import re
from typing import Any, Callable, Mapping, MutableMapping, Optional, Sequence

import numpy as np

__all__ = ["CheckFailed", "check_shape", "check_close", "check_implemented", "check_prerequisite", "check_blaming",
           "call_on_copies", "stand_ins", "passed", "blamed_part", "check_choice"]

# float32 carries ~7 significant digits; results computed in it are judged against this.
FLOAT32_RTOL = 2e-4

# default advice for patterns along the time axis; a test can pass its own wording
TIME_HINTS = {
    "first_only": "the first time step is right and later ones are not: is the hidden state "
                  "carried forward from one step to the next?",
    "last_only": "only the last time step is right: check what carries over between steps (in a "
                 "backward pass: are the gradients from later steps added in, dh accumulated?)",
    "shifted": "the values are shifted by one time step: check the indices of your time loop",
}


# A blame, as the grader reads it from the cell's error ("CheckFailed: <name> can't be checked until
# <part> ..."): the later part is then graded on its hidden cases, run with the tests' own <part>.
BLAME = re.compile(r"^CheckFailed: (\w+) can't be checked until (\w+)")


class CheckFailed(AssertionError):
    """A self-check found a wrong output; the message says what is wrong and what to look at."""


def passed(message: str = "All checks passed.") -> None:
    """Print a one-line success message (the visible tests end with this)."""
    print(f"\u2714 {message}")


def check_choice(name: str, answer, options: str) -> str:
    """A multiple-choice answer as one lower-case letter of ``options`` (e.g. "abcd"), whatever its
    case or spaces; CheckFailed saying what to write when it is none of them. It never says which
    letter is right: the hidden test emits the letter and the grader compares it, outside the kernel."""
    letter = answer.strip().lower().strip("()") if isinstance(answer, str) else None
    if answer is None or letter not in tuple(options.lower()):
        shown = "None (not answered yet)" if answer is None else repr(answer)[:60]
        raise CheckFailed(f"{name} is {shown}: set it to one letter, one of {', '.join(repr(o) for o in options.lower())}")
    return letter


def check_implemented(value, name: str) -> None:
    """Fail with a hint when a function returned None, the usual sign of a missing return."""
    if value is None:
        raise CheckFailed(f"{name} returned None: did you forget a `return` statement?")


def check_prerequisite(name: str, part: str, check) -> None:
    """Run ``check`` (a callable that checks an earlier part ``part`` on this test's inputs) before
    ``name`` is checked; if it fails, fail with a message that puts the blame on ``part``.

    Example message: "rnn_backward can't be checked until rnn_step_backward passes: fix
    rnn_step_backward first (dx has shape (3, 5), expected (3, 4))".
    """
    try:
        check()
    except NotImplementedError:     # not written yet: not attempted rather than wrong, said as it is
        raise
    except Exception as err:  # noqa: BLE001  (any failure of the earlier part blocks this one)
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        if not isinstance(err, CheckFailed):
            first = f"{type(err).__name__}: {first}"
        raise CheckFailed(f"{name} can't be checked until {part} passes: fix {part} first "
                          f"({first[:600]})") from None


def blamed_part(error: str, name: str) -> Optional[str]:
    """The earlier part that a test of ``name`` put the blame on, from the cell's error text
    ("CheckFailed: rnn_backward can't be checked until rnn_step_backward (Part 2) passes: ..." ->
    "rnn_step_backward"), or None when the error is no blame of ``name``'s."""
    found = BLAME.match(error or "")
    return found.group(2) if found and found.group(1) == name else None


def check_blaming(name: str, check: Callable[[], Any], earlier: Mapping[str, Callable[[], Any]]) -> Any:
    """Run ``check`` (the test of ``name``) and return what it returns. Only when it fails is each
    earlier part that ``name`` may build on checked on the same inputs (``earlier``: part -> a callable
    that checks it); the first that fails takes the blame (``check_prerequisite``'s message). Code
    that does not use a failing earlier part is judged on its own merit, never failed for it."""
    try:
        return check()
    except NotImplementedError:
        raise
    except Exception:  # noqa: BLE001  (whatever failed, see whether an earlier part is the cause)
        for part, verify in earlier.items():
            check_prerequisite(name, part, verify)
        raise


def call_on_copies(fn: Callable, *args, emit_inputs: bool = False) -> Any:
    """``fn(*args)`` on deep copies of the arguments (torch modules passed as they are), so that the
    test's oracle reads the originals; CheckFailed naming the argument when ``fn`` changed one in place.
    With ``emit_inputs``, returns ``(result, the copies after the call)``: a hidden case emits both, so
    that the grader sees an input changed in place too."""
    given = tuple(a if _is_module(a) else copy.deepcopy(a) for a in args)
    result = fn(*given)
    if emit_inputs:
        return result, given
    try:
        names = list(inspect.signature(fn).parameters)
    except (TypeError, ValueError):
        names = []
    for i, (before, after) in enumerate(zip(args, given)):
        if not _same(before, after):
            name = names[i] if i < len(names) else f"argument {i + 1}"
            raise CheckFailed(f"{_called(fn)} changed its input {name} in place: leave "
                              "the caller's inputs as they are (build new arrays: x = x + y, not x += y, "
                              "x[...] = ..., a masked_fill_ or a list.sort() on an input)")
    return result


@contextlib.contextmanager
def stand_ins(namespace: MutableMapping[str, Any], **parts):
    """While the block runs, the names ``parts`` in ``namespace`` (a notebook's ``globals()``) are the
    test's own versions of earlier parts, restored afterwards: a hidden test then grades a later part
    on its own merit, whatever the earlier parts do."""
    saved = {name: namespace[name] for name in parts if name in namespace}
    namespace.update(parts)
    try:
        yield
    finally:
        for name in parts:
            if name in saved:
                namespace[name] = saved[name]
            else:
                namespace.pop(name, None)


def _called(fn) -> str:
    """How to name ``fn`` in a message: ``LSTM.forward`` for a method of a student's module, else its name."""
    owner = getattr(fn, "__self__", None)
    name = getattr(fn, "__name__", "the function")
    return f"{type(owner).__name__}.{name}" if owner is not None and not inspect.ismodule(owner) else name


def _is_module(x) -> bool:
    return any(c.__name__ == "Module" and c.__module__.startswith("torch.nn") for c in type(x).__mro__)


def _same(a, b) -> bool:
    """Whether ``b`` still equals ``a``: arrays and tensors entry by entry (NaN equals NaN) with their
    dtype, containers element by element; anything else is taken as unchanged."""
    if hasattr(a, "detach") and hasattr(a, "shape"):            # a torch tensor
        import torch
        return (torch.is_tensor(b) and a.shape == b.shape and a.dtype == b.dtype
                and bool(torch.equal(a.detach(), b.detach()) or (a.is_floating_point() and torch.allclose(
                    a.detach(), b.detach(), rtol=0, atol=0, equal_nan=True))))
    if isinstance(a, np.ndarray):
        return (isinstance(b, np.ndarray) and a.shape == b.shape and a.dtype == b.dtype
                and bool(np.array_equal(a, b, equal_nan=a.dtype.kind in "fc")))
    if isinstance(a, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(map(_same, a, b))
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (str, bytes, int, float, np.generic)):
        return bool(a == b) or (a != a and b != b)
    return True


def check_shape(name: str, actual, expected_shape: Sequence[int]) -> np.ndarray:
    """Check that ``actual`` is an array of ``expected_shape``; return it as an array.

    Example message: "dWh has shape (5, 4), expected (4, 4)".
    """
    expected_shape = tuple(int(s) for s in expected_shape)
    if actual is None:
        raise CheckFailed(f"{name} is None: did you forget to return it?")
    if isinstance(actual, (tuple, list)) and not _is_numeric_sequence(actual):
        raise CheckFailed(f"{name} is a {type(actual).__name__} of {len(actual)} items, expected an "
                          f"array of shape {expected_shape}: did you return a tuple where one array "
                          "belongs (or forget to unpack one)?")
    if hasattr(actual, "detach"):
        actual = actual.detach().cpu().numpy()
    actual = np.asarray(actual)
    if actual.shape != expected_shape:
        msg = f"{name} has shape {actual.shape}, expected {expected_shape}"
        if actual.shape == expected_shape[::-1] and len(expected_shape) > 1:
            msg += ": it looks transposed"
        elif actual.size == int(np.prod(expected_shape)):
            msg += ": the right number of entries in the wrong layout; check a reshape or transpose"
        elif actual.ndim != len(expected_shape):
            msg += f" ({actual.ndim} dimensions instead of {len(expected_shape)}; a missing or extra sum/axis?)"
        raise CheckFailed(msg)
    return actual


def check_close(name: str, actual, expected, *, rtol: float = 1e-7, atol: float = 1e-10,
                what: str = "expected", time_axis: int | None = None,
                time_hints: Mapping[str, str] | None = None,
                suspects: Mapping[str, np.ndarray] | None = None, float32_ok: bool = False) -> float:
    """Check that ``actual`` matches ``expected`` elementwise; return the max relative error.

    Inputs:
    - name: what the student will recognise, e.g. "h" or "dWx".
    - actual: the student's output; expected: the oracle's (array, tensor or number).
    - rtol, atol: an element fails when |a - e| > atol + rtol * (|a| + |e|). Loosened to
      FLOAT32_RTOL when the oracle's value is float32 (the inputs were), or ``float32_ok`` says the
      contract allows a float32 result; otherwise a float32 result where float64 was expected fails.
    - what: how to call the oracle in the message ("expected", "numerical gradient", ...).
    - time_axis: the axis that is time, to diagnose patterns over steps.
    - suspects: description -> the output a known mistake gives; a match is named in the message,
      e.g. {"Wx and Wh are swapped": oracle(x, h, Wh, Wx, b)}.
    Raises CheckFailed with the diagnosis.
    """
    expected = _as_array(expected)
    actual = check_shape(name, actual, expected.shape)
    if actual.dtype.kind not in "fiub":
        raise CheckFailed(f"{name} has dtype {actual.dtype}, expected numbers")
    if expected.dtype == np.float32 or (float32_ok and actual.dtype == np.float32):
        rtol = max(rtol, FLOAT32_RTOL)
    elif expected.dtype.kind == "f" and actual.dtype.kind == "f" and actual.dtype.itemsize < expected.dtype.itemsize:
        raise CheckFailed(f"{name} has dtype {actual.dtype}, expected {expected.dtype}: float64 inputs need a "
                          "float64 result. Look for an array or tensor made without the inputs' dtype "
                          "(np.zeros(..., dtype=np.float32), torch.zeros(...) without dtype=) or an .astype/.float()")
    a = actual.astype(np.float64)
    e = expected.astype(np.float64)
    if not np.all(np.isfinite(a)):
        bad = tuple(int(i) for i in np.argwhere(~np.isfinite(a))[0])
        raise CheckFailed(f"{name}{_idx(bad)} is {a[bad]}: the output holds NaN or inf. "
                          "Look for exp() of a large number (subtract the max first), log(0), or 0/0.")
    diff = np.abs(a - e)
    bad = diff > atol + rtol * (np.abs(a) + np.abs(e))
    err = _rel(a, e)
    if not bad.any():
        return err
    first = tuple(int(i) for i in np.argwhere(bad)[0])
    got, want = _distinct(a[first], e[first])
    msg = (f"{name}{_idx(first)} = {got} but {what} {want}; max relative error "
           f"{err:.2g} ({int(bad.sum())} of {bad.size} entries wrong)")
    worst = tuple(int(i) for i in np.unravel_index(np.argmax(np.where(bad, diff, -1.0)), a.shape))
    if diff[worst] > 10 * diff[first]:
        # the first wrong entry can be a knock-on effect, off in the 5th digit: show the glaring one too
        w_got, w_want = _distinct(a[worst], e[worst])
        msg += f"; the largest difference is at {name}{_idx(worst)}: {w_got} against {w_want}"
    notes = _diagnose(a, e, rtol, suspects)
    if time_axis is not None and not notes:
        notes += _time_pattern(a, e, bad, time_axis, rtol, {**TIME_HINTS, **(time_hints or {})})
    if notes:
        msg += ". " + " ".join(n[0].upper() + n[1:] + ("" if n.endswith(("?", ".")) else ".") for n in notes)
    raise CheckFailed(msg)


def _distinct(got: float, want: float) -> tuple[str, str]:
    """Both numbers with 4 significant digits, or as many more as it takes to tell them apart."""
    for digits in (4, 6, 8, 10, 12, 17):
        pair = f"{got:.{digits}g}", f"{want:.{digits}g}"
        if pair[0] != pair[1]:
            return pair
    return pair


def _diagnose(a: np.ndarray, e: np.ndarray, rtol: float, suspects) -> list[str]:
    close = lambda x, y, r=rtol: x.shape == y.shape and np.allclose(x, y, rtol=max(r, 1e-6), atol=1e-9)
    for description, value in (suspects or {}).items():
        value = _as_array(value).astype(np.float64)
        if close(e, value):
            continue    # this mistake gives the right answer here: it cannot be what went wrong
        if close(a, value):
            return [f"it matches what you get when {description}"]
    if not np.any(a) and np.any(e):
        return ["it is all zeros: is the computation still a placeholder, or written to a copy?"]
    if close(a, -e):
        return ["it has the wrong sign"]
    if a.ndim == 2 and a.shape[0] == a.shape[1] and close(a, e.T):
        return ["it equals the transpose of the expected value"]
    if np.allclose(a, e, rtol=1e-3, atol=1e-6):
        return ["it is close, but not within the tolerance: are you computing in float32, or with "
                "an approximation? Use float64 throughout"]
    nz = np.abs(e) > 1e-12
    if nz.sum() > 1:
        ratio = a[nz] / e[nz]
        if np.allclose(ratio, ratio[0], rtol=1e-6) and abs(ratio[0]) > 1e-12 and abs(ratio[0] - 1) > 1e-6:
            return [f"it is {ratio[0]:.4g} times the expected value: a missing or extra scale factor "
                    "(an average instead of a sum, a 1/N, a temperature)?"]
    return []


def _time_pattern(a, e, bad, axis: int, rtol: float, hints: Mapping[str, str]) -> list[str]:
    T = a.shape[axis]
    if T < 2:
        return []
    step_ok = ~np.moveaxis(bad, axis, 0).reshape(T, -1).any(axis=1)
    if step_ok[0] and not step_ok[1:].any():
        return [hints["first_only"]]
    if step_ok[-1] and not step_ok[:-1].any():
        return [hints["last_only"]]
    a_t, e_t = np.moveaxis(a, axis, 0), np.moveaxis(e, axis, 0)
    for lo, hi in ((a_t[1:], e_t[:-1]), (a_t[:-1], e_t[1:])):
        if np.allclose(lo, hi, rtol=max(rtol, 1e-6), atol=1e-9):
            return [hints["shifted"]]
    return []


def _as_array(x) -> np.ndarray:
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    return np.asarray(x)


def _rel(a: np.ndarray, e: np.ndarray) -> float:
    if a.size == 0:
        return 0.0
    return float(np.max(np.abs(a - e) / np.maximum(1e-12, np.abs(a) + np.abs(e))))


def _idx(index: tuple) -> str:
    return f"[{', '.join(map(str, index))}]" if index else ""


def _is_numeric_sequence(x) -> bool:
    try:
        return np.asarray(x).dtype.kind in "fiub"
    except (ValueError, TypeError):
        return False
