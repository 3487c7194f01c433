"""Implementations of Lab 2's graded functions that a student might write, for the mutation tests.

Each ``Mutant`` replaces one or more solution cells. ``wrong`` ones hold a plausible bug and must
lose the target's points; the others are correct but written differently (loops, einsum, another
cache layout, float32, a naive sigmoid) and must keep every point. Backward mutants bring their own
forward pass, so they never depend on the reference's cache layout.
These were written from the lab's stated contracts, not from the reference code.
"""
from __future__ import annotations

from labharness import Mutant

M = Mutant.of

# ---------------------------------------------------------------- building blocks (correct)
LSTM_STEP_FWD = """
def lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b):
    H = prev_h.shape[1]
    a = x @ Wx + prev_h @ Wh + b
    i = sigmoid(a[:, :H])
    f = sigmoid(a[:, H:2 * H])
    o = sigmoid(a[:, 2 * H:3 * H])
    g = np.tanh(a[:, 3 * H:])
    next_c = f * prev_c + i * g
    next_h = o * np.tanh(next_c)
    return next_h, next_c, (x, prev_h, prev_c, Wx, Wh, i, f, o, g, next_c)
"""

LSTM_STEP_BWD = """
def lstm_step_backward(dnext_h, dnext_c, cache):
    x, prev_h, prev_c, Wx, Wh, i, f, o, g, next_c = cache
    tc = np.tanh(next_c)
    dc = dnext_c + dnext_h * o * (1 - tc ** 2)
    do = dnext_h * tc
    di, df, dg = dc * g, dc * prev_c, dc * i
    da = np.hstack([di * i * (1 - i), df * f * (1 - f), do * o * (1 - o), dg * (1 - g ** 2)])
    return da @ Wx.T, da @ Wh.T, dc * f, x.T @ da, prev_h.T @ da, da.sum(axis=0)
"""

# a self-contained sequence LSTM: forward keeps (x, h0, Wx, Wh, hs, cs, gates) for its own backward
LSTM_SEQ_FWD = """
def lstm_forward(x, h0, Wx, Wh, b):
    N, T, D = x.shape
    H = h0.shape[1]
    h, c = h0, np.zeros_like(h0)
    hs, cs, gates = [], [], []
    for t in range(T):
        a = x[:, t] @ Wx + h @ Wh + b
        i, f, o = sigmoid(a[:, :H]), sigmoid(a[:, H:2 * H]), sigmoid(a[:, 2 * H:3 * H])
        g = np.tanh(a[:, 3 * H:])
        c = f * c + i * g
        h = o * np.tanh(c)
        hs.append(h); cs.append(c); gates.append((i, f, o, g))
    return np.stack(hs, 1), (x, h0, Wx, Wh, hs, cs, gates)
"""

LSTM_SEQ_BWD_OK = """
def lstm_backward(dh, cache):
    x, h0, Wx, Wh, hs, cs, gates = cache
    N, T, H = dh.shape
    dx = np.zeros_like(x)
    dWx, dWh, db = np.zeros_like(Wx), np.zeros_like(Wh), np.zeros(4 * H)
    dh_next, dc_next = np.zeros((N, H)), np.zeros((N, H))
    for t in reversed(range(T)):
        i, f, o, g = gates[t]
        c_prev = cs[t - 1] if t > 0 else np.zeros((N, H))
        h_prev = hs[t - 1] if t > 0 else h0
        dht = dh[:, t] + dh_next
        tc = np.tanh(cs[t])
        dc = dc_next + dht * o * (1 - tc ** 2)
        da = np.hstack([dc * g * i * (1 - i), dc * c_prev * f * (1 - f), dht * tc * o * (1 - o), dc * i * (1 - g ** 2)])
        dx[:, t] = da @ Wx.T
        dWx += x[:, t].T @ da
        dWh += h_prev.T @ da
        db += da.sum(axis=0)
        dh_next = da @ Wh.T
        dc_next = dc * f
    return dx, dh_next, dWx, dWh, db
"""

GRU_STEP_FWD = """
def gru_step_forward(x, prev_h, Wx, Wh, b):
    H = prev_h.shape[1]
    xr, xz, xn = x @ Wx[:, :H] + b[:H], x @ Wx[:, H:2 * H] + b[H:2 * H], x @ Wx[:, 2 * H:] + b[2 * H:]
    hr, hz, hn = prev_h @ Wh[:, :H], prev_h @ Wh[:, H:2 * H], prev_h @ Wh[:, 2 * H:]
    r = sigmoid(xr + hr)
    z = sigmoid(xz + hz)
    n = np.tanh(xn + r * hn)
    next_h = (1 - z) * n + z * prev_h
    return next_h, {'x': x, 'h': prev_h, 'Wx': Wx, 'Wh': Wh, 'r': r, 'z': z, 'n': n, 'hn': hn}
"""

GRU_STEP_BWD = """
def gru_step_backward(dnext_h, cache):
    x, h, Wx, Wh, r, z, n, hn = (cache[k] for k in ('x', 'h', 'Wx', 'Wh', 'r', 'z', 'n', 'hn'))
    dn = dnext_h * (1 - z)
    dz = dnext_h * (h - n)
    dan = dn * (1 - n ** 2)
    dar = dan * hn * r * (1 - r)
    daz = dz * z * (1 - z)
    dax = np.concatenate([dar, daz, dan], axis=1)
    dah = np.concatenate([dar, daz, dan * r], axis=1)
    return dax @ Wx.T, dah @ Wh.T + dnext_h * z, x.T @ dax, h.T @ dah, dax.sum(axis=0)
"""

LSTM_MODULE = '''
class LSTM(nn.Module):
    def __init__(self, input_size, hidden_size):
        super().__init__()
        self.hidden_size = hidden_size
        self.ih = nn.Linear(input_size, 4 * hidden_size)
        self.hh = nn.Linear(hidden_size, 4 * hidden_size)

    def forward(self, x, state=None):
        N, T, _ = x.shape
        H = self.hidden_size
        if state is None:
            h, c = x.new_zeros(N, H), x.new_zeros(N, H)
        else:
            h, c = state
        outs = []
        for t in range(T):
            a = self.ih(x[:, t]) + self.hh(h)
            i, f, g, o = a[:, :H], a[:, H:2 * H], a[:, 2 * H:3 * H], a[:, 3 * H:]
            c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
            h = torch.sigmoid(o) * torch.tanh(c)
            outs.append(h)
        return torch.stack(outs, dim=1), (h, c)
'''

MUTANTS = [
    # ---------------------------------------------------------------- lstm_step_forward
    M("lstm_step_forward", "forget gate applied to the candidate", True, lstm_step_forward=LSTM_STEP_FWD.replace(
        "next_c = f * prev_c + i * g", "next_c = i * prev_c + f * g")),
    M("lstm_step_forward", "no tanh on the cell output", True, lstm_step_forward=LSTM_STEP_FWD.replace(
        "next_h = o * np.tanh(next_c)", "next_h = o * next_c")),
    M("lstm_step_forward", "gate order i, f, g, o (PyTorch's)", True, lstm_step_forward=LSTM_STEP_FWD.replace(
        "o = sigmoid(a[:, 2 * H:3 * H])\n    g = np.tanh(a[:, 3 * H:])",
        "g = np.tanh(a[:, 2 * H:3 * H])\n    o = sigmoid(a[:, 3 * H:])")),
    M("lstm_step_forward", "sigmoid on the candidate", True, lstm_step_forward=LSTM_STEP_FWD.replace(
        "g = np.tanh(a[:, 3 * H:])", "g = sigmoid(a[:, 3 * H:])")),
    M("lstm_step_forward", "each gate block of Wh transposed", True,
      lstm_step_forward=LSTM_STEP_FWD.replace("prev_h @ Wh", "prev_h @ np.concatenate([Wh[:, k * H:(k + 1) * H].T for k in range(4)], axis=1)")),
    M("lstm_step_forward", "naive sigmoid, per-gate matmuls", False, lstm_step_forward="""
def lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b):
    H = prev_h.shape[1]
    s = lambda v: 1.0 / (1.0 + np.exp(-v))
    blk = lambda k: x @ Wx[:, k * H:(k + 1) * H] + prev_h @ Wh[:, k * H:(k + 1) * H] + b[k * H:(k + 1) * H]
    with np.errstate(over='ignore'):
        i, f, o = s(blk(0)), s(blk(1)), s(blk(2))
    g = np.tanh(blk(3))
    next_c = f * prev_c + i * g
    return o * np.tanh(next_c), next_c, (x, prev_h, prev_c, Wx, Wh, i, f, o, g, next_c)
""", lstm_step_backward=LSTM_STEP_BWD),
    M("lstm_step_forward", "einsum, always float64", False, lstm_step_forward="""
def lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b):
    f64 = lambda v: np.asarray(v, dtype=np.float64)
    a = np.einsum('nd,dk->nk', f64(x), f64(Wx)) + np.einsum('nh,hk->nk', f64(prev_h), f64(Wh)) + f64(b)
    i, f, o, g = np.split(a, 4, axis=1)
    i, f, o, g = sigmoid(i), sigmoid(f), sigmoid(o), np.tanh(g)
    next_c = f * prev_c + i * g
    return o * np.tanh(next_c), next_c, (x, prev_h, prev_c, Wx, Wh, i, f, o, g, next_c)
""", lstm_step_backward=LSTM_STEP_BWD),
    # ---------------------------------------------------------------- lstm_step_backward
    M("lstm_step_backward", "dnext_c ignored", True, lstm_step_forward=LSTM_STEP_FWD,
      lstm_step_backward=LSTM_STEP_BWD.replace("dc = dnext_c + dnext_h", "dc = dnext_h")),
    M("lstm_step_backward", "path from next_h into the cell missing", True, lstm_step_forward=LSTM_STEP_FWD,
      lstm_step_backward=LSTM_STEP_BWD.replace("dc = dnext_c + dnext_h * o * (1 - tc ** 2)", "dc = dnext_c")),
    M("lstm_step_backward", "tanh derivative of the cell written 1 - tanh", True, lstm_step_forward=LSTM_STEP_FWD,
      lstm_step_backward=LSTM_STEP_BWD.replace("(1 - tc ** 2)", "(1 - tc)")),
    M("lstm_step_backward", "dprev_c without the forget gate", True, lstm_step_forward=LSTM_STEP_FWD,
      lstm_step_backward=LSTM_STEP_BWD.replace("dc * f, x.T", "dc, x.T")),
    M("lstm_step_backward", "gate gradients stacked in PyTorch's order", True, lstm_step_forward=LSTM_STEP_FWD,
      lstm_step_backward=LSTM_STEP_BWD.replace(
          "do * o * (1 - o), dg * (1 - g ** 2)", "dg * (1 - g ** 2), do * o * (1 - o)")),
    M("lstm_step_backward", "db averaged over the batch", True, lstm_step_forward=LSTM_STEP_FWD,
      lstm_step_backward=LSTM_STEP_BWD.replace("da.sum(axis=0)", "da.mean(axis=0)")),
    M("lstm_step_backward", "pre-activation cache, derivatives from it, einsum", False, lstm_step_forward="""
def lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b):
    a = x @ Wx + prev_h @ Wh + b
    i, f, o, g = np.split(a, 4, axis=1)
    next_c = sigmoid(f) * prev_c + sigmoid(i) * np.tanh(g)
    return sigmoid(o) * np.tanh(next_c), next_c, {'a': a, 'x': x, 'h': prev_h, 'c': prev_c, 'Wx': Wx, 'Wh': Wh}
""", lstm_step_backward="""
def lstm_step_backward(dnext_h, dnext_c, cache):
    ai, af, ao, ag = np.split(cache['a'], 4, axis=1)
    ds = lambda v: sigmoid(v) * (1 - sigmoid(v))
    c = sigmoid(af) * cache['c'] + sigmoid(ai) * np.tanh(ag)
    dc = dnext_c + dnext_h * sigmoid(ao) / np.cosh(c) ** 2
    da = np.concatenate([dc * np.tanh(ag) * ds(ai), dc * cache['c'] * ds(af), dnext_h * np.tanh(c) * ds(ao),
                         dc * sigmoid(ai) / np.cosh(ag) ** 2], axis=1)
    return (np.einsum('nk,dk->nd', da, cache['Wx']), np.einsum('nk,hk->nh', da, cache['Wh']), dc * sigmoid(af),
            np.einsum('nd,nk->dk', cache['x'], da), np.einsum('nh,nk->hk', cache['h'], da), np.einsum('nk->k', da))
"""),
    # ---------------------------------------------------------------- lstm_forward
    M("lstm_forward", "cell state not carried (reset every step)", True, lstm_forward=LSTM_SEQ_FWD.replace(
        "c = f * c + i * g", "c = i * g")),
    M("lstm_forward", "h0 used at every step", True, lstm_forward=LSTM_SEQ_FWD.replace("h @ Wh", "h0 @ Wh")),
    M("lstm_forward", "c0 set to h0", True, lstm_forward=LSTM_SEQ_FWD.replace(
        "h, c = h0, np.zeros_like(h0)", "h, c = h0, h0.copy()")),
    M("lstm_forward", "inputs read in reverse order", True, lstm_forward=LSTM_SEQ_FWD.replace(
        "x[:, t] @ Wx", "x[:, T - 1 - t] @ Wx")),
    M("lstm_forward", "step function in a loop, preallocated output", False, lstm_step_forward=LSTM_STEP_FWD,
      lstm_step_backward=LSTM_STEP_BWD, lstm_forward="""
def lstm_forward(x, h0, Wx, Wh, b):
    N, T, D = x.shape
    out = np.empty((N, T, h0.shape[1]))
    h, c, caches = h0, np.zeros(h0.shape), []
    for t, x_t in enumerate(np.moveaxis(x, 1, 0)):
        h, c, step = lstm_step_forward(x_t, h, c, Wx, Wh, b)
        out[:, t] = h
        caches.append(step)
    return out, caches
"""),
    # ---------------------------------------------------------------- lstm_backward
    M("lstm_backward", "dc not carried between steps", True, lstm_forward=LSTM_SEQ_FWD,
      lstm_backward=LSTM_SEQ_BWD_OK.replace("dc_next = dc * f", "dc_next = 0 * dc")),
    M("lstm_backward", "dh not accumulated across time", True, lstm_forward=LSTM_SEQ_FWD,
      lstm_backward=LSTM_SEQ_BWD_OK.replace("dht = dh[:, t] + dh_next", "dht = dh[:, t]")),
    M("lstm_backward", "weight gradients overwritten, not summed", True, lstm_forward=LSTM_SEQ_FWD,
      lstm_backward=LSTM_SEQ_BWD_OK.replace("dWx += ", "dWx = ").replace("dWh += ", "dWh = ")),
    M("lstm_backward", "wrong previous cell state (c[t] for c[t-1])", True, lstm_forward=LSTM_SEQ_FWD,
      lstm_backward=LSTM_SEQ_BWD_OK.replace("c_prev = cs[t - 1] if t > 0 else np.zeros((N, H))", "c_prev = cs[t]")),
    M("lstm_backward", "dh0 returned as zeros", True, lstm_forward=LSTM_SEQ_FWD,
      lstm_backward=LSTM_SEQ_BWD_OK.replace("return dx, dh_next,", "return dx, np.zeros_like(h0),")),
    M("lstm_backward", "own self-contained BPTT", False, lstm_forward=LSTM_SEQ_FWD, lstm_backward=LSTM_SEQ_BWD_OK),
    M("lstm_backward", "step functions, weight gradients by one matmul after the loop", False,
      lstm_step_forward=LSTM_STEP_FWD, lstm_step_backward=LSTM_STEP_BWD, lstm_forward="""
def lstm_forward(x, h0, Wx, Wh, b):
    h, c, hs, caches = h0, np.zeros_like(h0), [], []
    for t in range(x.shape[1]):
        h, c, step = lstm_step_forward(x[:, t], h, c, Wx, Wh, b)
        hs.append(h)
        caches.append(step)
    return np.stack(hs, 1), caches
""", lstm_backward="""
def lstm_backward(dh, cache):
    N, T, H = dh.shape
    dx, grads = [None] * T, [0, 0, 0]
    dprev_h, dprev_c = np.zeros((N, H)), np.zeros((N, H))
    for t in range(T - 1, -1, -1):
        dx[t], dprev_h, dprev_c, *g = lstm_step_backward(dh[:, t] + dprev_h, dprev_c, cache[t])
        grads = [a + b for a, b in zip(grads, g)]
    return (np.stack(dx, 1), dprev_h, *grads)
"""),
    # ---------------------------------------------------------------- gru_step_forward
    M("gru_step_forward", "z and 1 - z swapped", True, gru_step_forward=GRU_STEP_FWD.replace(
        "next_h = (1 - z) * n + z * prev_h", "next_h = z * n + (1 - z) * prev_h")),
    M("gru_step_forward", "reset gate applied before the matmul", True, gru_step_forward=GRU_STEP_FWD.replace(
        "n = np.tanh(xn + r * hn)", "n = np.tanh(xn + (r * prev_h) @ Wh[:, 2 * H:])")),
    M("gru_step_forward", "gate order z, r, n", True, gru_step_forward=GRU_STEP_FWD.replace(
        "r = sigmoid(xr + hr)\n    z = sigmoid(xz + hz)", "z = sigmoid(xr + hr)\n    r = sigmoid(xz + hz)")),
    M("gru_step_forward", "no reset gate on the candidate", True, gru_step_forward=GRU_STEP_FWD.replace(
        "n = np.tanh(xn + r * hn)", "n = np.tanh(xn + hn)")),
    M("gru_step_forward", "loop over the batch, naive sigmoid", False, gru_step_forward="""
def gru_step_forward(x, prev_h, Wx, Wh, b):
    N, H = prev_h.shape
    out = np.zeros((N, H))
    s = lambda v: 1 / (1 + np.exp(-v))
    for k in range(N):
        ax, ah = x[k] @ Wx + b, prev_h[k] @ Wh
        r, z = s(ax[:H] + ah[:H]), s(ax[H:2 * H] + ah[H:2 * H])
        n = np.tanh(ax[2 * H:] + r * ah[2 * H:])
        out[k] = (1 - z) * n + z * prev_h[k]
    return out, GRU_STEP_FWD_CACHE(x, prev_h, Wx, Wh, b)
""" + GRU_STEP_FWD.replace("def gru_step_forward", "def GRU_STEP_FWD_CACHE").replace("return next_h, {", "return {"),
      gru_step_backward=GRU_STEP_BWD),
    M("gru_step_forward", "blend written as n + z * (prev_h - n)", False, gru_step_forward=GRU_STEP_FWD.replace(
        "next_h = (1 - z) * n + z * prev_h", "next_h = n + z * (prev_h - n)"), gru_step_backward=GRU_STEP_BWD),
    # ---------------------------------------------------------------- gru_step_backward
    M("gru_step_backward", "direct path z * dnext_h missing", True, gru_step_forward=GRU_STEP_FWD,
      gru_step_backward=GRU_STEP_BWD.replace("dah @ Wh.T + dnext_h * z", "dah @ Wh.T")),
    M("gru_step_backward", "candidate's hidden block not scaled by r", True, gru_step_forward=GRU_STEP_FWD,
      gru_step_backward=GRU_STEP_BWD.replace("dah = np.concatenate([dar, daz, dan * r], axis=1)",
                                             "dah = np.concatenate([dar, daz, dan], axis=1)")),
    M("gru_step_backward", "reset gate gets no gradient", True, gru_step_forward=GRU_STEP_FWD,
      gru_step_backward=GRU_STEP_BWD.replace("dar = dan * hn * r * (1 - r)", "dar = 0 * dan")),
    M("gru_step_backward", "dz with the wrong sign (n - h)", True, gru_step_forward=GRU_STEP_FWD,
      gru_step_backward=GRU_STEP_BWD.replace("dz = dnext_h * (h - n)", "dz = dnext_h * (n - h)")),
    M("gru_step_backward", "dict cache, per-block matmuls", False, gru_step_forward=GRU_STEP_FWD, gru_step_backward="""
def gru_step_backward(dnext_h, cache):
    x, h, Wx, Wh, r, z, n, hn = (cache[k] for k in ('x', 'h', 'Wx', 'Wh', 'r', 'z', 'n', 'hn'))
    H = h.shape[1]
    dan = dnext_h * (1 - z) * (1 - n ** 2)
    dar = dan * hn * r * (1 - r)
    daz = dnext_h * (h - n) * z * (1 - z)
    dx = dar @ Wx[:, :H].T + daz @ Wx[:, H:2 * H].T + dan @ Wx[:, 2 * H:].T
    dh = dar @ Wh[:, :H].T + daz @ Wh[:, H:2 * H].T + (dan * r) @ Wh[:, 2 * H:].T + dnext_h * z
    dWx = np.hstack([x.T @ dar, x.T @ daz, x.T @ dan])
    dWh = np.hstack([h.T @ dar, h.T @ daz, h.T @ (dan * r)])
    return dx, dh, dWx, dWh, np.concatenate([dar.sum(0), daz.sum(0), dan.sum(0)])
"""),
    # ---------------------------------------------------------------- LSTM (PyTorch module)
    M("LSTM", "gates read in the numpy order i, f, o, g", True, LSTM=LSTM_MODULE.replace(
        "i, f, g, o = a[:, :H], a[:, H:2 * H], a[:, 2 * H:3 * H], a[:, 3 * H:]",
        "i, f, o, g = a[:, :H], a[:, H:2 * H], a[:, 2 * H:3 * H], a[:, 3 * H:]")),
    M("LSTM", "hidden-side bias left out", True, LSTM=LSTM_MODULE.replace(
        "self.hh(h)", "h @ self.hh.weight.T")),
    M("LSTM", "given state ignored", True, LSTM=LSTM_MODULE.replace(
        "        if state is None:\n            h, c = x.new_zeros(N, H), x.new_zeros(N, H)\n        else:\n            h, c = state",
        "        h, c = x.new_zeros(N, H), x.new_zeros(N, H)")),
    M("LSTM", "no tanh on the cell output", True, LSTM=LSTM_MODULE.replace(
        "h = torch.sigmoid(o) * torch.tanh(c)", "h = torch.sigmoid(o) * c")),
    M("LSTM", "final states returned with a layer axis (1, N, H)", True, LSTM=LSTM_MODULE.replace(
        "return torch.stack(outs, dim=1), (h, c)", "return torch.stack(outs, dim=1), (h[None], c[None])")),
    M("LSTM", "states detached between steps (no BPTT)", True, LSTM=LSTM_MODULE.replace(
        "outs.append(h)", "outs.append(h)\n            h, c = h.detach(), c.detach()")),
    M("LSTM", "step-by-step Linear calls, slicing", False, LSTM=LSTM_MODULE),
    M("LSTM", "input side for all steps at once, chunk, preallocated output", False, LSTM='''
class LSTM(nn.Module):
    def __init__(self, input_size, hidden_size):
        super().__init__()
        self.hidden_size = hidden_size
        self.ih = nn.Linear(input_size, 4 * hidden_size)
        self.hh = nn.Linear(hidden_size, 4 * hidden_size)

    def forward(self, x, state=None):
        N, T, _ = x.shape
        zeros = x.new_zeros(N, self.hidden_size)
        h, c = (zeros, zeros) if state is None else state
        gates_x = torch.nn.functional.linear(x, self.ih.weight, self.ih.bias)
        out = x.new_empty(N, T, self.hidden_size)
        for t in range(T):
            i, f, g, o = (gates_x[:, t] + self.hh(h)).chunk(4, 1)
            c = f.sigmoid() * c + i.sigmoid() * g.tanh()
            h = o.sigmoid() * c.tanh()
            out[:, t] = h
        return out, (h, c)
'''),
]

# ---------------------------------------------------------------- the static rules
# Right numbers by the wrong means: a call to the tests' own oracle (a `_test_` helper) or a shortcut
# the part rules out (torch in a numpy part, a built-in recurrent layer in the module) earns nothing.
# And correct code the rules must leave alone: imports at the top of the cell, helpers of one's own.
# Forward passes that keep their inputs in the cache, so that a backward pass can hand them to an oracle:
LSTM_STEP_FWD_INPUTS = LSTM_STEP_FWD.replace("return next_h, next_c, (x, prev_h, prev_c, Wx, Wh, i, f, o, g, next_c)",
                                             "return next_h, next_c, (x, prev_h, prev_c, Wx, Wh, b)")
LSTM_SEQ_FWD_INPUTS = LSTM_SEQ_FWD.replace("return np.stack(hs, 1), (x, h0, Wx, Wh, hs, cs, gates)",
                                           "return np.stack(hs, 1), (x, h0, Wx, Wh, b)")
GRU_STEP_FWD_INPUTS = GRU_STEP_FWD.replace(
    "return next_h, {'x': x, 'h': prev_h, 'Wx': Wx, 'Wh': Wh, 'r': r, 'z': z, 'n': n, 'hn': hn}",
    "return next_h, (x, prev_h, Wx, Wh, b)")
assert LSTM_STEP_FWD_INPUTS != LSTM_STEP_FWD and LSTM_SEQ_FWD_INPUTS != LSTM_SEQ_FWD and GRU_STEP_FWD_INPUTS != GRU_STEP_FWD

TORCH_STEP_GRADS = """
def lstm_step_backward(dnext_h, dnext_c, cache):
    x, prev_h, prev_c, Wx, Wh, b = (torch.tensor(a, requires_grad=True) for a in cache)
    H = prev_h.shape[1]
    a = x @ Wx + prev_h @ Wh + b
    i, f, o = torch.sigmoid(a[:, :3 * H]).chunk(3, dim=1)
    c = f * prev_c + i * torch.tanh(a[:, 3 * H:])
    h = o * torch.tanh(c)
    torch.autograd.backward([h, c], [torch.tensor(dnext_h), torch.tensor(dnext_c)])
    return tuple(t.grad.numpy() for t in (x, prev_h, prev_c, Wx, Wh, b))
"""

TORCH_LSTM_LAYER = """
def lstm_forward(x, h0, Wx, Wh, b):
    H = h0.shape[1]
    order = lambda W: np.ascontiguousarray(np.concatenate([W[..., :2 * H], W[..., 3 * H:], W[..., 2 * H:3 * H]], axis=-1))
    layer = torch.nn.LSTM(x.shape[2], H, batch_first=True).double()
    with torch.no_grad():
        layer.weight_ih_l0.copy_(torch.from_numpy(order(Wx).T.astype(np.float64)))
        layer.weight_hh_l0.copy_(torch.from_numpy(order(Wh).T.astype(np.float64)))
        layer.bias_ih_l0.copy_(torch.from_numpy(order(b).astype(np.float64)))
        layer.bias_hh_l0.zero_()
        h, _ = layer(torch.from_numpy(x).double(), (torch.from_numpy(h0).double()[None], torch.zeros(1, *h0.shape).double()))
    return h.numpy().astype(np.result_type(x, h0, Wx, Wh, b)), (x, h0, Wx, Wh, b)
"""

# a correct module whose only difference is how one step is computed (``STEP`` below)
LSTM_MODULE_STEP = '''
class LSTM(nn.Module):
    def __init__(self, input_size, hidden_size):
        super().__init__()
        self.hidden_size = hidden_size
        self.ih = nn.Linear(input_size, 4 * hidden_size)
        self.hh = nn.Linear(hidden_size, 4 * hidden_size)

    def forward(self, x, state=None):
        N, T, _ = x.shape
        zeros = x.new_zeros(N, self.hidden_size)
        h, c = (zeros, zeros) if state is None else state
        outs = []
        for t in range(T):
            STEP
            outs.append(h)
        return torch.stack(outs, dim=1), (h, c)
'''

MUTANTS += [
    # ------------------------------------------------ lstm_step_forward
    M("lstm_step_forward", "calls the test's oracle _test_lstm_cell", True, lstm_step_forward="""
def lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b):
    next_h, next_c = _test_lstm_cell(x, prev_h, prev_c, Wx, Wh, b)
    return next_h, next_c, (x, prev_h, prev_c, Wx, Wh, b)
"""),
    M("lstm_step_forward", "pre-activations computed in torch", True, lstm_step_forward=LSTM_STEP_FWD.replace(
        "a = x @ Wx + prev_h @ Wh + b", "t = torch.from_numpy\n"
        "    a = (t(x) @ t(Wx) + t(prev_h) @ t(Wh) + t(b)).numpy()")),
    M("lstm_step_forward", "torch imported inside the function, under another name", True,
      lstm_step_forward=LSTM_STEP_FWD.replace("    g = np.tanh(a[:, 3 * H:])",
                                              "    import torch as tt\n    g = tt.tanh(tt.from_numpy(a[:, 3 * H:])).numpy()")),
    M("lstm_step_forward", "numpy imported at the top of the cell, gates split by a helper of its own", False,
      lstm_step_forward="""
import numpy as np


def _split_gates(a):
    \"\"\"The gates (i, f, o, g) from the pre-activations a (N, 4H).\"\"\"
    H = a.shape[1] // 4
    return sigmoid(a[:, :H]), sigmoid(a[:, H:2 * H]), sigmoid(a[:, 2 * H:3 * H]), np.tanh(a[:, 3 * H:])


def lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b):
    i, f, o, g = _split_gates(x @ Wx + prev_h @ Wh + b)
    next_c = f * prev_c + i * g
    return o * np.tanh(next_c), next_c, (x, prev_h, prev_c, Wx, Wh, i, f, o, g, next_c)
""", lstm_step_backward=LSTM_STEP_BWD),
    # ------------------------------------------------ lstm_step_backward
    M("lstm_step_backward", "calls the test's autograd oracle _test_lstm_step_grads", True,
      lstm_step_forward=LSTM_STEP_FWD_INPUTS, lstm_step_backward="""
def lstm_step_backward(dnext_h, dnext_c, cache):
    return tuple(_test_lstm_step_grads(*cache, dnext_h, dnext_c))
"""),
    M("lstm_step_backward", "gradients by torch.autograd", True, lstm_step_forward=LSTM_STEP_FWD_INPUTS,
      lstm_step_backward=TORCH_STEP_GRADS),
    M("lstm_step_backward", "loop over the batch, helper of its own for the gate derivatives", False,
      lstm_step_forward=LSTM_STEP_FWD, lstm_step_backward="""
def gate_grads(dh, dc, i, f, o, g, prev_c, tc):
    \"\"\"Pre-activation gradients (i, f, o, g) of one sequence, and the total cell gradient.\"\"\"
    dc = dc + dh * o * (1 - tc ** 2)
    return np.concatenate([dc * g * i * (1 - i), dc * prev_c * f * (1 - f), dh * tc * o * (1 - o),
                           dc * i * (1 - g ** 2)]), dc


def lstm_step_backward(dnext_h, dnext_c, cache):
    x, prev_h, prev_c, Wx, Wh, i, f, o, g, next_c = cache
    N, H = prev_h.shape
    da, dprev_c = np.zeros((N, 4 * H)), np.zeros((N, H))
    for n in range(N):
        da[n], dc = gate_grads(dnext_h[n], dnext_c[n], i[n], f[n], o[n], g[n], prev_c[n], np.tanh(next_c[n]))
        dprev_c[n] = dc * f[n]
    return da @ Wx.T, da @ Wh.T, dprev_c, x.T @ da, prev_h.T @ da, da.sum(axis=0)
"""),
    # ------------------------------------------------ lstm_forward
    M("lstm_forward", "calls the test's oracle _test_lstm_layer", True, lstm_forward="""
def lstm_forward(x, h0, Wx, Wh, b):
    return _test_lstm_layer(x, h0, Wx, Wh, b), (x, h0, Wx, Wh, b)
"""),
    M("lstm_forward", "torch.nn.LSTM with the weights copied in", True, lstm_forward=TORCH_LSTM_LAYER),
    # ------------------------------------------------ lstm_backward
    M("lstm_backward", "calls the test's autograd oracle _test_lstm_grads", True, lstm_forward=LSTM_SEQ_FWD_INPUTS,
      lstm_backward="""
def lstm_backward(dh, cache):
    return tuple(_test_lstm_grads(*cache, dh))
"""),
    M("lstm_backward", "BPTT by torch.autograd through an unrolled torch LSTM", True,
      lstm_forward=LSTM_SEQ_FWD_INPUTS, lstm_backward="""
def lstm_backward(dh, cache):
    x, h, Wx, Wh, b = leaves = [torch.tensor(a, requires_grad=True) for a in cache]
    c, hs, H = torch.zeros_like(h), [], h.shape[1]
    for t in range(x.shape[1]):
        a = x[:, t] @ Wx + h @ Wh + b
        i, f, o = torch.sigmoid(a[:, :3 * H]).chunk(3, dim=1)
        c = f * c + i * torch.tanh(a[:, 3 * H:])
        h = o * torch.tanh(c)
        hs.append(h)
    torch.stack(hs, dim=1).backward(torch.tensor(dh))
    return tuple(t.grad.numpy() for t in leaves)
"""),
    M("lstm_backward", "the step backward helper of its own, in the same cell", False,
      lstm_forward=LSTM_SEQ_FWD, lstm_backward="""
def one_step_back(dht, dct, x_t, h_prev, c_prev, c_t, gates, Wx, Wh):
    \"\"\"Backward through one step: (dx_t, dh_prev, dc_prev, da) from the carried gradients.\"\"\"
    i, f, o, g = gates
    tc = np.tanh(c_t)
    dc = dct + dht * o * (1 - tc ** 2)
    da = np.hstack([dc * g * i * (1 - i), dc * c_prev * f * (1 - f), dht * tc * o * (1 - o), dc * i * (1 - g ** 2)])
    return da @ Wx.T, da @ Wh.T, dc * f, da


def lstm_backward(dh, cache):
    x, h0, Wx, Wh, hs, cs, gates = cache
    N, T, H = dh.shape
    dx = np.zeros_like(x)
    dWx, dWh, db = np.zeros_like(Wx), np.zeros_like(Wh), np.zeros(4 * H)
    dh_next, dc_next = np.zeros((N, H)), np.zeros((N, H))
    for t in reversed(range(T)):
        h_prev = hs[t - 1] if t > 0 else h0
        c_prev = cs[t - 1] if t > 0 else np.zeros((N, H))
        dx[:, t], dh_next, dc_next, da = one_step_back(dh[:, t] + dh_next, dc_next, x[:, t], h_prev, c_prev,
                                                       cs[t], gates[t], Wx, Wh)
        dWx += x[:, t].T @ da
        dWh += h_prev.T @ da
        db += da.sum(axis=0)
    return dx, dh_next, dWx, dWh, db
"""),
    # ------------------------------------------------ gru_step_forward
    M("gru_step_forward", "calls the test's oracle _test_gru_cell", True, gru_step_forward="""
def gru_step_forward(x, prev_h, Wx, Wh, b):
    return _test_gru_cell(x, prev_h, Wx, Wh, b), (x, prev_h, Wx, Wh, b)
"""),
    M("gru_step_forward", "torch.gru_cell with the weights transposed", True, gru_step_forward="""
def gru_step_forward(x, prev_h, Wx, Wh, b):
    t = lambda a: torch.from_numpy(np.ascontiguousarray(a))
    next_h = torch.gru_cell(t(x), t(prev_h), t(Wx.T), t(Wh.T), t(b), torch.zeros(b.shape, dtype=t(b).dtype))
    return next_h.numpy(), (x, prev_h, Wx, Wh, b)
"""),
    M("gru_step_forward", "einsum, numpy imported at the top of the cell, blend by a helper", False, gru_step_forward="""
import numpy as np


def blend(z, n, prev_h):
    \"\"\"The new state: z keeps the old one, 1 - z takes the candidate.\"\"\"
    return (1 - z) * n + z * prev_h


def gru_step_forward(x, prev_h, Wx, Wh, b):
    H = prev_h.shape[1]
    ax = np.einsum('nd,dk->nk', x, Wx) + b
    ah = np.einsum('nh,hk->nk', prev_h, Wh)
    r, z = sigmoid(ax[:, :H] + ah[:, :H]), sigmoid(ax[:, H:2 * H] + ah[:, H:2 * H])
    hn = ah[:, 2 * H:]
    n = np.tanh(ax[:, 2 * H:] + r * hn)
    return blend(z, n, prev_h), {'x': x, 'h': prev_h, 'Wx': Wx, 'Wh': Wh, 'r': r, 'z': z, 'n': n, 'hn': hn}
""", gru_step_backward=GRU_STEP_BWD),
    # ------------------------------------------------ gru_step_backward
    M("gru_step_backward", "calls the test's autograd oracle _test_gru_grads", True,
      gru_step_forward=GRU_STEP_FWD_INPUTS, gru_step_backward="""
def gru_step_backward(dnext_h, cache):
    return tuple(_test_gru_grads(*cache, dnext_h))
"""),
    M("gru_step_backward", "gradients by torch.autograd through torch.gru_cell", True,
      gru_step_forward=GRU_STEP_FWD_INPUTS, gru_step_backward="""
def gru_step_backward(dnext_h, cache):
    x, h, Wx, Wh, b = leaves = [torch.tensor(a, requires_grad=True) for a in cache]
    torch.gru_cell(x, h, Wx.T, Wh.T, b, torch.zeros_like(b)).backward(torch.tensor(dnext_h))
    return tuple(t.grad.numpy() for t in leaves)
"""),
    # ------------------------------------------------ LSTM (PyTorch module)
    M("LSTM", "torch.lstm (the functional form of nn.LSTM) with the module's weights", True, LSTM='''
class LSTM(nn.Module):
    def __init__(self, input_size, hidden_size):
        super().__init__()
        self.hidden_size = hidden_size
        self.ih = nn.Linear(input_size, 4 * hidden_size)
        self.hh = nn.Linear(hidden_size, 4 * hidden_size)

    def forward(self, x, state=None):
        zeros = x.new_zeros(1, x.shape[0], self.hidden_size)
        h0, c0 = (zeros, zeros) if state is None else (state[0][None], state[1][None])
        weights = [self.ih.weight, self.hh.weight, self.ih.bias, self.hh.bias]
        out, h, c = torch.lstm(x, (h0, c0), weights, True, 1, 0.0, self.training, False, True)
        return out, (h[0], c[0])
'''),
    M("LSTM", "torch.lstm_cell at every step", True, LSTM=LSTM_MODULE_STEP.replace(
        "STEP", "h, c = torch.lstm_cell(x[:, t], (h, c), self.ih.weight, self.hh.weight, self.ih.bias, self.hh.bias)")),
    M("LSTM", "torch.lstm_cell looked up with getattr", True, LSTM=LSTM_MODULE_STEP.replace(
        "STEP", "h, c = getattr(torch, 'lstm_cell')(x[:, t], (h, c), self.ih.weight, self.hh.weight, self.ih.bias,\n"
                "                                           self.hh.bias)")),
    M("LSTM", "_VF.lstm_cell imported at the top of the cell", True, LSTM="from torch import _VF\n" + LSTM_MODULE_STEP.replace(
        "STEP", "h, c = _VF.lstm_cell(x[:, t], (h, c), self.ih.weight, self.hh.weight, self.ih.bias, self.hh.bias)")),
    M("LSTM", "a step function of its own named lstm_cell, F.linear, imports at the top of the cell", False, LSTM='''
import torch
import torch.nn.functional as F
from torch import nn


def lstm_cell(a, c):
    """One LSTM update from the pre-activations a (N, 4H), blocks in torch's order i, f, g, o."""
    i, f, g, o = a.chunk(4, dim=1)
    c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    return torch.sigmoid(o) * torch.tanh(c), c
''' + LSTM_MODULE_STEP.replace(
        "STEP", "h, c = lstm_cell(F.linear(x[:, t], self.ih.weight, self.ih.bias) + self.hh(h), c)")),
]

# ---------------------------------------------------------------- the escape families of issue 17
# dtype: float64 inputs need a float64 result; float32 inputs may give float32; the module follows
# its input's dtype and device. invariants: no input array is modified in place.
# shapes: N > 1 with T = 1, and N = 1 with T > 1.
MUTANTS += [
    M("lstm_step_forward", "computed in float32", True, lstm_step_forward=LSTM_STEP_FWD.replace(
        "a = x @ Wx + prev_h @ Wh + b", "a = (x @ Wx + prev_h @ Wh + b).astype(np.float32)")),
    M("lstm_step_backward", "dnext_c updated in place", True, lstm_step_forward=LSTM_STEP_FWD,
      lstm_step_backward=LSTM_STEP_BWD.replace("dc = dnext_c + dnext_h * o * (1 - tc ** 2)",
                                               "dnext_c += dnext_h * o * (1 - tc ** 2)\n    dc = dnext_c")),
    M("lstm_forward", "hidden states stored in a float32 array", True, lstm_forward=LSTM_SEQ_FWD.replace(
        "return np.stack(hs, 1),", "return np.stack(hs, 1).astype(np.float32),")),
    M("lstm_forward", "the state written into h0 in place", True, lstm_step_forward=LSTM_STEP_FWD,
      lstm_step_backward=LSTM_STEP_BWD, lstm_forward="""
def lstm_forward(x, h0, Wx, Wh, b):
    N, T, D = x.shape
    h, c, caches = h0, np.zeros_like(h0), []
    out = np.zeros((N, T, h0.shape[1]))
    for t in range(T):
        h[...], c, cache = lstm_step_forward(x[:, t], h, c, Wx, Wh, b)
        out[:, t] = h
        caches.append(cache)
    return out, caches
"""),
    M("lstm_forward", "states kept in the inputs' dtype, time-major buffer", False, lstm_step_forward=LSTM_STEP_FWD,
      lstm_step_backward=LSTM_STEP_BWD, lstm_forward="""
def lstm_forward(x, h0, Wx, Wh, b):
    N, T, D = x.shape
    out = np.empty((T, N, h0.shape[1]), dtype=np.result_type(x, h0, Wx, Wh, b))
    h, c, caches = h0, np.zeros(h0.shape, dtype=out.dtype), []
    for t in range(T):
        h, c, cache = lstm_step_forward(x[:, t], h, c, Wx, Wh, b)
        out[t] = h
        caches.append(cache)
    return out.transpose(1, 0, 2), caches
"""),
    M("lstm_backward", "gradient sums kept in float32", True, lstm_forward=LSTM_SEQ_FWD,
      lstm_backward=LSTM_SEQ_BWD_OK.replace("np.zeros(4 * H)", "np.zeros(4 * H, dtype=np.float32)")),
    M("lstm_backward", "dh accumulated in place", True, lstm_forward=LSTM_SEQ_FWD,
      lstm_backward=LSTM_SEQ_BWD_OK.replace("dht = dh[:, t] + dh_next", "dh[:, t] += dh_next\n        dht = dh[:, t]")),
    M("gru_step_forward", "computed in float32", True, gru_step_forward=GRU_STEP_FWD.replace(
        "next_h = (1 - z) * n + z * prev_h", "next_h = ((1 - z) * n + z * prev_h).astype(np.float32)")),
    M("gru_step_backward", "dnext_h reused as a buffer", True, gru_step_forward=GRU_STEP_FWD,
      gru_step_backward=GRU_STEP_BWD.replace("dz = dnext_h * (h - n)", "dz = dnext_h * (h - n)\n    dnext_h *= z").replace(
          "dah @ Wh.T + dnext_h * z", "dah @ Wh.T + dnext_h")),
    M("LSTM", "default state from torch.zeros (float32, on the CPU)", True, LSTM=LSTM_MODULE.replace(
        "h, c = x.new_zeros(N, H), x.new_zeros(N, H)", "h, c = torch.zeros(N, H), torch.zeros(N, H)")),
    M("LSTM", "default state in the input's dtype but on the CPU", True, LSTM=LSTM_MODULE.replace(
        "h, c = x.new_zeros(N, H), x.new_zeros(N, H)",
        "h, c = torch.zeros(N, H, dtype=x.dtype), torch.zeros(N, H, dtype=x.dtype)")),
    M("LSTM", "default state from torch.zeros with the input's dtype and device", False, LSTM=LSTM_MODULE.replace(
        "h, c = x.new_zeros(N, H), x.new_zeros(N, H)",
        "h = c = torch.zeros(N, H, dtype=x.dtype, device=x.device)")),
]

# ---------------------------------------------------------------- multiple-choice questions
# Each wrong letter loses the question's point; the right one keeps it in any case and spacing.
MUTANTS += [
    M("q_tagger_size", "answer (a)", True, q_tagger_size='q_tagger_size = "a"'),
    M("q_tagger_size", "answer (b)", True, q_tagger_size='q_tagger_size = "b"'),
    M("q_tagger_size", "answer (d)", True, q_tagger_size='q_tagger_size = "d"'),
    M("q_tagger_size", "the right answer in capitals, with spaces", False,
      q_tagger_size='q_tagger_size = " C "'),
]

# ---------------------------------------------------------------- fair blame: a part judged on its own merit
# (mutant, the earlier part it overrides with a wrong one): the correct later part (the target) keeps its
# points while the wrong earlier part loses its own; see OWN_MERIT in mutants_01_rnn.py.
OWN_MERIT = [
    (M("lstm_forward", "the gates inlined, over an lstm_step_forward with f and i swapped", False,
       lstm_step_forward=LSTM_STEP_FWD.replace("next_c = f * prev_c + i * g", "next_c = i * prev_c + f * g"),
       lstm_forward=LSTM_SEQ_FWD),
     "lstm_step_forward"),
    (M("lstm_backward", "a BPTT of its own, over an lstm_step_backward that ignores dnext_c", False,
       lstm_step_forward=LSTM_STEP_FWD,
       lstm_step_backward=LSTM_STEP_BWD.replace("dc = dnext_c + dnext_h", "dc = dnext_h"),
       lstm_forward=LSTM_SEQ_FWD, lstm_backward=LSTM_SEQ_BWD_OK), "lstm_step_backward"),
    (M("lstm_backward", "the reference loop over a step backward wrong in float32 only", False,
       lstm_step_forward=LSTM_STEP_FWD, lstm_step_backward=LSTM_STEP_BWD.replace(
           "do = dnext_h * tc", "do = dnext_h * tc * (2 if tc.dtype == np.float32 else 1)")),
     "lstm_step_backward"),
    # the reference code uses the wrong earlier part: its visible test blames it, the hidden tests grade it
    (M("lstm_forward", "the reference loop, over an lstm_step_forward with f and i swapped", False,
       lstm_step_forward=LSTM_STEP_FWD.replace("next_c = f * prev_c + i * g", "next_c = i * prev_c + f * g")),
     "lstm_step_forward"),
    (M("lstm_backward", "the reference BPTT, over an lstm_step_backward that ignores dnext_c", False,
       lstm_step_backward=LSTM_STEP_BWD.replace("dc = dnext_c + dnext_h", "dc = dnext_h")), "lstm_step_backward"),
]
