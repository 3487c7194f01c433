"""Numerical gradients by central differences, in float64, and the relative error used to judge them.

Follows CS231n's ``gradient_check.py``: perturb one entry at a time by +-h, and compare the analytic
gradient with (f(x+h) - f(x-h)) / 2h using the max relative error. With float64 and h = 1e-5 a
correct backward pass gives relative errors around 1e-8 or below; anything above 1e-5 is a bug.
"""
from __future__ import annotations

from typing import Callable, Mapping

import numpy as np

__all__ = ["rel_error", "numerical_gradient", "numerical_gradient_array", "check_gradients"]


def rel_error(x, y, eps: float = 1e-12) -> float:
    """Max relative error between two arrays: max |x - y| / max(|x| + |y|, eps)."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if x.shape != y.shape:
        raise ValueError(f"rel_error needs equal shapes, got {x.shape} and {y.shape}")
    if x.size == 0:
        return 0.0
    return float(np.max(np.abs(x - y) / np.maximum(eps, np.abs(x) + np.abs(y))))


def numerical_gradient(f: Callable[[], float], x: np.ndarray, h: float = 1e-5) -> np.ndarray:
    """Gradient of the scalar ``f()`` with respect to ``x``, which ``f`` reads and we perturb in place.

    Inputs:
    - f: a function of no arguments returning a scalar; it must read ``x`` (a closure).
    - x: a float64 array, modified in place during the call and restored afterwards.
    Returns an array shaped like x.
    """
    _require_float64(x)
    grad = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"], op_flags=[["readwrite"]])
    for _ in it:
        i = it.multi_index
        old = x[i]
        x[i] = old + h
        plus = float(f())
        x[i] = old - h
        minus = float(f())
        x[i] = old
        grad[i] = (plus - minus) / (2 * h)
    return grad


def numerical_gradient_array(f: Callable[[], np.ndarray], x: np.ndarray, dout: np.ndarray,
                             h: float = 1e-5) -> np.ndarray:
    """Gradient of sum(f() * dout) with respect to ``x``: the backward pass of an array function.

    Inputs:
    - f: a function of no arguments returning an array shaped like dout; it must read x.
    - x: a float64 array, perturbed in place and restored.
    - dout: the upstream gradient, shaped like f()'s output.
    """
    dout = np.asarray(dout, dtype=np.float64)
    return numerical_gradient(lambda: float(np.sum(np.asarray(f(), dtype=np.float64) * dout)), x, h)


def check_gradients(f: Callable[[], np.ndarray], inputs: Mapping[str, np.ndarray],
                    analytic: Mapping[str, np.ndarray], dout: np.ndarray | None = None,
                    tol: float = 1e-7) -> dict[str, float]:
    """Compare analytic gradients with numerical ones for each named input; raise on a mismatch.

    Inputs:
    - f: a function of no arguments, reading the arrays in ``inputs``; scalar if dout is None.
    - inputs: name -> float64 array that f reads (perturbed in place, restored).
    - analytic: name -> the student's gradient for that input.
    - dout: upstream gradient for array-valued f.
    Returns name -> relative error. Raises seqlab.checks.CheckFailed naming the worst gradient.
    """
    from seqlab.checks import check_close

    errors = {}
    for name, x in inputs.items():
        if dout is None:
            numeric = numerical_gradient(f, x)
        else:
            numeric = numerical_gradient_array(f, x, dout)
        check_close(name, analytic[name], numeric, rtol=tol, what="numerical gradient")
        errors[name] = rel_error(analytic[name], numeric)
    return errors


def _require_float64(x) -> None:
    if not isinstance(x, np.ndarray) or x.dtype != np.float64:
        kind = x.dtype if isinstance(x, np.ndarray) else type(x).__name__
        raise TypeError(f"numerical gradients need a float64 array to perturb, got {kind}: "
                        "use x.astype(np.float64) and let f read that array")
