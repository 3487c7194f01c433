"""Lab 8's LoRALinear (the reference in solutions/08_language_model.ipynb) against Hugging Face peft's LoRA.

peft (Apache-2.0) is the library LoRA fine-tuning is done with; its `lora.Linear` keeps the frozen
layer and adds scaling * lora_B(lora_A(x)), with lora_A.weight (r, in), lora_B.weight (out, r) and
scaling = lora_alpha / r: the lab's A, B and scale. Both sides wrap copies of one nn.Linear and get
the same random A and B (a fresh adapter's B is zero, which would make most comparisons trivial);
lora_dropout is 0. It is a dev dependency only; the lab's parts may not call it. The reference class
is loaded from the solution notebook, not copied here.
"""
from __future__ import annotations

import copy

import pytest
import torch
import torch.nn as nn

peft = pytest.importorskip("peft", reason="peft (Hugging Face's LoRA) is the oracle here: pip install peft")

from labharness import solution_namespace  # noqa: E402

SHAPES = [(7, 5, 2, 4), (16, 24, 4, 1), (12, 9, 8, 16)]   # (in_features, out_features, r, alpha)
DTYPES = [torch.float64, torch.float32]
TOL = {torch.float64: dict(rtol=1e-12, atol=1e-12), torch.float32: dict(rtol=1e-5, atol=1e-5)}
CASES = [pytest.param(shape, dtype, bias, id=f"{shape}-{str(dtype)[6:]}-{'bias' if bias else 'nobias'}")
         for shape in SHAPES for dtype in DTYPES for bias in (True, False)]


@pytest.fixture(scope="module")
def lab():
    return solution_namespace("08_language_model")


class Holder(nn.Module):
    """A one-layer model for peft to adapt (it targets modules by name)."""

    def __init__(self, lin: nn.Linear):
        super().__init__()
        self.lin = lin

    def forward(self, x):
        return self.lin(x)


def make_pair(lab, shape, dtype, bias, copy_adapter=True, seed=0):
    """(ours, peft model, peft's layer) wrapping copies of one random nn.Linear; A and B copied across."""
    n_in, n_out, r, alpha = shape
    torch.manual_seed(seed)
    base = nn.Linear(n_in, n_out, bias=bias, dtype=dtype)
    ours = lab["LoRALinear"](copy.deepcopy(base), r, alpha)
    config = peft.LoraConfig(r=r, lora_alpha=alpha, target_modules=["lin"], lora_dropout=0.0, bias="none")
    theirs = peft.get_peft_model(Holder(copy.deepcopy(base)), config)
    layer = theirs.base_model.model.lin
    if copy_adapter:
        with torch.no_grad():
            A, B = torch.randn(r, n_in, dtype=dtype), torch.randn(n_out, r, dtype=dtype)
            ours.A.copy_(A)
            ours.B.copy_(B)
            layer.lora_A["default"].weight.copy_(A)
            layer.lora_B["default"].weight.copy_(B)
    return ours, theirs, layer


@pytest.mark.parametrize("shape, dtype, bias", CASES)
def test_outputs_match_peft(lab, shape, dtype, bias):
    """With the same base layer, A and B, does LoRALinear give peft's outputs on a (N, T, in) input?"""
    ours, theirs, _ = make_pair(lab, shape, dtype, bias)
    x = torch.randn(3, 4, shape[0], dtype=dtype)
    y = ours(x)
    assert y.shape == (3, 4, shape[1]) and y.dtype == dtype
    torch.testing.assert_close(y, theirs(x), **TOL[dtype])


@pytest.mark.parametrize("shape, dtype, bias", CASES)
def test_gradients_match_peft(lab, shape, dtype, bias):
    """Are the gradients for A, B and the input peft's for lora_A, lora_B and the input, the base's none?"""
    ours, theirs, layer = make_pair(lab, shape, dtype, bias)
    x = torch.randn(5, shape[0], dtype=dtype)
    upstream = torch.randn(5, shape[1], dtype=dtype)
    x_ours, x_theirs = x.clone().requires_grad_(), x.clone().requires_grad_()
    (ours(x_ours) * upstream).sum().backward()
    (theirs(x_theirs) * upstream).sum().backward()
    torch.testing.assert_close(ours.A.grad, layer.lora_A["default"].weight.grad, **TOL[dtype])
    torch.testing.assert_close(ours.B.grad, layer.lora_B["default"].weight.grad, **TOL[dtype])
    torch.testing.assert_close(x_ours.grad, x_theirs.grad, **TOL[dtype])
    assert all(p.grad is None for p in ours.base.parameters())
    assert all(p.grad is None for p in layer.base_layer.parameters())


@pytest.mark.parametrize("shape, dtype, bias", CASES)
def test_merge_matches_peft_merge_and_unload(lab, shape, dtype, bias):
    """Is merge()'s nn.Linear peft's merge_and_unload layer (weight W + scale B A, the base's bias)?"""
    ours, theirs, _ = make_pair(lab, shape, dtype, bias)
    x = torch.randn(6, shape[0], dtype=dtype)
    with torch.no_grad():
        before = ours(x)
        merged = ours.merge()
        theirs_merged = theirs.merge_and_unload().lin
    assert isinstance(merged, nn.Linear) and (merged.in_features, merged.out_features) == shape[:2]
    torch.testing.assert_close(merged.weight, theirs_merged.weight, **TOL[dtype])
    assert (merged.bias is None) == (not bias) == (theirs_merged.bias is None)
    if bias:
        torch.testing.assert_close(merged.bias, theirs_merged.bias, **TOL[dtype])
    with torch.no_grad():
        torch.testing.assert_close(merged(x), before, **TOL[dtype])
        torch.testing.assert_close(ours(x), before, rtol=0, atol=0)   # the adapter is left as it was


@pytest.mark.parametrize("shape, dtype, bias", CASES)
def test_trainable_parameter_count_matches_peft(lab, shape, dtype, bias):
    """Are only A and B trainable, as many numbers as peft trains (r (in + out)), on the base's dtype?"""
    ours, theirs, _ = make_pair(lab, shape, dtype, bias, copy_adapter=False)
    n_in, n_out, r, _ = shape
    trainable = sum(p.numel() for p in ours.parameters() if p.requires_grad)
    assert trainable == theirs.get_nb_trainable_parameters()[0] == r * (n_in + n_out)
    assert ours.A.shape == (r, n_in) and ours.B.shape == (n_out, r)
    assert ours.A.dtype == ours.B.dtype == dtype
    assert not any(p.requires_grad for p in ours.base.parameters())


@pytest.mark.parametrize("shape, dtype, bias", CASES[:4])
def test_fresh_adapters_both_start_at_the_base_layer(lab, shape, dtype, bias):
    """Untouched, do both adapters (B zero, A random) output what the base layer does?"""
    ours, theirs, layer = make_pair(lab, shape, dtype, bias, copy_adapter=False)
    x = torch.randn(4, shape[0], dtype=dtype)
    with torch.no_grad():
        expected = layer.base_layer(x)
        torch.testing.assert_close(ours(x), expected, **TOL[dtype])
        torch.testing.assert_close(theirs(x), expected, **TOL[dtype])
    assert bool((ours.A != 0).any()) and not bool((ours.B != 0).any())
