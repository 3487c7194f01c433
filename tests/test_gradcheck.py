"""Tests of seqlab.gradcheck against gradients known in closed form."""
import numpy as np
import pytest

from seqlab.checks import CheckFailed
from seqlab.gradcheck import check_gradients, numerical_gradient, numerical_gradient_array, rel_error

rng = np.random.default_rng(1)


def test_rel_error_is_zero_for_equal_and_one_for_opposite():
    """Is rel_error 0 for equal arrays and 1 for x against -x?"""
    x = rng.normal(size=5)
    assert rel_error(x, x) == 0.0
    assert rel_error(x, -x) == pytest.approx(1.0)


def test_rel_error_rejects_mismatched_shapes():
    """Does rel_error refuse to broadcast different shapes?"""
    with pytest.raises(ValueError, match="equal shapes"):
        rel_error(np.zeros(3), np.zeros((3, 1)))


def test_numerical_gradient_of_a_quadratic():
    """Does the gradient of sum(x**3) match 3 x**2 to 1e-7?"""
    x = rng.normal(size=(3, 4))
    grad = numerical_gradient(lambda: np.sum(x ** 3), x)
    assert rel_error(grad, 3 * x ** 2) < 1e-7


def test_numerical_gradient_restores_the_input():
    """Is x left exactly as it was?"""
    x = rng.normal(size=6)
    before = x.copy()
    numerical_gradient(lambda: np.sum(np.sin(x)), x)
    assert np.array_equal(x, before)


def test_array_gradient_of_a_matmul():
    """Does the backward of x @ W with upstream dout match dout @ W.T?"""
    x, W = rng.normal(size=(2, 3)), rng.normal(size=(3, 4))
    dout = rng.normal(size=(2, 4))
    assert rel_error(numerical_gradient_array(lambda: x @ W, x, dout), dout @ W.T) < 1e-9


def test_float32_is_refused_with_advice():
    """Does a float32 input get an error that says to use float64?"""
    with pytest.raises(TypeError, match="float64"):
        numerical_gradient(lambda: 0.0, np.zeros(3, dtype=np.float32))


def test_check_gradients_names_the_wrong_one():
    """Does check_gradients pass right gradients and name the wrong one?"""
    x, W = rng.normal(size=(2, 3)), rng.normal(size=(3, 4))
    dout = rng.normal(size=(2, 4))
    right = {"x": dout @ W.T, "W": x.T @ dout}
    errors = check_gradients(lambda: x @ W, {"x": x, "W": W}, right, dout=dout)
    assert max(errors.values()) < 1e-8
    with pytest.raises(CheckFailed, match=r"^W\[.*numerical gradient"):
        check_gradients(lambda: x @ W, {"x": x, "W": W}, {**right, "W": 2 * right["W"]}, dout=dout)
