"""Implementations of Lab 8's graded functions that a student might write, for the mutation tests.

Each ``Mutant`` replaces one or more solution cells. ``wrong`` ones hold a plausible bug and must
lose the target's points; the others are correct but written differently (RoPE with complex
numbers, attention through PyTorch's fused kernel, top-k by ``kthvalue``, sampling by the inverse
CDF or the Gumbel-max trick, a LoRA forward through the merged weight) and must keep every point.
Mutants of a later part bring their own code, or use the earlier parts the notebook holds;
OWN_MERIT pairs a correct later part with a wrong earlier one. These were written from the lab's
stated contracts (the markdown and docstrings), not from the reference code.
"""
from __future__ import annotations

from labharness import Mutant, choice_mutants, replaced, wrong_part

M = Mutant.of




# ---------------------------------------------------------------- Part 1: apply_rope
# interleaved pairs (2i, 2i + 1), theta_i = base ** (-2i / d_k), float32 angles as most students write them
ROPE = '''
def apply_rope(x, positions, base=10000.0):
    N, h, T, d_k = x.shape
    i = torch.arange(d_k // 2, device=x.device, dtype=torch.float32)
    theta = base ** (-2 * i / d_k)                                         # (d_k/2,)
    angle = positions.to(torch.float32)[:, None, :, None] * theta         # (N, 1, T, d_k/2)
    cos, sin = torch.cos(angle).to(x.dtype), torch.sin(angle).to(x.dtype)
    x1, x2 = x[..., 0::2], x[..., 1::2]                                    # (N, h, T, d_k/2) each
    out = torch.empty_like(x)
    out[..., 0::2] = x1 * cos - x2 * sin
    out[..., 1::2] = x1 * sin + x2 * cos
    return out
'''

# (x[2i] + j x[2i+1]) * exp(j a), in float64 complex numbers
ROPE_COMPLEX = '''
def apply_rope(x, positions, base=10000.0):
    d_k = x.shape[-1]
    freqs = 1.0 / (base ** (torch.arange(0, d_k, 2, dtype=torch.float64, device=x.device) / d_k))
    angle = positions.to(torch.float64)[..., None] * freqs                  # (N, T, d_k/2)
    rot = torch.polar(torch.ones_like(angle), angle)[:, None]              # (N, 1, T, d_k/2) complex
    pairs = x.to(torch.float64).reshape(*x.shape[:-1], d_k // 2, 2).contiguous()
    turned = torch.view_as_complex(pairs) * rot                            # (N, h, T, d_k/2) complex
    return torch.view_as_real(turned).reshape(x.shape).to(x.dtype)
'''

# cos and sin tables repeated to full width, and the pairs turned by a quarter (GPT-J's rotate_every_two)
ROPE_TABLES = '''
def apply_rope(x, positions, base=10000.0):
    d_k = x.shape[-1]
    inv = torch.pow(torch.tensor(float(base), dtype=torch.float64), -torch.arange(0, d_k, 2, dtype=torch.float64) / d_k)
    angle = positions.double().unsqueeze(-1) * inv.to(positions.device)      # (N, T, d_k/2)
    cos = torch.repeat_interleave(angle.cos(), 2, dim=-1).unsqueeze(1)       # (N, 1, T, d_k)
    sin = torch.repeat_interleave(angle.sin(), 2, dim=-1).unsqueeze(1)
    turned = torch.stack([-x[..., 1::2], x[..., 0::2]], dim=-1).flatten(-2)  # (-x1, x0, -x3, x2, ...)
    return (x * cos.to(x.dtype) + turned * sin.to(x.dtype))
'''

# a loop over the pairs, math on Python floats for the frequencies
ROPE_LOOP = '''
def apply_rope(x, positions, base=10000.0):
    d_k = x.shape[-1]
    pos = positions.to(x.dtype)[:, None, :]                                # (N, 1, T)
    columns = []
    for i in range(d_k // 2):
        a = pos * (base ** (-2.0 * i / d_k))
        c, s = torch.cos(a), torch.sin(a)
        even, odd = x[..., 2 * i], x[..., 2 * i + 1]
        columns += [even * c - odd * s, even * s + odd * c]
    return torch.stack(columns, dim=-1)
'''

MUTANTS = [
    M("apply_rope", "half-split pairs (i, i + d_k/2), GPT-NeoX's rotate_half", True, apply_rope='''
def apply_rope(x, positions, base=10000.0):
    d_k = x.shape[-1]
    half = d_k // 2
    i = torch.arange(half, device=x.device, dtype=torch.float32)
    angle = positions.float()[:, None, :, None] * base ** (-2 * i / d_k)   # (N, 1, T, d_k/2)
    cos, sin = angle.cos().to(x.dtype), angle.sin().to(x.dtype)
    x1, x2 = x[..., :half], x[..., half:]
    return torch.cat([x1 * cos - x2 * sin, x1 * sin + x2 * cos], dim=-1)
'''),
    M("apply_rope", "rotation the other way (sign of sin flipped)", True, apply_rope=replaced(replaced(ROPE,
        "x1 * cos - x2 * sin", "x1 * cos + x2 * sin"), "x1 * sin + x2 * cos", "-x1 * sin + x2 * cos")),
    M("apply_rope", "theta_i = base ** (-i / d_k)", True, apply_rope=replaced(ROPE,
        "base ** (-2 * i / d_k)", "base ** (-i / d_k)")),
    M("apply_rope", "positions ignored: 0 .. T-1 for every row", True, apply_rope=replaced(ROPE,
        "positions.to(torch.float32)[:, None, :, None]",
        "torch.arange(T, device=x.device, dtype=torch.float32)[None, None, :, None]")),
    M("apply_rope", "positions off by one (counted from 1)", True, apply_rope=replaced(ROPE,
        "positions.to(torch.float32)", "(positions + 1).to(torch.float32)")),
    M("apply_rope", "cos and sin swapped", True, apply_rope=replaced(ROPE,
        "cos, sin = torch.cos(angle).to(x.dtype), torch.sin(angle).to(x.dtype)",
        "sin, cos = torch.cos(angle).to(x.dtype), torch.sin(angle).to(x.dtype)")),
    M("apply_rope", "the first row's positions for every row", True, apply_rope=replaced(ROPE,
        "positions.to(torch.float32)[:, None, :, None]", "positions[:1].to(torch.float32)[:, None, :, None]")),
    M("apply_rope", "the odd channels left as they are", True, apply_rope=replaced(ROPE,
        "out[..., 1::2] = x1 * sin + x2 * cos", "out[..., 1::2] = x2")),
    M("apply_rope", "the base argument ignored (always 10000)", True, apply_rope=replaced(ROPE,
        "base ** (-2 * i / d_k)", "10000.0 ** (-2 * i / d_k)")),
    M("apply_rope", "x rotated in place", True, apply_rope=replaced(replaced(ROPE,
        "x1, x2 = x[..., 0::2], x[..., 1::2]", "x1, x2 = x[..., 0::2].clone(), x[..., 1::2].clone()"),
        "    out = torch.empty_like(x)\n", "    out = x\n")),
    M("apply_rope", "float32 angles (the contract's tolerance allows them)", False, apply_rope=ROPE),
    M("apply_rope", "complex numbers, torch.polar", False, apply_rope=ROPE_COMPLEX),
    M("apply_rope", "repeated cos/sin tables and the pairs turned a quarter", False, apply_rope=ROPE_TABLES),
    M("apply_rope", "a loop over the pairs, stacked", False, apply_rope=ROPE_LOOP),
]

# ---------------------------------------------------------------- Part 2: CachedSelfAttention
INIT = '''
class CachedSelfAttention(nn.Module):
    """Causal multi-head self-attention with rotary positions and a key/value cache for decoding."""

    def __init__(self, E: int, h: int, rope_base: float = 10000.0):
        super().__init__()
        if E % h or (E // h) % 2:
            raise ValueError(f"E = {E} must split into h = {h} heads of an even size d_k")
        self.h, self.d_k, self.rope_base = h, E // h, rope_base
        self.qkv = nn.Linear(E, 3 * E, bias=False)   # W_q, W_k, W_v side by side
        self.proj = nn.Linear(E, E, bias=False)      # W_o
'''

ATTN = INIT + '''
    def forward(self, x, positions, key_mask, cache=None):
        N, T, E = x.shape
        q, k, v = self.qkv(x).split(E, dim=-1)                              # (N, T, E) each
        q = q.view(N, T, self.h, self.d_k).transpose(1, 2)                  # (N, h, T, d_k)
        k = k.view(N, T, self.h, self.d_k).transpose(1, 2)
        v = v.view(N, T, self.h, self.d_k).transpose(1, 2)
        q = apply_rope(q, positions, self.rope_base)
        k = apply_rope(k, positions, self.rope_base)
        if cache is not None:
            k = torch.cat([cache[0], k], dim=2)                             # (N, h, S+T, d_k)
            v = torch.cat([cache[1], v], dim=2)
        S = k.shape[2] - T
        i = torch.arange(T, device=x.device)[:, None]
        j = torch.arange(S + T, device=x.device)[None, :]
        allowed = (j <= S + i)[None, None] & key_mask[:, None, None, :]     # (N, 1, T, S+T)
        scores = q @ k.transpose(-2, -1) / math.sqrt(self.d_k)              # (N, h, T, S+T)
        w = torch.softmax(scores.masked_fill(~allowed, float("-inf")), dim=-1)
        w = torch.where(allowed, w, torch.zeros((), dtype=w.dtype, device=w.device))   # rows with no key: 0
        out = w @ v                                                         # (N, h, T, d_k)
        y = self.proj(out.transpose(1, 2).reshape(N, T, E))
        return y, (k, v)
'''

# the fused kernel with a boolean mask; rows with no allowed key (NaN there) set to zero
ATTN_SDPA = INIT + '''
    def forward(self, x, positions, key_mask, cache=None):
        N, T, E = x.shape
        q, k, v = self.qkv(x).view(N, T, 3, self.h, self.d_k).permute(2, 0, 3, 1, 4)   # 3 x (N, h, T, d_k)
        q = apply_rope(q, positions, self.rope_base)
        k = apply_rope(k, positions, self.rope_base)
        if cache is not None:
            k, v = torch.cat((cache[0], k), 2), torch.cat((cache[1], v), 2)
        S = k.shape[2] - T
        causal = torch.ones(T, S + T, dtype=torch.bool, device=x.device).tril(diagonal=S)
        allowed = causal & key_mask[:, None, None, :]                        # (N, 1, T, S+T)
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=allowed)
        out = torch.where(allowed.any(-1, keepdim=True), out, torch.zeros_like(out))
        return self.proj(out.transpose(1, 2).contiguous().view(N, T, E)), (k, v)
'''

# the notebook's masked_attention helper, q k v by unbind, the mask from the slots' indices
ATTN_HELPER = INIT + '''
    def forward(self, x, positions, key_mask, cache=None):
        N, T, E = x.shape
        qkv = self.qkv(x).reshape(N, T, 3, self.h, self.d_k)
        q, k, v = (t.transpose(1, 2) for t in qkv.unbind(dim=2))           # (N, h, T, d_k) each
        q, k = apply_rope(q, positions, self.rope_base), apply_rope(k, positions, self.rope_base)
        k_all = k if cache is None else torch.cat([cache[0], k], dim=2)
        v_all = v if cache is None else torch.cat([cache[1], v], dim=2)
        S = k_all.shape[2] - T
        query_slot = S + torch.arange(T, device=x.device)
        key_slot = torch.arange(S + T, device=x.device)
        allowed = (key_slot[None, :] <= query_slot[:, None]).view(1, 1, T, S + T) & key_mask.view(N, 1, 1, S + T)
        out = masked_attention(q, k_all, v_all, allowed)                   # (N, h, T, d_k)
        merged = out.permute(0, 2, 1, 3).reshape(N, T, E)
        return self.proj(merged), (k_all, v_all)
'''

MUTANTS += [
    M("CachedSelfAttention", "causal mask without the cache offset: query i sees slots <= i", True,
      CachedSelfAttention=replaced(ATTN, "allowed = (j <= S + i)", "allowed = (j <= i)")),
    M("CachedSelfAttention", "key_mask ignored", True,
      CachedSelfAttention=replaced(ATTN, "allowed = (j <= S + i)[None, None] & key_mask[:, None, None, :]",
                               "allowed = (j <= S + i)[None, None].expand(N, 1, T, S + T)")),
    M("CachedSelfAttention", "keys cached before RoPE (the cache holds unrotated keys)", True,
      CachedSelfAttention=replaced(replaced(replaced(ATTN,
          "        k = apply_rope(k, positions, self.rope_base)\n", "        raw = k\n        k = apply_rope(k, positions, self.rope_base)\n"),
          "            v = torch.cat([cache[1], v], dim=2)\n",
          "            v = torch.cat([cache[1], v], dim=2)\n            raw = torch.cat([cache[0], raw], dim=2)\n"),
          "return y, (k, v)", "return y, (raw, v)")),
    M("CachedSelfAttention", "returns only the new keys and values as the cache", True,
      CachedSelfAttention=replaced(replaced(ATTN, "        if cache is not None:\n            k = torch.cat",
                                    "        k_new, v_new = k, v\n        if cache is not None:\n            k = torch.cat"),
                               "return y, (k, v)", "return y, (k_new, v_new)")),
    M("CachedSelfAttention", "no 1/sqrt(d_k) scaling", True,
      CachedSelfAttention=replaced(ATTN, "q @ k.transpose(-2, -1) / math.sqrt(self.d_k)", "q @ k.transpose(-2, -1)")),
    M("CachedSelfAttention", "RoPE applied to the values too", True,
      CachedSelfAttention=replaced(ATTN, "        k = apply_rope(k, positions, self.rope_base)\n",
                               "        k = apply_rope(k, positions, self.rope_base)\n"
                               "        v = apply_rope(v, positions, self.rope_base)\n")),
    M("CachedSelfAttention", "RoPE not applied to the queries", True,
      CachedSelfAttention=replaced(ATTN, "        q = apply_rope(q, positions, self.rope_base)\n", "")),
    M("CachedSelfAttention", "heads merged without the transpose: (N, h, T, d_k) reshaped to (N, T, E)", True,
      CachedSelfAttention=replaced(ATTN, "out.transpose(1, 2).reshape(N, T, E)", "out.reshape(N, T, E)")),
    M("CachedSelfAttention", "positions taken as the slot numbers S .. S+T-1 (left padding ignored)", True,
      CachedSelfAttention=replaced(replaced(ATTN,
          "        q = apply_rope(q, positions, self.rope_base)\n        k = apply_rope(k, positions, self.rope_base)\n", ""),
          "        S = k.shape[2] - T\n",
          "        S = k.shape[2] - T\n"
          "        slots = torch.arange(S, S + T, device=x.device).expand(N, T)\n"
          "        q = apply_rope(q, slots, self.rope_base)\n"
          "        k = torch.cat([k[:, :, :S], apply_rope(k[:, :, S:], slots, self.rope_base)], dim=2)\n")),
    M("CachedSelfAttention", "q, k, v split within each head (view (N, T, h, 3 d_k), then chunk)", True,
      CachedSelfAttention=replaced(ATTN,
          "        q, k, v = self.qkv(x).split(E, dim=-1)                              # (N, T, E) each\n"
          "        q = q.view(N, T, self.h, self.d_k).transpose(1, 2)                  # (N, h, T, d_k)\n"
          "        k = k.view(N, T, self.h, self.d_k).transpose(1, 2)\n"
          "        v = v.view(N, T, self.h, self.d_k).transpose(1, 2)\n",
          "        q, k, v = self.qkv(x).view(N, T, self.h, 3 * self.d_k).transpose(1, 2).chunk(3, dim=-1)\n")),
    M("CachedSelfAttention", "a query with no allowed key gives NaN (softmax over -inf only)", True,
      CachedSelfAttention=replaced(ATTN,
          "        w = torch.where(allowed, w, torch.zeros((), dtype=w.dtype, device=w.device))   # rows with no key: 0\n",
          "")),
    M("CachedSelfAttention", "a query may not see its own key (j < S + i)", True,
      CachedSelfAttention=replaced(ATTN, "allowed = (j <= S + i)", "allowed = (j < S + i)")),
    M("CachedSelfAttention", "F.scaled_dot_product_attention, empty rows zeroed", False, CachedSelfAttention=ATTN_SDPA),
    M("CachedSelfAttention", "the masked_attention helper, unbind and slot indices", False, CachedSelfAttention=ATTN_HELPER),
    M("CachedSelfAttention", "softmax by hand with a large negative fill", False,
      CachedSelfAttention=replaced(ATTN,
          '        w = torch.softmax(scores.masked_fill(~allowed, float("-inf")), dim=-1)\n'
          "        w = torch.where(allowed, w, torch.zeros((), dtype=w.dtype, device=w.device))   # rows with no key: 0\n",
          "        scores = scores.masked_fill(~allowed, -1e9)\n"
          "        e = torch.exp(scores - scores.amax(dim=-1, keepdim=True)) * allowed\n"
          "        w = e / e.sum(dim=-1, keepdim=True).clamp(min=1e-30)\n")),
]

# ---------------------------------------------------------------- Part 3a: sampling_probs
# penalty by scatter, top-k by the k-th largest value, top-p by sorting with ties kept together
PROBS = '''
def sampling_probs(logits, temperature=1.0, top_k=None, top_p=None, repetition_penalty=1.0, prev=None):
    z = logits.clone()
    if prev is not None and prev.shape[1] > 0:
        seen = torch.zeros(z.shape, dtype=torch.bool, device=z.device).scatter(1, prev, True)
        penalised = torch.where(z > 0, z / repetition_penalty, z * repetition_penalty)
        z = torch.where(seen, penalised, z)
    z = z / temperature
    if top_k is not None:
        k = min(top_k, z.shape[1])
        kth = torch.topk(z, k, dim=1).values[:, -1:]                         # (N, 1) the k-th largest
        z = z.masked_fill(z < kth, float("-inf"))
    probs = torch.softmax(z, dim=1)
    if top_p is not None:
        ordered, _ = torch.sort(probs, dim=1, descending=True)
        before = torch.cumsum(ordered, dim=1) - ordered                     # mass before each sorted slot
        first = torch.searchsorted(-ordered, -probs, side="left")           # first slot of each token's value
        above = before.gather(1, first)                                     # mass strictly more probable
        probs = torch.where(above < top_p, probs, torch.zeros_like(probs))
        probs = probs / probs.sum(dim=1, keepdim=True)
    return probs
'''

# the rules read literally: pairwise comparisons (N, V, V), float64 inside
PROBS_PAIRWISE = '''
def sampling_probs(logits, temperature=1.0, top_k=None, top_p=None, repetition_penalty=1.0, prev=None):
    z = logits.to(torch.float64)
    N, V = z.shape
    if prev is not None and prev.numel() > 0:
        seen = (prev[:, :, None] == torch.arange(V, device=z.device)).any(dim=1)      # (N, V)
        z = torch.where(seen & (z > 0), z / repetition_penalty, z)
        z = torch.where(seen & (z <= 0), z * repetition_penalty, z)
    z = z / temperature
    keep = torch.ones(N, V, dtype=torch.bool, device=z.device)
    if top_k is not None:
        larger = (z[:, None, :] > z[:, :, None]).sum(dim=2)                  # (N, V): tokens strictly above t
        keep = larger < top_k
    e = torch.exp(z - z.max(dim=1, keepdim=True).values) * keep
    probs = e / e.sum(dim=1, keepdim=True)
    if top_p is not None:
        above = (probs[:, None, :] * (probs[:, None, :] > probs[:, :, None])).sum(dim=2)   # (N, V)
        probs = probs * (above < top_p)
        probs = probs / probs.sum(dim=1, keepdim=True)
    return probs.to(logits.dtype)
'''

# one row at a time with Python lists; top-k by torch.kthvalue
PROBS_ROWS = '''
def sampling_probs(logits, temperature=1.0, top_k=None, top_p=None, repetition_penalty=1.0, prev=None):
    rows = []
    V = logits.shape[1]
    for n in range(logits.shape[0]):
        z = logits[n].clone()
        if prev is not None:
            for t in set(prev[n].tolist()):
                z[t] = z[t] / repetition_penalty if z[t] > 0 else z[t] * repetition_penalty
        z = z / temperature
        if top_k is not None and top_k < V:
            kth = torch.kthvalue(z, V - top_k + 1).values
            z = torch.where(z >= kth, z, torch.full_like(z, float("-inf")))
        p = torch.softmax(z, dim=0)
        if top_p is not None:
            values = p.tolist()
            keep = [sum(q for q in values if q > mine) < top_p for mine in values]
            p = p * torch.tensor(keep, dtype=p.dtype, device=p.device)
            p = p / p.sum()
        rows.append(p)
    return torch.stack(rows)
'''

MUTANTS += [
    M("sampling_probs", "every seen logit divided by the penalty (negative ones raised)", True,
      sampling_probs=replaced(PROBS, "torch.where(z > 0, z / repetition_penalty, z * repetition_penalty)",
                          "z / repetition_penalty")),
    M("sampling_probs", "the penalty once per occurrence (penalty ** count)", True,
      sampling_probs=replaced(replaced(PROBS,
          "seen = torch.zeros(z.shape, dtype=torch.bool, device=z.device).scatter(1, prev, True)",
          "count = torch.zeros(z.shape, dtype=z.dtype, device=z.device).scatter_add(1, prev, torch.ones(prev.shape, dtype=z.dtype, device=z.device))\n"
          "        seen = count > 0\n        factor = repetition_penalty ** count"),
          "torch.where(z > 0, z / repetition_penalty, z * repetition_penalty)", "torch.where(z > 0, z / factor, z * factor)")),
    M("sampling_probs", "the tokens of every row penalised in every row", True,
      sampling_probs=replaced(PROBS, "seen = torch.zeros(z.shape, dtype=torch.bool, device=z.device).scatter(1, prev, True)",
                          "seen = torch.zeros(z.shape, dtype=torch.bool, device=z.device)\n        seen[:, prev.flatten()] = True")),
    M("sampling_probs", "top-k keeps exactly k (ties at the k-th value dropped by topk's order)", True,
      sampling_probs=replaced(PROBS,
          "        kth = torch.topk(z, k, dim=1).values[:, -1:]                         # (N, 1) the k-th largest\n"
          '        z = z.masked_fill(z < kth, float("-inf"))\n',
          "        idx = torch.topk(z, k, dim=1).indices\n"
          '        z = torch.full_like(z, float("-inf")).scatter(1, idx, z.gather(1, idx))\n')),
    M("sampling_probs", "top-k drops the k-th value itself (z > kth)", True,
      sampling_probs=replaced(PROBS, 'z.masked_fill(z < kth, float("-inf"))', 'z.masked_fill(z <= kth, float("-inf"))')),
    M("sampling_probs", "temperature multiplies the logits", True,
      sampling_probs=replaced(PROBS, "z = z / temperature", "z = z * temperature")),
    M("sampling_probs", "top-p drops the token that crosses p (cumulative mass incl. itself <= p)", True,
      sampling_probs=replaced(PROBS, "probs = torch.where(above < top_p, probs", "probs = torch.where(above + probs <= top_p, probs")),
    M("sampling_probs", "no renormalisation after top-p", True,
      sampling_probs=replaced(PROBS, "        probs = probs / probs.sum(dim=1, keepdim=True)\n", "")),
    M("sampling_probs", "top-p ties broken by sort order (cumsum in sorted order)", True,
      sampling_probs=replaced(PROBS,
          "        ordered, _ = torch.sort(probs, dim=1, descending=True)\n"
          "        before = torch.cumsum(ordered, dim=1) - ordered                     # mass before each sorted slot\n"
          "        first = torch.searchsorted(-ordered, -probs, side=\"left\")           # first slot of each token's value\n"
          "        above = before.gather(1, first)                                     # mass strictly more probable\n",
          "        ordered, order = torch.sort(probs, dim=1, descending=True)\n"
          "        before = torch.cumsum(ordered, dim=1) - ordered\n"
          "        above = torch.empty_like(before).scatter(1, order, before)\n")),
    M("sampling_probs", "top-p applied before top-k", True, sampling_probs='''
def sampling_probs(logits, temperature=1.0, top_k=None, top_p=None, repetition_penalty=1.0, prev=None):
    z = logits.clone()
    if prev is not None and prev.shape[1] > 0:
        seen = torch.zeros(z.shape, dtype=torch.bool, device=z.device).scatter(1, prev, True)
        z = torch.where(seen, torch.where(z > 0, z / repetition_penalty, z * repetition_penalty), z)
    probs = torch.softmax(z / temperature, dim=1)
    if top_p is not None:
        above = (probs[:, None, :] * (probs[:, None, :] > probs[:, :, None])).sum(dim=2)
        probs = torch.where(above < top_p, probs, torch.zeros_like(probs))
    if top_k is not None:
        kth = torch.topk(probs, min(top_k, probs.shape[1]), dim=1).values[:, -1:]
        probs = torch.where(probs >= kth, probs, torch.zeros_like(probs))
    return probs / probs.sum(dim=1, keepdim=True)
'''),
    M("sampling_probs", "logits divided by the temperature in place", True,
      sampling_probs=replaced(replaced(PROBS, "    z = logits.clone()\n", "    z = logits\n"),
                          "    z = z / temperature\n", "    z /= temperature\n")),
    M("sampling_probs", "pairwise comparisons in float64", False, sampling_probs=PROBS_PAIRWISE),
    M("sampling_probs", "row by row, top-k by kthvalue", False, sampling_probs=PROBS_ROWS),
]

# ---------------------------------------------------------------- Part 3b: sample_next
NEXT = '''
def sample_next(logits, generator, **settings):
    probs = sampling_probs(logits, **settings)
    return torch.multinomial(probs, 1, generator=generator).squeeze(1)
'''
NEXT_CDF = '''
def sample_next(logits, generator, **settings):
    probs = sampling_probs(logits, **settings).to(torch.float64)
    cdf = torch.cumsum(probs, dim=1)                                        # (N, V)
    u = torch.rand(probs.shape[0], 1, generator=generator, dtype=torch.float64, device=probs.device)
    u = u * cdf[:, -1:]
    return torch.searchsorted(cdf, u, right=True).clamp(max=probs.shape[1] - 1).squeeze(1)
'''
NEXT_GUMBEL = '''
def sample_next(logits, generator, **settings):
    probs = sampling_probs(logits, **settings)
    u = torch.rand(probs.shape, generator=generator, dtype=torch.float64, device=probs.device)
    gumbel = -torch.log(-torch.log(u.clamp(min=1e-300)))
    return torch.argmax(torch.log(probs.to(torch.float64)) + gumbel, dim=1)
'''
MUTANTS += [
    M("sample_next", "the most probable token (argmax)", True, sample_next='''
def sample_next(logits, generator, **settings):
    return sampling_probs(logits, **settings).argmax(dim=1)
'''),
    M("sample_next", "softmax of the raw logits, settings ignored", True, sample_next='''
def sample_next(logits, generator, **settings):
    return torch.multinomial(torch.softmax(logits, dim=-1), 1, generator=generator).squeeze(1)
'''),
    M("sample_next", "the global random generator instead of the one given", True,
      sample_next=replaced(NEXT, "torch.multinomial(probs, 1, generator=generator)", "torch.multinomial(probs, 1)")),
    M("sample_next", "returns shape (N, 1)", True, sample_next=replaced(NEXT, ".squeeze(1)", "")),
    M("sample_next", "draws from probs ** 2, renormalised", True,
      sample_next=replaced(NEXT, "torch.multinomial(probs, 1", "torch.multinomial(probs ** 2 / (probs ** 2).sum(1, keepdim=True), 1")),
    M("sample_next", "only the temperature passed on", True,
      sample_next=replaced(NEXT, "sampling_probs(logits, **settings)",
                       "sampling_probs(logits, temperature=settings.get('temperature', 1.0))")),
    M("sample_next", "inverse CDF with torch.rand and searchsorted", False, sample_next=NEXT_CDF),
    M("sample_next", "the Gumbel-max trick", False, sample_next=NEXT_GUMBEL),
    M("sample_next", "one multinomial per row", False, sample_next='''
def sample_next(logits, generator, **settings):
    probs = sampling_probs(logits, **settings)
    picks = [torch.multinomial(row, num_samples=1, generator=generator) for row in probs]
    return torch.cat(picks).to(torch.int64)
'''),
]

# ---------------------------------------------------------------- Part 4: LoRALinear
LORA = '''
class LoRALinear(nn.Module):
    def __init__(self, base, r, alpha):
        super().__init__()
        self.base = base
        for p in self.base.parameters():
            p.requires_grad_(False)
        w = base.weight
        self.A = nn.Parameter(torch.empty(r, base.in_features, dtype=w.dtype, device=w.device))
        nn.init.kaiming_uniform_(self.A, a=math.sqrt(5))
        self.B = nn.Parameter(torch.zeros(base.out_features, r, dtype=w.dtype, device=w.device))
        self.scale = alpha / r

    def forward(self, x):
        return self.base(x) + self.scale * (x @ self.A.T) @ self.B.T

    def merge(self):
        merged = nn.Linear(self.base.in_features, self.base.out_features, bias=self.base.bias is not None,
                           dtype=self.base.weight.dtype, device=self.base.weight.device)
        with torch.no_grad():
            merged.weight.copy_(self.base.weight + self.scale * self.B @ self.A)
            if self.base.bias is not None:
                merged.bias.copy_(self.base.bias)
        return merged
'''
# the merged weight in the forward pass; the merge from a copy of the base
LORA_FUSED = '''
class LoRALinear(nn.Module):
    def __init__(self, base: nn.Linear, r: int, alpha: float):
        super().__init__()
        base.weight.requires_grad = False
        if base.bias is not None:
            base.bias.requires_grad = False
        self.base = base
        self.A = nn.Parameter(base.weight.new_empty(r, base.in_features))
        torch.nn.init.kaiming_uniform_(self.A, a=5 ** 0.5)
        self.B = nn.Parameter(base.weight.new_zeros(base.out_features, r))
        self.scale = alpha / r

    def delta(self):
        return self.scale * (self.B @ self.A)                                # (out, in)

    def forward(self, x):
        return F.linear(x, self.base.weight + self.delta(), self.base.bias)

    def merge(self):
        merged = copy.deepcopy(self.base)
        with torch.no_grad():
            merged.weight += self.delta()
        for p in merged.parameters():
            p.requires_grad_(True)
        return merged
'''
MUTANTS += [
    M("LoRALinear", "A and B both zeros (no gradient ever reaches either)", True,
      LoRALinear=replaced(LORA, "nn.init.kaiming_uniform_(self.A, a=math.sqrt(5))", "nn.init.zeros_(self.A)")),
    M("LoRALinear", "the roles swapped: A zeros, B random", True,
      LoRALinear=replaced(replaced(LORA, "nn.init.kaiming_uniform_(self.A, a=math.sqrt(5))", "nn.init.zeros_(self.A)"),
                      "self.scale = alpha / r", "nn.init.kaiming_uniform_(self.B, a=math.sqrt(5))\n        self.scale = alpha / r")),
    M("LoRALinear", "scale = r / alpha", True, LoRALinear=replaced(LORA, "self.scale = alpha / r", "self.scale = r / alpha")),
    M("LoRALinear", "scale = alpha (not divided by r)", True, LoRALinear=replaced(LORA, "self.scale = alpha / r", "self.scale = alpha")),
    M("LoRALinear", "the base not frozen", True, LoRALinear=replaced(LORA,
        "        for p in self.base.parameters():\n            p.requires_grad_(False)\n", "")),
    M("LoRALinear", "the base's bias left trainable", True, LoRALinear=replaced(LORA,
        "        for p in self.base.parameters():\n            p.requires_grad_(False)\n",
        "        self.base.weight.requires_grad_(False)\n")),
    M("LoRALinear", "merge forgets the scale", True, LoRALinear=replaced(LORA,
        "self.base.weight + self.scale * self.B @ self.A", "self.base.weight + self.B @ self.A")),
    M("LoRALinear", "merge adds into the base's weight in place (the adapter then counts it twice)", True,
      LoRALinear=replaced(LORA,
          "            merged.weight.copy_(self.base.weight + self.scale * self.B @ self.A)\n",
          "            self.base.weight += self.scale * self.B @ self.A\n"
          "            merged.weight.copy_(self.base.weight)\n")),
    M("LoRALinear", "merge drops the bias", True, LoRALinear=replaced(replaced(LORA,
        "bias=self.base.bias is not None,", "bias=False,"),
        "            if self.base.bias is not None:\n                merged.bias.copy_(self.base.bias)\n", "")),
    M("LoRALinear", "A and B always float32", True, LoRALinear=replaced(replaced(LORA,
        "torch.empty(r, base.in_features, dtype=w.dtype, device=w.device)", "torch.empty(r, base.in_features)"),
        "torch.zeros(base.out_features, r, dtype=w.dtype, device=w.device)", "torch.zeros(base.out_features, r)")),
    M("LoRALinear", "the update without the scale in the forward pass", True,
      LoRALinear=replaced(LORA, "self.base(x) + self.scale * (x @ self.A.T) @ self.B.T", "self.base(x) + (x @ self.A.T) @ self.B.T")),
    M("LoRALinear", "A drawn from a standard normal (not kaiming_uniform_: 1/sqrt(in) bound ignored)", True,
      LoRALinear=replaced(LORA, "nn.init.kaiming_uniform_(self.A, a=math.sqrt(5))", "nn.init.normal_(self.A)")),
    M("LoRALinear", "F.linear with the merged weight; merge from a copy of the base", False, LoRALinear=LORA_FUSED),
    M("LoRALinear", "A made by torch.randn, then drawn again by kaiming_uniform_", False,
      LoRALinear=replaced(LORA, "torch.empty(r, base.in_features, dtype=w.dtype, device=w.device)",
                      "torch.randn(r, base.in_features, dtype=w.dtype, device=w.device)")),
    M("LoRALinear", "einsum in the forward pass, a new Linear's parameters set by data", False,
      LoRALinear=replaced(replaced(LORA,
          "return self.base(x) + self.scale * (x @ self.A.T) @ self.B.T",
          'low = torch.einsum("...i,ri->...r", x, self.A)                         # (..., r)\n'
          '        return self.base(x) + self.scale * torch.einsum("...r,or->...o", low, self.B)'),
          "        with torch.no_grad():\n"
          "            merged.weight.copy_(self.base.weight + self.scale * self.B @ self.A)\n"
          "            if self.base.bias is not None:\n"
          "                merged.bias.copy_(self.base.bias)\n",
          "        merged.weight.data = (self.base.weight + self.scale * self.B @ self.A).detach().clone()\n"
          "        if self.base.bias is not None:\n"
          "            merged.bias.data = self.base.bias.detach().clone()\n")),
]

# ---------------------------------------------------------------- Part 5a: token_nll
NLL = '''
def token_nll(logits, targets, mask):
    logp = torch.log_softmax(logits, dim=-1)                                # (N, T, V)
    picked = logp.gather(-1, targets.unsqueeze(-1)).squeeze(-1)             # (N, T)
    total = -torch.where(mask, picked, torch.zeros_like(picked)).sum()
    return total, int(mask.sum())
'''
NLL_CE = '''
def token_nll(logits, targets, mask):
    total = F.cross_entropy(logits[mask], targets[mask], reduction="sum")
    return total, int(mask.sum().item())
'''
NLL_LSE = '''
def token_nll(logits, targets, mask):
    N, T, V = logits.shape
    flat, y, m = logits.reshape(N * T, V), targets.reshape(-1), mask.reshape(-1)
    per_token = torch.logsumexp(flat, dim=1) - flat[torch.arange(N * T, device=flat.device), y]
    return (per_token * m.to(flat.dtype)).sum(), sum(bool(b) for b in m)
'''
MUTANTS += [
    M("token_nll", "the mean over real positions instead of the sum", True,
      token_nll=replaced(NLL, "total = -torch.where(mask, picked, torch.zeros_like(picked)).sum()",
                     "total = -torch.where(mask, picked, torch.zeros_like(picked)).sum() / mask.sum()")),
    M("token_nll", "padding included", True,
      token_nll=replaced(NLL, "total = -torch.where(mask, picked, torch.zeros_like(picked)).sum()", "total = -picked.sum()")),
    M("token_nll", "log-softmax over the time axis", True,
      token_nll=replaced(NLL, "torch.log_softmax(logits, dim=-1)", "torch.log_softmax(logits, dim=1)")),
    M("token_nll", "log of softmax (overflows on huge logits)", True,
      token_nll=replaced(NLL, "torch.log_softmax(logits, dim=-1)", "torch.log(torch.exp(logits) / torch.exp(logits).sum(-1, keepdim=True))")),
    M("token_nll", "count = the number of sequences", True,
      token_nll=replaced(NLL, "int(mask.sum())", "mask.shape[0]")),
    M("token_nll", "targets shifted again (logits[:, :-1] against targets[:, 1:])", True, token_nll='''
def token_nll(logits, targets, mask):
    logp = torch.log_softmax(logits[:, :-1], dim=-1)
    picked = logp.gather(-1, targets[:, 1:].unsqueeze(-1)).squeeze(-1)
    m = mask[:, 1:]
    return -(picked * m).sum(), int(m.sum())
'''),
    M("token_nll", "total detached from the graph", True,
      token_nll=replaced(NLL, "return total, int(mask.sum())", "return total.detach(), int(mask.sum())")),
    M("token_nll", "count returned as a tensor", True,
      token_nll=replaced(NLL, "return total, int(mask.sum())", "return total, mask.sum()")),
    M("token_nll", "F.cross_entropy on the real positions, reduction sum", False, token_nll=NLL_CE),
    M("token_nll", "logsumexp minus the target's logit, float mask", False, token_nll=NLL_LSE),
]

# ---------------------------------------------------------------- Part 5b: evaluate_lm
EVAL = '''
def evaluate_lm(model, batches):
    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    with torch.no_grad():
        for x, y, mask in batches:
            t, c = token_nll(model(x), y, mask)
            total += float(t)
            count += c
    model.train(was_training)
    nats = total / count
    return {"nats": nats, "bits": nats / math.log(2), "perplexity": math.exp(nats), "tokens": count}
'''
EVAL_OWN = '''
def evaluate_lm(model, batches):
    mode = model.training
    model.train(False)
    try:
        with torch.no_grad():
            sums = torch.zeros((), dtype=torch.float64)
            tokens = 0
            for x, y, mask in batches:
                logits = model(x)
                sums += F.cross_entropy(logits[mask].double(), y[mask], reduction="sum").cpu()
                tokens += int(mask.sum())
    finally:
        model.train(mode)
    nats = sums.item() / tokens
    return dict(nats=nats, bits=nats * math.log2(math.e), perplexity=float(np.exp(nats)), tokens=tokens)
'''
MUTANTS += [
    M("evaluate_lm", "the mean of the per-batch means (not weighted by tokens)", True, evaluate_lm='''
def evaluate_lm(model, batches):
    was_training = model.training
    model.eval()
    means, count = [], 0
    with torch.no_grad():
        for x, y, mask in batches:
            t, c = token_nll(model(x), y, mask)
            means.append(float(t) / c)
            count += c
    model.train(was_training)
    nats = sum(means) / len(means)
    return {"nats": nats, "bits": nats / math.log(2), "perplexity": math.exp(nats), "tokens": count}
'''),
    M("evaluate_lm", "bits = nats * ln 2", True, evaluate_lm=replaced(EVAL, '"bits": nats / math.log(2)', '"bits": nats * math.log(2)')),
    M("evaluate_lm", "bits in log base 10", True, evaluate_lm=replaced(EVAL, '"bits": nats / math.log(2)', '"bits": nats / math.log(10)')),
    M("evaluate_lm", "perplexity = 2 ** nats", True, evaluate_lm=replaced(EVAL, '"perplexity": math.exp(nats)', '"perplexity": 2 ** nats')),
    M("evaluate_lm", "no model.eval(): dropout stays on", True, evaluate_lm=replaced(EVAL, "    model.eval()\n", "")),
    M("evaluate_lm", "the model left in eval mode", True, evaluate_lm=replaced(EVAL, "    model.train(was_training)\n", "")),
    M("evaluate_lm", "always back to training mode", True, evaluate_lm=replaced(EVAL, "model.train(was_training)", "model.train()")),
    M("evaluate_lm", "tokens = the number of sequences", True, evaluate_lm=replaced(replaced(replaced(EVAL,
        "    total, count = 0.0, 0\n", "    total, count, rows = 0.0, 0, 0\n"),
        "            count += c\n", "            count += c\n            rows += x.shape[0]\n"),
        '"tokens": count}', '"tokens": rows}')),
    M("evaluate_lm", "no torch.no_grad()", True, evaluate_lm=replaced(EVAL,
        "    with torch.no_grad():\n        for x, y, mask in batches:\n            t, c = token_nll(model(x), y, mask)\n            total += float(t)\n            count += c\n",
        "    for x, y, mask in batches:\n        t, c = token_nll(model(x), y, mask)\n        total += float(t)\n        count += c\n")),
    M("evaluate_lm", "padding counted (cross-entropy over every position, own code)", True, evaluate_lm=replaced(replaced(EVAL_OWN,
        'F.cross_entropy(logits[mask].double(), y[mask], reduction="sum")',
        'F.cross_entropy(logits.flatten(0, 1).double(), y.flatten(), reduction="sum")'),
        "tokens += int(mask.sum())", "tokens += y.numel()")),
    M("evaluate_lm", "0-d tensors instead of Python numbers", True, evaluate_lm=replaced(replaced(replaced(EVAL,
        "    total, count = 0.0, 0\n", "    total, count = torch.zeros((), dtype=torch.float64), torch.zeros((), dtype=torch.long)\n"),
        "            total += float(t)\n", "            total = total + t.double()\n"),
        '"perplexity": math.exp(nats)', '"perplexity": torch.exp(nats)')),
    M("evaluate_lm", "own cross-entropy, try/finally, a float64 running sum", False, evaluate_lm=EVAL_OWN),
    M("evaluate_lm", "token_nll with tensors summed, then item()", False, evaluate_lm='''
def evaluate_lm(model, batches):
    before = model.training
    model.eval()
    with torch.no_grad():
        parts = [token_nll(model(x), y, mask) for x, y, mask in batches]
    model.train(before)
    total = torch.stack([t.double() for t, _ in parts]).sum().item()
    count = sum(c for _, c in parts)
    nats = total / count
    return {"nats": float(nats), "bits": float(nats / math.log(2)), "perplexity": float(math.exp(nats)),
            "tokens": int(count)}
'''),
]


# ---------------------------------------------------------------- q_lora_params
MUTANTS += choice_mutants("q_lora_params", "b")

# ---------------------------------------------------------------- a correct later part over a wrong earlier one
# Its visible test blames the earlier part, and its hidden tests, run with the tests' own earlier part,
# decide (see test_mutants.py).


OWN_MERIT = [
    (M("CachedSelfAttention", "the reference module, over an apply_rope with the half-split layout", False,
       **wrong_part(MUTANTS, "apply_rope", "half-split pairs (i, i + d_k/2), GPT-NeoX's rotate_half")), "apply_rope"),
    (M("CachedSelfAttention", "the masked_attention helper, over an apply_rope with the sign flipped", False,
       **wrong_part(MUTANTS, "apply_rope", "rotation the other way (sign of sin flipped)"), CachedSelfAttention=ATTN_HELPER),
     "apply_rope"),
    (M("sample_next", "the reference, over a sampling_probs whose temperature multiplies", False,
       **wrong_part(MUTANTS, "sampling_probs", "temperature multiplies the logits")), "sampling_probs"),
    (M("sample_next", "inverse CDF, over a sampling_probs that keeps exactly k", False,
       **wrong_part(MUTANTS, "sampling_probs", "top-k keeps exactly k (ties at the k-th value dropped by topk's order)"),
       sample_next=NEXT_CDF), "sampling_probs"),
    (M("evaluate_lm", "the reference, over a token_nll that includes the padding", False,
       **wrong_part(MUTANTS, "token_nll", "padding included")), "token_nll"),
    (M("evaluate_lm", "its own cross-entropy (no token_nll), over a token_nll that returns the mean", False,
       **wrong_part(MUTANTS, "token_nll", "the mean over real positions instead of the sum"), evaluate_lm=EVAL_OWN), "token_nll"),
]


# The independent set's mutants that first escaped the lab's tests (tests/lab8_independent_mutants.py).
from lab8_independent_mutants import CAUGHT_LATE  # noqa: E402

MUTANTS += CAUGHT_LATE
