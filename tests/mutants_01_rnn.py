"""Implementations of Lab 1's graded functions that a student might write, for the mutation tests.

Each ``Mutant`` replaces one or more solution cells. ``wrong`` ones hold a plausible bug, call one of
the tests' own helpers (``_test_*``) or use a shortcut the part forbids (torch or scipy in this
numpy lab), and must lose the target's points; the others are correct but written differently
(loops, einsum, another cache layout, float32, another way to draw, a helper of their own, numpy
imported in the cell) and must keep every point. Backward mutants bring their own forward pass,
so they never depend on the reference's cache layout.
These were written from the lab's stated contracts, not from the reference code.
"""
from __future__ import annotations

from labharness import Mutant


# ---------------------------------------------------------------- building blocks (correct)
STEP_FWD = """
def rnn_step_forward(x, prev_h, Wx, Wh, b):
    next_h = np.tanh(x @ Wx + prev_h @ Wh + b)
    return next_h, (x, prev_h, Wx, Wh, next_h)
"""

STEP_BWD = """
def rnn_step_backward(dnext_h, cache):
    x, prev_h, Wx, Wh, next_h = cache
    da = dnext_h * (1 - next_h ** 2)
    return da @ Wx.T, da @ Wh.T, x.T @ da, prev_h.T @ da, da.sum(axis=0)
"""

SEQ_FWD = """
def rnn_forward(x, h0, Wx, Wh, b):
    N, T, D = x.shape
    h = np.zeros((N, T, h0.shape[1]))
    caches, prev = [], h0
    for t in range(T):
        prev = np.tanh(x[:, t] @ Wx + prev @ Wh + b)
        h[:, t] = prev
    return h, (x, h0, Wx, Wh, h)
"""

def _seq_bwd(body: str) -> str:
    return SEQ_FWD + "\ndef rnn_backward(dh, cache):\n    x, h0, Wx, Wh, h = cache\n" + body


SEQ_BWD_OK = """    N, T, D = x.shape
    dx, dWx, dWh, db = np.zeros_like(x), np.zeros_like(Wx), np.zeros_like(Wh), np.zeros(Wh.shape[0])
    dnext = np.zeros_like(h0)
    for t in reversed(range(T)):
        prev = h[:, t - 1] if t > 0 else h0
        da = (dh[:, t] + dnext) * (1 - h[:, t] ** 2)
        dx[:, t] = da @ Wx.T
        dWx += x[:, t].T @ da
        dWh += prev.T @ da
        db += da.sum(axis=0)
        dnext = da @ Wh.T
    return dx, dnext, dWx, dWh, db
"""

AFF_FWD = """
def temporal_affine_forward(x, w, b):
    out = x @ w + b
    return out, (x, w, b)
"""

SOFTMAX_OK = """
def temporal_softmax_loss(scores, y, mask):
    N, T, V = scores.shape
    flat = scores.reshape(N * T, V)
    shifted = flat - flat.max(axis=1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    m = mask.reshape(-1).astype(float)
    idx = np.arange(N * T), y.reshape(-1)
    loss = -(log_p[idx] * m).sum() / m.sum()
    d = np.exp(log_p)
    d[idx] -= 1
    d *= m[:, None] / m.sum()
    return loss, d.reshape(N, T, V)
"""

CLIP_OK = """
def clip_grad_norm(grads, max_norm):
    total = float(np.sqrt(sum(np.sum(g ** 2) for g in grads.values())))
    scale = min(1.0, max_norm / total) if total > 0 else 1.0
    return {k: g * scale for k, g in grads.items()}, total
"""

def _sample(draw: str = "nxt = int(rng.choice(len(p), p=p))", probs: str =
            "s = scores / temperature\n        p = np.exp(s - s.max()); p /= p.sum()",
            carry: str = "h = np.tanh(params['Wx'][tok] + h @ params['Wh'] + params['b'])",
            feed: str = "tok = nxt", stop: str = "if nxt == 0:\n            break\n        out.append(nxt)") -> str:
    return f"""
def sample(params, max_len, temperature, rng):
    if temperature <= 0:
        raise ValueError("temperature must be positive")
    H = params['Wh'].shape[0]
    h, tok, out = np.zeros(H), 0, []
    for _ in range(max_len):
        {carry}
        scores = h @ params['W_out'] + params['b_out']
        {probs}
        {draw}
        {stop}
        {feed}
    return out
"""


M = Mutant.of

MUTANTS = [
    # ---------------------------------------------------------------- rnn_step_forward
    M("rnn_step_forward", "Wx and Wh swapped", True, rnn_step_forward=STEP_FWD.replace(
        "x @ Wx + prev_h @ Wh", "x @ Wh + prev_h @ Wx")),
    M("rnn_step_forward", "bias missing", True, rnn_step_forward=STEP_FWD.replace(" + b)", ")")),
    M("rnn_step_forward", "Wh transposed", True, rnn_step_forward=STEP_FWD.replace("prev_h @ Wh", "prev_h @ Wh.T")),
    M("rnn_step_forward", "no tanh", True, rnn_step_forward=STEP_FWD.replace("np.tanh(", "(")),
    M("rnn_step_forward", "sigmoid instead of tanh", True, rnn_step_forward=STEP_FWD.replace(
        "np.tanh(x @ Wx + prev_h @ Wh + b)", "1 / (1 + np.exp(-(x @ Wx + prev_h @ Wh + b)))")),
    M("rnn_step_forward", "loop over the batch", False, rnn_step_forward="""
def rnn_step_forward(x, prev_h, Wx, Wh, b):
    next_h = np.empty((x.shape[0], Wh.shape[0]))
    for n in range(x.shape[0]):
        next_h[n] = np.tanh(np.dot(x[n], Wx) + np.dot(prev_h[n], Wh) + b)
    return next_h, (x, prev_h, Wx, Wh, next_h)
"""),
    M("rnn_step_forward", "einsum, always in float64", False, rnn_step_forward="""
def rnn_step_forward(x, prev_h, Wx, Wh, b):
    f = lambda a: np.asarray(a, dtype=np.float64)
    a = np.einsum('nd,dh->nh', f(x), f(Wx)) + np.einsum('nk,kh->nh', f(prev_h), f(Wh)) + f(b)
    next_h = np.tanh(a)
    return next_h, (x, prev_h, Wx, Wh, next_h)
"""),
    M("rnn_step_forward", "calls the test's oracle _test_rnn_cell", True, rnn_step_forward="""
def rnn_step_forward(x, prev_h, Wx, Wh, b):
    next_h = _test_rnn_cell(x, prev_h, Wx, Wh, b)
    return next_h, (x, prev_h, Wx, Wh, next_h)
"""),
    M("rnn_step_forward", "computed with torch", True, rnn_step_forward="""
import torch


def rnn_step_forward(x, prev_h, Wx, Wh, b):
    t = lambda a: torch.as_tensor(a, dtype=torch.float64)
    next_h = torch.tanh(t(x) @ t(Wx) + t(prev_h) @ t(Wh) + t(b)).numpy()
    return next_h, (x, prev_h, Wx, Wh, next_h)
"""),
    M("rnn_step_forward", "numpy imported in the cell, a helper of its own", False, rnn_step_forward="""
import numpy as np


def affine(x, W, b=0.0):
    return x @ W + b


def rnn_step_forward(x, prev_h, Wx, Wh, b):
    next_h = np.tanh(affine(x, Wx, b) + affine(prev_h, Wh))
    return next_h, (x, prev_h, Wx, Wh, next_h)
"""),
    # ---------------------------------------------------------------- rnn_step_backward
    M("rnn_step_backward", "tanh derivative 1 - h", True, rnn_step_forward=STEP_FWD,
      rnn_step_backward=STEP_BWD.replace("next_h ** 2", "next_h")),
    M("rnn_step_backward", "dWh transposed", True, rnn_step_forward=STEP_FWD,
      rnn_step_backward=STEP_BWD.replace("prev_h.T @ da", "da.T @ prev_h")),
    M("rnn_step_backward", "dprev_h without transpose", True, rnn_step_forward=STEP_FWD,
      rnn_step_backward=STEP_BWD.replace("da @ Wh.T", "da @ Wh")),
    M("rnn_step_backward", "db averaged over the batch", True, rnn_step_forward=STEP_FWD,
      rnn_step_backward=STEP_BWD.replace("da.sum(axis=0)", "da.mean(axis=0)")),
    M("rnn_step_backward", "tanh derivative skipped", True, rnn_step_forward=STEP_FWD,
      rnn_step_backward=STEP_BWD.replace("dnext_h * (1 - next_h ** 2)", "dnext_h")),
    M("rnn_step_backward", "cache holds the pre-activation", False, rnn_step_forward="""
def rnn_step_forward(x, prev_h, Wx, Wh, b):
    a = x @ Wx + prev_h @ Wh + b
    return np.tanh(a), {'x': x, 'h': prev_h, 'Wx': Wx, 'Wh': Wh, 'a': a}
""", rnn_step_backward="""
def rnn_step_backward(dnext_h, cache):
    da = dnext_h / np.cosh(cache['a']) ** 2
    dx = np.einsum('nh,dh->nd', da, cache['Wx'])
    dprev_h = np.einsum('nh,kh->nk', da, cache['Wh'])
    dWx = np.einsum('nd,nh->dh', cache['x'], da)
    dWh = np.einsum('nk,nh->kh', cache['h'], da)
    return dx, dprev_h, dWx, dWh, np.einsum('nh->h', da)
"""),
    M("rnn_step_backward", "gradients from the test's oracle _test_step_grads", True, rnn_step_forward="""
def rnn_step_forward(x, prev_h, Wx, Wh, b):
    next_h = np.tanh(x @ Wx + prev_h @ Wh + b)
    return next_h, (x, prev_h, Wx, Wh, b)
""", rnn_step_backward="""
def rnn_step_backward(dnext_h, cache):
    return tuple(_test_step_grads(*cache, dnext_h))
"""),
    M("rnn_step_backward", "torch.autograd", True, rnn_step_forward="""
def rnn_step_forward(x, prev_h, Wx, Wh, b):
    next_h = np.tanh(x @ Wx + prev_h @ Wh + b)
    return next_h, (x, prev_h, Wx, Wh, b)
""", rnn_step_backward="""
from torch import tensor, tanh


def rnn_step_backward(dnext_h, cache):
    leaves = [tensor(a, requires_grad=True) for a in cache]
    x, prev_h, Wx, Wh, b = leaves
    tanh(x @ Wx + prev_h @ Wh + b).backward(tensor(dnext_h))
    return tuple(t.grad.numpy() for t in leaves)
"""),
    # ---------------------------------------------------------------- rnn_forward
    M("rnn_forward", "h0 used at every step", True, rnn_forward=SEQ_FWD.replace(
        "prev @ Wh", "h0 @ Wh")),
    M("rnn_forward", "off by one in time (h0 stored, last dropped)", True, rnn_forward="""
def rnn_forward(x, h0, Wx, Wh, b):
    N, T, D = x.shape
    h = np.zeros((N, T, h0.shape[1]))
    prev = h0
    for t in range(T):
        h[:, t] = prev
        prev = np.tanh(x[:, t] @ Wx + prev @ Wh + b)
    return h, None
"""),
    M("rnn_forward", "time runs backwards", True, rnn_forward=SEQ_FWD.replace(
        "for t in range(T)", "for t in reversed(range(T))")),
    M("rnn_forward", "inputs read in reverse order", True, rnn_forward=SEQ_FWD.replace(
        "x[:, t] @ Wx", "x[:, T - 1 - t] @ Wx")),
    M("rnn_forward", "list of steps, stacked", False, rnn_step_forward=STEP_FWD, rnn_forward="""
def rnn_forward(x, h0, Wx, Wh, b):
    hs, caches, prev = [], [], h0
    for x_t in np.transpose(x, (1, 0, 2)):
        prev, c = rnn_step_forward(x_t, prev, Wx, Wh, b)
        hs.append(prev)
        caches.append(c)
    return np.stack(hs, axis=1), caches
"""),
    M("rnn_forward", "calls the test's oracle _test_rnn", True, rnn_forward="""
def rnn_forward(x, h0, Wx, Wh, b):
    return _test_rnn(x, h0, Wx, Wh, b), (x, h0, Wx, Wh, b)
"""),
    M("rnn_forward", "torch.nn.RNN with the weights copied in", True, rnn_forward="""
import torch.nn as nn
from torch import as_tensor, no_grad


def rnn_forward(x, h0, Wx, Wh, b):
    rnn = nn.RNN(*Wx.shape, batch_first=True).double()
    with no_grad():
        for p, v in zip(rnn.parameters(), (Wx.T, Wh.T, b, 0 * b)):
            p.copy_(as_tensor(v))
        h, _ = rnn(as_tensor(x, dtype=p.dtype), as_tensor(h0, dtype=p.dtype)[None])
    return h.numpy(), None
"""),
    # ---------------------------------------------------------------- rnn_backward
    M("rnn_backward", "dh not accumulated across time", True, **{"rnn_backward": _seq_bwd(
        SEQ_BWD_OK.replace("(dh[:, t] + dnext)", "dh[:, t]"))}),
    M("rnn_backward", "weight gradients overwritten, not summed", True, **{"rnn_backward": _seq_bwd(
        SEQ_BWD_OK.replace("dWx += ", "dWx = ").replace("dWh += ", "dWh = ").replace("db += ", "db = "))}),
    M("rnn_backward", "dh0 returned as zeros", True, **{"rnn_backward": _seq_bwd(
        SEQ_BWD_OK.replace("return dx, dnext,", "return dx, np.zeros_like(h0),"))}),
    M("rnn_backward", "wrong previous state (h[t] for h[t-1])", True, **{"rnn_backward": _seq_bwd(
        SEQ_BWD_OK.replace("prev = h[:, t - 1] if t > 0 else h0", "prev = h[:, t]"))}),
    M("rnn_backward", "time loop runs forwards", True, **{"rnn_backward": _seq_bwd(
        SEQ_BWD_OK.replace("reversed(range(T))", "range(T)"))}),
    M("rnn_backward", "dpre collected first, weights by einsum", False, **{"rnn_backward": _seq_bwd("""    N, T, D = x.shape
    prevs = np.concatenate([h0[:, None], h[:, :-1]], axis=1)
    das = np.zeros_like(h)
    dnext = np.zeros_like(h0)
    for t in range(T - 1, -1, -1):
        das[:, t] = (dh[:, t] + dnext) * (1 - h[:, t] ** 2)
        dnext = das[:, t] @ Wh.T
    dx = das @ Wx.T
    return dx, dnext, np.einsum('ntd,nth->dh', x, das), np.einsum('ntk,nth->kh', prevs, das), das.sum(axis=(0, 1))
""")}),
    M("rnn_backward", "reusing the step functions", False, rnn_step_forward=STEP_FWD,
      rnn_step_backward=STEP_BWD, **{"rnn_forward": """
def rnn_forward(x, h0, Wx, Wh, b):
    h, caches, prev = [], [], h0
    for t in range(x.shape[1]):
        prev, c = rnn_step_forward(x[:, t], prev, Wx, Wh, b)
        h.append(prev)
        caches.append(c)
    return np.stack(h, 1), caches
""", "rnn_backward": """
def rnn_backward(dh, cache):
    grads = None
    dprev = np.zeros_like(dh[:, 0])
    dx = []
    for t in reversed(range(dh.shape[1])):
        g = rnn_step_backward(dh[:, t] + dprev, cache[t])
        dx.insert(0, g[0])
        dprev = g[1]
        grads = g[2:] if grads is None else tuple(a + b for a, b in zip(grads, g[2:]))
    return (np.stack(dx, 1), dprev) + grads
"""}),
    # ---------------------------------------------------------------- temporal_affine_forward
    M("temporal_affine_forward", "bias missing", True, temporal_affine_forward=AFF_FWD.replace("x @ w + b", "x @ w")),
    M("temporal_affine_forward", "time and batch mixed up in a reshape", True, temporal_affine_forward="""
def temporal_affine_forward(x, w, b):
    N, T, H = x.shape
    out = (x.reshape(N * T, H) @ w + b).reshape(T, N, -1).transpose(1, 0, 2)
    return out, (x, w, b)
"""),
    M("temporal_affine_forward", "bias added to every time step twice", True,
      temporal_affine_forward=AFF_FWD.replace("x @ w + b", "x @ w + 2 * b")),
    M("temporal_affine_forward", "only the last time step", True, temporal_affine_forward="""
def temporal_affine_forward(x, w, b):
    out = np.repeat((x[:, -1] @ w + b)[:, None], x.shape[1], axis=1)
    return out, (x, w, b)
"""),
    M("temporal_affine_forward", "loop over time", False, temporal_affine_forward="""
def temporal_affine_forward(x, w, b):
    out = np.stack([x[:, t].dot(w) + b for t in range(x.shape[1])], axis=1)
    return out, {'x': x, 'w': w}
""", temporal_affine_backward="""
def temporal_affine_backward(dout, cache):
    x, w = cache['x'], cache['w']
    dx = np.stack([dout[:, t] @ w.T for t in range(x.shape[1])], axis=1)
    dw = sum(x[:, t].T @ dout[:, t] for t in range(x.shape[1]))
    return dx, dw, dout.sum(axis=(0, 1))
"""),
    # ---------------------------------------------------------------- temporal_affine_backward
    M("temporal_affine_backward", "db averaged", True, temporal_affine_forward=AFF_FWD, temporal_affine_backward="""
def temporal_affine_backward(dout, cache):
    x, w, b = cache
    return dout @ w.T, np.einsum('nth,ntv->hv', x, dout), dout.mean(axis=(0, 1))
"""),
    M("temporal_affine_backward", "dw from the last step only", True, temporal_affine_forward=AFF_FWD,
      temporal_affine_backward="""
def temporal_affine_backward(dout, cache):
    x, w, b = cache
    return dout @ w.T, x[:, -1].T @ dout[:, -1], dout.sum(axis=(0, 1))
"""),
    M("temporal_affine_backward", "dw averaged over the batch", True, temporal_affine_forward=AFF_FWD,
      temporal_affine_backward="""
def temporal_affine_backward(dout, cache):
    x, w, b = cache
    return dout @ w.T, np.einsum('nth,ntv->hv', x, dout) / x.shape[0], dout.sum(axis=(0, 1))
"""),
    M("temporal_affine_backward", "db summed over batch only", True, temporal_affine_forward=AFF_FWD,
      temporal_affine_backward="""
def temporal_affine_backward(dout, cache):
    x, w, b = cache
    return dout @ w.T, np.einsum('nth,ntv->hv', x, dout), dout.sum(axis=0)
"""),
    M("temporal_affine_backward", "flattened matmuls", False, temporal_affine_forward=AFF_FWD, temporal_affine_backward="""
def temporal_affine_backward(dout, cache):
    x, w, b = cache
    N, T, H = x.shape
    V = w.shape[1]
    d2 = dout.reshape(N * T, V)
    return (d2 @ w.T).reshape(N, T, H), x.reshape(N * T, H).T @ d2, d2.sum(axis=0)
"""),
    # ---------------------------------------------------------------- temporal_softmax_loss
    M("temporal_softmax_loss", "mask ignored", True, temporal_softmax_loss=SOFTMAX_OK.replace(
        "m = mask.reshape(-1).astype(float)", "m = np.ones(N * T)")),
    M("temporal_softmax_loss", "softmax over the time axis", True, temporal_softmax_loss="""
def temporal_softmax_loss(scores, y, mask):
    s = scores - scores.max(axis=1, keepdims=True)
    log_p = s - np.log(np.exp(s).sum(axis=1, keepdims=True))
    n, t = np.indices(y.shape)
    m = mask.astype(float)
    loss = -(log_p[n, t, y] * m).sum() / m.sum()
    d = np.exp(log_p)
    d[n, t, y] -= 1
    return loss, d * m[..., None] / m.sum()
"""),
    M("temporal_softmax_loss", "divided by N instead of the token count", True, temporal_softmax_loss=SOFTMAX_OK.replace(
        "/ m.sum()", "/ N")),
    M("temporal_softmax_loss", "no max subtraction (overflows)", True, temporal_softmax_loss=SOFTMAX_OK.replace(
        "flat - flat.max(axis=1, keepdims=True)", "flat")),
    M("temporal_softmax_loss", "gradient not masked", True, temporal_softmax_loss=SOFTMAX_OK.replace(
        "d *= m[:, None] / m.sum()", "d /= m.sum()")),
    M("temporal_softmax_loss", "gradient without the -1 at the target", True, temporal_softmax_loss=SOFTMAX_OK.replace(
        "d[idx] -= 1", "pass")),
    M("temporal_softmax_loss", "log-sum-exp with logaddexp, per position loop", False, temporal_softmax_loss="""
def temporal_softmax_loss(scores, y, mask):
    N, T, V = scores.shape
    count = mask.sum()
    loss, d = 0.0, np.zeros_like(scores, dtype=float)
    for n in range(N):
        for t in range(T):
            if not mask[n, t]:
                continue
            lse = np.logaddexp.reduce(scores[n, t])
            loss -= (scores[n, t, y[n, t]] - lse) / count
            d[n, t] = np.exp(scores[n, t] - lse) / count
            d[n, t, y[n, t]] -= 1 / count
    return loss, d
"""),
    M("temporal_softmax_loss", "calls the test's oracle _test_cross_entropy", True, temporal_softmax_loss="""
def temporal_softmax_loss(scores, y, mask):
    return _test_cross_entropy(scores, y, mask)
"""),
    M("temporal_softmax_loss", "F.cross_entropy", True, temporal_softmax_loss="""
import torch
import torch.nn.functional as F


def temporal_softmax_loss(scores, y, mask):
    s = torch.tensor(scores, dtype=torch.float64, requires_grad=True)
    m = torch.as_tensor(mask)
    loss = F.cross_entropy(s[m], torch.as_tensor(y)[m])
    loss.backward()
    return loss.item(), s.grad.numpy()
"""),
    M("temporal_softmax_loss", "scipy.special.log_softmax", True, temporal_softmax_loss=SOFTMAX_OK.replace(
        "    shifted = flat - flat.max(axis=1, keepdims=True)\n"
        "    log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))\n",
        "    from scipy.special import log_softmax\n    log_p = log_softmax(flat, axis=1)\n")),
    M("temporal_softmax_loss", "a log-softmax helper of its own", False, temporal_softmax_loss="""
def log_softmax(s, axis=-1):
    s = s - s.max(axis=axis, keepdims=True)
    return s - np.log(np.exp(s).sum(axis=axis, keepdims=True))


def temporal_softmax_loss(scores, y, mask):
    log_p = log_softmax(scores)
    picked = np.take_along_axis(log_p, y[..., None], axis=2)[..., 0]
    count = mask.sum()
    d = np.exp(log_p)
    np.put_along_axis(d, y[..., None], np.take_along_axis(d, y[..., None], axis=2) - 1, axis=2)
    return -(picked * mask).sum() / count, d * (mask / count)[..., None]
"""),
    # ---------------------------------------------------------------- clip_grad_norm
    M("clip_grad_norm", "each array clipped on its own", True, clip_grad_norm="""
def clip_grad_norm(grads, max_norm):
    total = float(np.sqrt(sum(np.sum(g ** 2) for g in grads.values())))
    out = {}
    for k, g in grads.items():
        n = np.linalg.norm(g)
        out[k] = g * (max_norm / n) if n > max_norm else g.copy()
    return out, total
"""),
    M("clip_grad_norm", "modifies the input arrays", True, clip_grad_norm="""
def clip_grad_norm(grads, max_norm):
    total = float(np.sqrt(sum(np.sum(g ** 2) for g in grads.values())))
    if total > max_norm:
        for g in grads.values():
            g *= max_norm / total
    return dict(grads), total
"""),
    M("clip_grad_norm", "always rescales to max_norm", True, clip_grad_norm=CLIP_OK.replace(
        "min(1.0, max_norm / total)", "max_norm / total")),
    M("clip_grad_norm", "norm without the square root", True, clip_grad_norm=CLIP_OK.replace(
        "float(np.sqrt(sum(np.sum(g ** 2) for g in grads.values())))",
        "float(sum(np.sum(g ** 2) for g in grads.values()))")),
    M("clip_grad_norm", "L1 norm", True, clip_grad_norm=CLIP_OK.replace(
        "float(np.sqrt(sum(np.sum(g ** 2) for g in grads.values())))",
        "float(sum(np.sum(np.abs(g)) for g in grads.values()))")),
    M("clip_grad_norm", "torch-style epsilon, concatenated norm", False, clip_grad_norm="""
def clip_grad_norm(grads, max_norm):
    total = float(np.linalg.norm(np.concatenate([g.ravel() for g in grads.values()])))
    coef = max_norm / (total + 1e-6)
    return {k: (g * coef if coef < 1 else g.copy()) for k, g in grads.items()}, total
"""),
    M("clip_grad_norm", "calls the test's oracle _test_clip", True, clip_grad_norm="""
def clip_grad_norm(grads, max_norm):
    clipped, total = _test_clip(grads, max_norm)
    return clipped, total
"""),
    M("clip_grad_norm", "torch.nn.utils.clip_grad_norm_", True, clip_grad_norm="""
import torch
from torch.nn.utils import clip_grad_norm_


def clip_grad_norm(grads, max_norm):
    tensors = {k: torch.tensor(g, dtype=torch.float64) for k, g in grads.items()}
    params = []
    for t in tensors.values():
        p = torch.zeros_like(t, requires_grad=True)
        p.grad = t
        params.append(p)
    total = float(clip_grad_norm_(params, max_norm))
    return {k: p.grad.numpy() for k, p in zip(grads, params)}, total
"""),
    M("clip_grad_norm", "returns the input dict itself when nothing is clipped", True, clip_grad_norm="""
def clip_grad_norm(grads, max_norm):
    total = float(np.sqrt(sum(np.sum(g ** 2) for g in grads.values())))
    if total <= max_norm:
        return grads, total
    return {k: g * (max_norm / total) for k, g in grads.items()}, total
"""),
    M("clip_grad_norm", "the same arrays in a new dict when nothing is clipped", False, clip_grad_norm="""
def clip_grad_norm(grads, max_norm):
    total = 0.0
    for g in grads.values():
        total += float(np.vdot(g, g))
    total = total ** 0.5
    if total <= max_norm:
        return dict(grads), total
    return {k: g * (max_norm / total) for k, g in grads.items()}, total
"""),
    # ---------------------------------------------------------------- sample
    M("sample", "temperature multiplies", True, sample=_sample(probs=
        "s = scores * temperature\n        p = np.exp(s - s.max()); p /= p.sum()")),
    M("sample", "temperature applied after the softmax", True, sample=_sample(probs=
        "p = np.exp(scores - scores.max()); p /= p.sum(); p = p / temperature; p /= p.sum()")),
    M("sample", "hidden state reset every step", True, sample=_sample(carry=
        "h = np.tanh(params['Wx'][tok] + np.zeros(H) @ params['Wh'] + params['b'])")),
    M("sample", "previous token not fed back", True, sample=_sample(feed="tok = 0")),
    M("sample", "always the most likely token", True, sample=_sample(draw="nxt = int(np.argmax(p))")),
    M("sample", "boundary token kept in the output", True, sample=_sample(
        stop="out.append(nxt)\n        if nxt == 0:\n            break")),
    M("sample", "inverse-CDF draw, one-hot matmul", False, sample=_sample(
        draw="nxt = min(int(np.searchsorted(np.cumsum(p), rng.random())), len(p) - 1)",
        carry="h = np.tanh(np.eye(params['Wx'].shape[0])[tok] @ params['Wx'] + h @ params['Wh'] + params['b'])")),
    M("sample", "temperature as a power of the probabilities", False, sample=_sample(probs=
        "p = np.exp(scores - scores.max()); p /= p.sum(); p = p ** (1.0 / temperature); p /= p.sum()")),
    M("sample", "scores from the state before the step (off by one)", True, sample="""
def sample(params, max_len, temperature, rng):
    if temperature <= 0:
        raise ValueError("temperature must be positive")
    h, out = np.zeros(params['Wh'].shape[0]), []
    for _ in range(max_len):
        s = (h @ params['W_out'] + params['b_out']) / temperature
        p = np.exp(s - s.max()); p /= p.sum()
        tok = int(rng.choice(len(p), p=p))
        if tok == 0:
            break
        out.append(tok)
        h = np.tanh(params['Wx'][tok] + h @ params['Wh'] + params['b'])
    return out
"""),
    M("sample", "boundary token dropped but the loop goes on", True, sample=_sample(
        stop="if nxt != 0:\n            out.append(nxt)")),
    M("sample", "draws with the global np.random", True, sample=_sample(
        draw="nxt = int(np.random.choice(len(p), p=p))")),
    M("sample", "one token too many (max_len + 1 steps)", True, sample=_sample().replace(
        "range(max_len)", "range(max_len + 1)")),
    M("sample", "one step too few (max_len - 1 steps)", True, sample=_sample().replace(
        "range(max_len)", "range(max_len - 1)")),
    M("sample", "calls the test's oracle _test_next_probs", True, sample="""
def sample(params, max_len, temperature, rng):
    if temperature <= 0:
        raise ValueError("temperature must be positive")
    out = []
    for _ in range(max_len):
        p = _test_next_probs(params, [0] + out, temperature)
        tok = int(rng.choice(len(p), p=p))
        if tok == 0:
            break
        out.append(tok)
    return out
"""),
    M("sample", "scipy.special.softmax", True, sample="from scipy.special import softmax\n" + _sample(probs=
        "p = softmax(scores / temperature)")),
    M("sample", "Gumbel-max draw, a helper of its own, numpy imported in the cell", False, sample="""
import numpy as np


def gumbel_argmax(logits, rng):
    # argmax(logits + Gumbel noise) is a draw from softmax(logits)
    return int(np.argmax(logits - np.log(-np.log(rng.random(len(logits))))))

""" + _sample(probs="s = scores / temperature", draw="nxt = gumbel_argmax(s, rng)")),
    M("sample", "probabilities in float32", False, sample=_sample(probs=
        "s = (scores / temperature).astype(np.float32)\n        p = np.exp(s - s.max()); p /= p.sum()")),
]

# ---------------------------------------------------------------- the escape families of issue 17
# dtype: float64 inputs need a float64 result; float32 inputs may give float32.
# invariants: no input array is modified in place. shapes: N > 1 with T = 1, and N = 1 with T > 1.
MUTANTS += [
    M("rnn_step_forward", "computed in float32", True, rnn_step_forward=STEP_FWD.replace(
        "np.tanh(x @ Wx + prev_h @ Wh + b)", "np.tanh((x @ Wx + prev_h @ Wh + b).astype(np.float32))")),
    M("rnn_step_forward", "computed in the inputs' dtype, stated explicitly", False, rnn_step_forward="""
def rnn_step_forward(x, prev_h, Wx, Wh, b):
    a = np.add(x @ Wx, prev_h @ Wh, dtype=np.result_type(x, prev_h, Wx, Wh, b)) + b
    next_h = np.tanh(a)
    return next_h, (x, prev_h, Wx, Wh, next_h)
"""),
    M("rnn_step_backward", "dnext_h scaled in place", True, rnn_step_forward=STEP_FWD,
      rnn_step_backward=STEP_BWD.replace("da = dnext_h * (1 - next_h ** 2)",
                                         "dnext_h *= 1 - next_h ** 2\n    da = dnext_h")),
    M("rnn_forward", "hidden states stored in a float32 array", True, rnn_forward=SEQ_FWD.replace(
        "h = np.zeros((N, T, h0.shape[1]))", "h = np.zeros((N, T, h0.shape[1]), dtype=np.float32)")),
    M("rnn_forward", "the state written into h0 in place", True, rnn_forward=SEQ_FWD.replace(
        "prev = np.tanh(", "prev[...] = np.tanh(").replace("caches, prev = [], h0", "prev = h0")),
    M("rnn_forward", "the state written into a copy of h0", False, rnn_forward=SEQ_FWD.replace(
        "prev = np.tanh(", "prev[...] = np.tanh(").replace("caches, prev = [], h0", "prev = h0.copy()").replace(
        "h = np.zeros((N, T, h0.shape[1]))", "h = np.empty((N, T, h0.shape[1]), dtype=np.result_type(x, h0))"),
      rnn_backward="def rnn_backward(dh, cache):\n    x, h0, Wx, Wh, h = cache\n" + SEQ_BWD_OK),
    M("rnn_backward", "gradient sums kept in float32", True, **{"rnn_backward": _seq_bwd(
        SEQ_BWD_OK.replace("np.zeros(Wh.shape[0])", "np.zeros(Wh.shape[0], dtype=np.float32)"))}),
    M("rnn_backward", "dh accumulated in place", True, **{"rnn_backward": _seq_bwd(
        SEQ_BWD_OK.replace("da = (dh[:, t] + dnext) * (1 - h[:, t] ** 2)",
                           "dh[:, t] += dnext\n        da = dh[:, t] * (1 - h[:, t] ** 2)"))}),
    M("temporal_affine_forward", "output cast to float32", True,
      temporal_affine_forward=AFF_FWD.replace("out = x @ w + b", "out = (x @ w + b).astype(np.float32)")),
    M("temporal_softmax_loss", "scores shifted in place", True, temporal_softmax_loss=SOFTMAX_OK.replace(
        "    flat = scores.reshape(N * T, V)\n",
        "    scores -= scores.max(axis=2, keepdims=True)\n    flat = scores.reshape(N * T, V)\n")),
    M("temporal_softmax_loss", "mask squeezed in the loss", True, temporal_softmax_loss="""
def temporal_softmax_loss(scores, y, mask):
    s = scores - scores.max(axis=2, keepdims=True)
    log_p = s - np.log(np.exp(s).sum(axis=2, keepdims=True))
    picked = np.take_along_axis(log_p, y[..., None], axis=2)[..., 0]
    m = np.squeeze(mask)
    loss = -(picked * m).sum() / m.sum()
    d = np.exp(log_p)
    np.put_along_axis(d, y[..., None], np.take_along_axis(d, y[..., None], axis=2) - 1, axis=2)
    return loss, d * (mask / mask.sum())[..., None]
"""),
    M("temporal_softmax_loss", "loss in the scores' dtype", False, temporal_softmax_loss=SOFTMAX_OK.replace(
        "return loss, d.reshape(N, T, V)", "return scores.dtype.type(loss), d.reshape(N, T, V)")),
]

# ---------------------------------------------------------------- multiple-choice questions
# Each wrong letter loses the question's point; the right one keeps it in any case and spacing.
MUTANTS += [
    M("q_every_step_loss", "answer (a)", True, q_every_step_loss='q_every_step_loss = "a"'),
    M("q_every_step_loss", "answer (c)", True, q_every_step_loss='q_every_step_loss = "c"'),
    M("q_every_step_loss", "answer (d)", True, q_every_step_loss='q_every_step_loss = "d"'),
    M("q_every_step_loss", "the right answer in capitals, with spaces", False,
      q_every_step_loss='q_every_step_loss = " B "'),
]

# ---------------------------------------------------------------- fair blame: a part judged on its own merit
# (mutant, the earlier part it overrides with a wrong one). The later part (the target) is correct and
# must keep its points, hidden tests in, while the wrong earlier part loses its own: a visible test
# checks an earlier part only when the later part's check fails, and the hidden tests run the later
# part over the tests' oracle steps. Not in MUTANTS (a correct mutant there keeps every point of the
# lab); tests/test_mutants.py runs these on their own.
OWN_MERIT = [
    (M("rnn_forward", "the tanh step inlined, over an rnn_step_forward without the bias", False,
       rnn_step_forward=STEP_FWD.replace(" + b)", ")"), rnn_forward=SEQ_FWD), "rnn_step_forward"),
    (M("rnn_backward", "a BPTT of its own, over an rnn_step_backward without the tanh derivative", False,
       rnn_step_forward=STEP_FWD, rnn_step_backward=STEP_BWD.replace("dnext_h * (1 - next_h ** 2)", "dnext_h"),
       rnn_backward=_seq_bwd(SEQ_BWD_OK)), "rnn_step_backward"),
    # the reference BPTT loop calls the step; the step is wrong only for float32 inputs, which only a
    # hidden case of rnn_backward uses: the oracle step stands in there, even for a copy of its cache
    (M("rnn_backward", "the reference loop over a step backward wrong in float32 only", False,
       rnn_step_forward=STEP_FWD, rnn_step_backward=STEP_BWD.replace(
           "da = dnext_h * (1 - next_h ** 2)",
           "da = dnext_h * (1 - next_h ** 2)\n    if da.dtype == np.float32:\n        da = 2 * da")),
     "rnn_step_backward"),
    # the reference code *uses* the wrong earlier part: its visible test fails and blames that part,
    # and the hidden tests, run with the tests' own steps, grade it (autograder.scoring.excused_by)
    (M("rnn_forward", "the reference loop, over an rnn_step_forward without the bias", False,
       rnn_step_forward=STEP_FWD.replace(" + b)", ")")), "rnn_step_forward"),
    (M("rnn_backward", "the reference BPTT, over an rnn_step_backward without the tanh derivative", False,
       rnn_step_backward=STEP_BWD.replace("dnext_h * (1 - next_h ** 2)", "dnext_h")), "rnn_step_backward"),
]
