"""A second, independent set of Lab 8 mutants (solutions/08_language_model.ipynb), written from the lab's
markdown and docstrings only, without reading tests/mutants_08_language_model.py. Of its 124 wrong and 29
correct implementations, 14 wrong ones first kept full points and 3 were caught by hidden tests alone;
the lab's tests were tightened until all were caught by a visible test, and those 17 (``CAUGHT_LATE``)
run with the mutation tests through mutants_08_language_model.py.

Each Mutant replaces one solution cell whose grade_id is `<name>_code`. `wrong` ones carry a plausible
student bug; the others are correct implementations written differently. A few wrong ones are marked
GREY in their name: they break the written contract but arguably in ways a test can hardly see.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

from labharness import Mutant  # noqa: E402

M = Mutant.of
NB = Path(__file__).resolve().parents[1] / "solutions" / "08_language_model.ipynb"


def _attn_header() -> str:
    """The CachedSelfAttention cell up to `N, T, E = x.shape` (the given __init__ and signature)."""
    for c in json.loads(NB.read_text())["cells"]:
        if c.get("metadata", {}).get("nbgrader", {}).get("grade_id") == "CachedSelfAttention_code":
            src = "".join(c["source"])
            cut = src.index("N, T, E = x.shape") + len("N, T, E = x.shape")
            return src[:cut] + "\n"
    raise KeyError("CachedSelfAttention_code")


HEAD = _attn_header()


def attn(body: str) -> str:
    """The class with the given __init__ and a forward whose body (8-space indented) follows."""
    lines = body.strip("\n").splitlines()
    import textwrap
    return HEAD + textwrap.indent(textwrap.dedent("\n".join(lines)), " " * 8) + "\n"


MUTANTS: list[Mutant] = []
add = MUTANTS.append

# =========================================================================== apply_rope
ROPE_OK = """
def apply_rope(x, positions, base=10000.0):
    d = x.shape[-1]
    i = torch.arange(d // 2, dtype=torch.float64)
    theta = base ** (-2.0 * i / d)
    ang = positions.double()[..., None] * theta
    cos, sin = torch.cos(ang)[:, None].to(x.dtype), torch.sin(ang)[:, None].to(x.dtype)
    e, o = x[..., 0::2], x[..., 1::2]
    return torch.stack((e * cos - o * sin, e * sin + o * cos), dim=-1).flatten(-2)
"""


def rope(theta="base ** (-2.0 * i / d)", ang="positions.double()[..., None] * theta",
         out="torch.stack((e * cos - o * sin, e * sin + o * cos), dim=-1).flatten(-2)",
         cast=".to(x.dtype)", pre=""):
    return f"""
def apply_rope(x, positions, base=10000.0):
    N, h, T, d = x.shape
{pre}    i = torch.arange(d // 2, dtype=torch.float64)
    theta = {theta}
    ang = {ang}
    cos, sin = torch.cos(ang)[:, None]{cast}, torch.sin(ang)[:, None]{cast}
    e, o = x[..., 0::2], x[..., 1::2]
    return {out}
"""


R = "apply_rope"
add(M(R, "half-split layout (NeoX pairs x[i], x[i+d/2])", True, apply_rope="""
def apply_rope(x, positions, base=10000.0):
    d = x.shape[-1]
    i = torch.arange(d // 2, dtype=torch.float64)
    theta = base ** (-2.0 * i / d)
    ang = positions.double()[..., None] * theta
    cos, sin = torch.cos(ang)[:, None].to(x.dtype), torch.sin(ang)[:, None].to(x.dtype)
    a, b = x[..., :d // 2], x[..., d // 2:]
    return torch.cat((a * cos - b * sin, a * sin + b * cos), dim=-1)
"""))
add(M(R, "rotation the wrong way (sin sign flipped)", True,
      apply_rope=rope(out="torch.stack((e * cos + o * sin, -e * sin + o * cos), dim=-1).flatten(-2)")))
add(M(R, "theta = base ** (-i/d) (2 missing)", True, apply_rope=rope(theta="base ** (-i / d)")))
add(M(R, "positions ignored: arange(T)", True,
      apply_rope=rope(ang="torch.arange(T, dtype=torch.float64).expand(N, T)[..., None] * theta")))
add(M(R, "positions off by one (pos + 1)", True, apply_rope=rope(ang="(positions.double() + 1)[..., None] * theta")))
add(M(R, "base argument ignored (10000 hard-coded)", True, apply_rope=rope(theta="10000.0 ** (-2.0 * i / d)")))
add(M(R, "exponent i/(d/2-1) via linspace", True,
      apply_rope=rope(theta="base ** (-torch.linspace(0, 1, d // 2, dtype=torch.float64))")))
add(M(R, "arange(0,d,2) and the 2 again: base**(-2*(2i)/d)", True,
      apply_rope=rope(pre="    j = torch.arange(0, d, 2, dtype=torch.float64)\n", theta="base ** (-2.0 * j / d)")))
add(M(R, "integer floor division in the exponent", True,
      apply_rope=rope(pre="    ii = torch.arange(d // 2)\n", theta="base ** (-(2 * ii // d)).double()")))
add(M(R, "writes the result into x in place", True, apply_rope="""
def apply_rope(x, positions, base=10000.0):
    d = x.shape[-1]
    i = torch.arange(d // 2, dtype=torch.float64)
    theta = base ** (-2.0 * i / d)
    ang = positions.double()[..., None] * theta
    cos, sin = torch.cos(ang)[:, None].to(x.dtype), torch.sin(ang)[:, None].to(x.dtype)
    e, o = x[..., 0::2].clone(), x[..., 1::2].clone()
    x[..., 0::2] = e * cos - o * sin
    x[..., 1::2] = e * sin + o * cos
    return x
"""))
add(M(R, "float64 result for float32 x (cos/sin not cast)", True, apply_rope=rope(cast="")))
add(M(R, "stack on dim=-2 (de-interleaves the output)", True,
      apply_rope=rope(out="torch.stack((e * cos - o * sin, e * sin + o * cos), dim=-2).flatten(-2)")))
add(M(R, "cos/sin tiled (repeat) with rotate-every-two", True, apply_rope="""
def apply_rope(x, positions, base=10000.0):
    d = x.shape[-1]
    i = torch.arange(d // 2, dtype=torch.float64)
    theta = base ** (-2.0 * i / d)
    ang = positions.double()[..., None] * theta
    cos = torch.cos(ang).repeat(1, 1, 2)[:, None].to(x.dtype)
    sin = torch.sin(ang).repeat(1, 1, 2)[:, None].to(x.dtype)
    rot = torch.stack((-x[..., 1::2], x[..., 0::2]), dim=-1).flatten(-2)
    return x * cos + rot * sin
"""))
add(M(R, "row 0's positions used for every row", True,
      apply_rope=rope(ang="positions[0].double().expand(N, T)[..., None] * theta")))
add(M(R, "odd coordinate uses -sin (not a rotation)", True,
      apply_rope=rope(out="torch.stack((e * cos - o * sin, o * cos - e * sin), dim=-1).flatten(-2)")))

# correct alternatives
add(M(R, "complex numbers (view_as_complex, polar in float64)", False, apply_rope="""
def apply_rope(x, positions, base=10000.0):
    d = x.shape[-1]
    theta = torch.tensor([base ** (-2 * k / d) for k in range(d // 2)], dtype=torch.float64)
    ang = positions.to(torch.float64).unsqueeze(-1) * theta
    rot = torch.polar(torch.ones_like(ang), ang).unsqueeze(1)
    z = torch.view_as_complex(x.to(torch.float64).reshape(*x.shape[:-1], d // 2, 2).contiguous())
    return torch.view_as_real(z * rot).reshape(x.shape).to(x.dtype)
"""))
add(M(R, "HF-style float32 inv_freq, repeat_interleave, rotate-every-two", False, apply_rope="""
def apply_rope(x, positions, base=10000.0):
    d = x.shape[-1]
    inv_freq = 1.0 / (base ** (torch.arange(0, d, 2).float() / d))
    freqs = positions.float()[..., None] * inv_freq
    emb = freqs.repeat_interleave(2, dim=-1)
    cos, sin = emb.cos()[:, None].to(x.dtype), emb.sin()[:, None].to(x.dtype)
    rot = torch.stack((-x[..., 1::2], x[..., 0::2]), dim=-1).reshape(x.shape)
    return x * cos + rot * sin
"""))
add(M(R, "loop over pairs, writes into a new tensor", False, apply_rope="""
def apply_rope(x, positions, base=10000.0):
    d = x.shape[-1]
    out = torch.empty_like(x)
    p = positions.to(torch.float64)[:, None, :]
    for k in range(d // 2):
        a = p * (base ** (-2.0 * k / d))
        c, s = torch.cos(a).to(x.dtype), torch.sin(a).to(x.dtype)
        out[..., 2 * k] = x[..., 2 * k] * c - x[..., 2 * k + 1] * s
        out[..., 2 * k + 1] = x[..., 2 * k] * s + x[..., 2 * k + 1] * c
    return out
"""))
add(M(R, "2x2 rotation matrices with einsum", False, apply_rope="""
def apply_rope(x, positions, base=10000.0):
    N, h, T, d = x.shape
    theta = torch.exp(-math.log(base) * torch.arange(0, d, 2, dtype=torch.float64) / d)
    a = torch.einsum("nt,k->ntk", positions.double(), theta)
    c, s = torch.cos(a), torch.sin(a)
    R = torch.stack((torch.stack((c, -s), -1), torch.stack((s, c), -1)), -2).to(x.dtype)   # (N,T,d/2,2,2)
    pairs = x.reshape(N, h, T, d // 2, 2)
    return torch.einsum("ntkij,nhtkj->nhtki", R, pairs).reshape(N, h, T, d)
"""))

# =========================================================================== CachedSelfAttention
A = "CachedSelfAttention"
PROJ = """
q, k, v = self.qkv(x).split(E, dim=-1)
q, k, v = (z.view(N, T, self.h, self.d_k).transpose(1, 2) for z in (q, k, v))
"""
ROT = """
q = apply_rope(q, positions, self.rope_base)
k = apply_rope(k, positions, self.rope_base)
"""
CAT = """
k_all = k if cache is None else torch.cat((cache[0], k), dim=2)
v_all = v if cache is None else torch.cat((cache[1], v), dim=2)
S = k_all.shape[2] - T
"""
MASK = """
causal = torch.arange(S + T)[None, :] <= (S + torch.arange(T))[:, None]
allowed = causal[None, None] & key_mask[:, None, None, :]
"""
ATT = """
out = masked_attention(q, k_all, v_all, allowed)
y = self.proj(out.transpose(1, 2).reshape(N, T, E))
return y, (k_all, v_all)
"""


def fwd(proj=PROJ, rot=ROT, cat=CAT, mask=MASK, att=ATT):
    return attn("\n".join(s.strip("\n") for s in (proj, rot, cat, mask, att)))


add(M(A, "causal mask without the cache offset (j <= i)", True,
      CachedSelfAttention=fwd(mask=MASK.replace("(S + torch.arange(T))", "torch.arange(T)"))))
add(M(A, "key_mask ignored", True, CachedSelfAttention=fwd(mask="""
causal = torch.arange(S + T)[None, :] <= (S + torch.arange(T))[:, None]
allowed = causal[None, None]
""")))
add(M(A, "cache holds unrotated keys (rotated only for this call)", True, CachedSelfAttention=fwd(rot="""
q = apply_rope(q, positions, self.rope_base)
kr = apply_rope(k, positions, self.rope_base)
""", cat="""
k_all = k if cache is None else torch.cat((cache[0], k), dim=2)
k_use = kr if cache is None else torch.cat((cache[0], kr), dim=2)
v_all = v if cache is None else torch.cat((cache[1], v), dim=2)
S = k_all.shape[2] - T
""", att="""
out = masked_attention(q, k_use, v_all, allowed)
y = self.proj(out.transpose(1, 2).reshape(N, T, E))
return y, (k_all, v_all)
""")))
add(M(A, "queries not rotated", True, CachedSelfAttention=fwd(rot="k = apply_rope(k, positions, self.rope_base)")))
add(M(A, "no causal mask (only padding)", True, CachedSelfAttention=fwd(mask="allowed = key_mask[:, None, None, :]")))
add(M(A, "strict causal mask (j < S+i: no self)", True,
      CachedSelfAttention=fwd(mask=MASK.replace("<= (S", "< (S"))))
add(M(A, "heads merged without transposing back", True,
      CachedSelfAttention=fwd(att=ATT.replace("out.transpose(1, 2).reshape", "out.reshape"))))
add(M(A, "heads split with view(N, h, T, d_k), no transpose", True, CachedSelfAttention=fwd(proj="""
q, k, v = self.qkv(x).split(E, dim=-1)
q, k, v = (z.reshape(N, self.h, T, self.d_k) for z in (q, k, v))
""")))
add(M(A, "padding masked only for the prompt call (T > 1)", True, CachedSelfAttention=fwd(mask="""
causal = torch.arange(S + T)[None, :] <= (S + torch.arange(T))[:, None]
allowed = causal[None, None] & key_mask[:, None, None, :] if T > 1 else causal[None, None]
""")))
add(M(A, "padding mask applied to the queries, not the keys", True, CachedSelfAttention=fwd(mask="""
causal = torch.arange(S + T)[None, :] <= (S + torch.arange(T))[:, None]
allowed = causal[None, None] & key_mask[:, None, -T:, None]
""")))
add(M(A, "own attention scaled by sqrt(E)", True, CachedSelfAttention=fwd(att="""
sc = q @ k_all.transpose(-2, -1) / math.sqrt(E)
w = torch.softmax(sc.masked_fill(~allowed, float("-inf")), dim=-1).nan_to_num(0.0)
y = self.proj((w @ v_all).transpose(1, 2).reshape(N, T, E))
return y, (k_all, v_all)
""")))
add(M(A, "own attention with -inf and no NaN guard", True, CachedSelfAttention=fwd(att="""
sc = q @ k_all.transpose(-2, -1) / math.sqrt(self.d_k)
w = torch.softmax(sc.masked_fill(~allowed, float("-inf")), dim=-1)
y = self.proj((w @ v_all).transpose(1, 2).reshape(N, T, E))
return y, (k_all, v_all)
""")))
add(M(A, "RoPE at slot indices arange(S, S+T), not the positions given", True,
      CachedSelfAttention=fwd(rot="", cat=CAT + """
slots = (S + torch.arange(T)).expand(N, T)
q = apply_rope(q, slots, self.rope_base)
k_new = apply_rope(k, slots, self.rope_base)
k_all = k_new if cache is None else torch.cat((cache[0], k_new), dim=2)
""")))
add(M(A, "qkv split per head (view N,T,h,3,d_k)", True, CachedSelfAttention=fwd(proj="""
q, k, v = self.qkv(x).view(N, T, self.h, 3, self.d_k).unbind(3)
q, k, v = (z.transpose(1, 2) for z in (q, k, v))
""")))
add(M(A, "SDPA is_causal=True with a cache, no padding mask", True, CachedSelfAttention=fwd(mask="", att="""
out = F.scaled_dot_product_attention(q, k_all, v_all, is_causal=True)
y = self.proj(out.transpose(1, 2).reshape(N, T, E))
return y, (k_all, v_all)
""")))
add(M(A, "GREY -1e9 fill: a padded query (no allowed key) outputs non-zero", True, CachedSelfAttention=fwd(att="""
sc = q @ k_all.transpose(-2, -1) / math.sqrt(self.d_k)
w = torch.softmax(sc.masked_fill(~allowed, -1e9), dim=-1)
y = self.proj((w @ v_all).transpose(1, 2).reshape(N, T, E))
return y, (k_all, v_all)
""")))
add(M(A, "GREY positions argument ignored, recomputed from key_mask", True,
      CachedSelfAttention=fwd(rot="""
pos = (key_mask.long().cumsum(dim=1) - 1).clamp(min=0)[:, -T:]
q = apply_rope(q, pos, self.rope_base)
k = apply_rope(k, pos, self.rope_base)
""")))
add(M(A, "values rotated too", True, CachedSelfAttention=fwd(rot=ROT + "v = apply_rope(v, positions, self.rope_base)")))
add(M(A, "output projection missing", True,
      CachedSelfAttention=fwd(att=ATT.replace("self.proj(out.transpose(1, 2).reshape(N, T, E))",
                                              "out.transpose(1, 2).reshape(N, T, E)"))))
add(M(A, "new keys/values prepended before the cache", True, CachedSelfAttention=fwd(cat="""
k_all = k if cache is None else torch.cat((k, cache[0]), dim=2)
v_all = v if cache is None else torch.cat((v, cache[1]), dim=2)
S = k_all.shape[2] - T
""")))

# correct alternatives
add(M(A, "tril(diagonal=S) mask, S from the key_mask width", False, CachedSelfAttention=fwd(cat="""
k_all = k if cache is None else torch.cat((cache[0], k), dim=2)
v_all = v if cache is None else torch.cat((cache[1], v), dim=2)
S = key_mask.shape[1] - T
""", mask="""
causal = torch.ones(T, S + T, dtype=torch.bool).tril(diagonal=S)
allowed = causal & key_mask[:, None, None, :]
""")))
add(M(A, "own einsum attention, -inf, zeros for rows with no key", False, CachedSelfAttention=fwd(att="""
sc = torch.einsum("nhtd,nhsd->nhts", q, k_all) / math.sqrt(self.d_k)
sc = torch.where(allowed, sc, torch.full_like(sc, float("-inf")))
any_key = allowed.any(dim=-1, keepdim=True)
w = torch.softmax(torch.where(any_key, sc, torch.zeros_like(sc)), dim=-1) * any_key
out = torch.einsum("nhts,nhsd->nhtd", w, v_all)
y = self.proj(out.permute(0, 2, 1, 3).reshape(N, T, E))
return y, (k_all, v_all)
""")))
add(M(A, "SDPA with a bool mask, rows with no key zeroed", False, CachedSelfAttention=fwd(att="""
seen = allowed.any(dim=-1, keepdim=True)
out = F.scaled_dot_product_attention(q, k_all, v_all, attn_mask=allowed | ~seen) * seen
y = self.proj(out.transpose(1, 2).contiguous().view(N, T, E))
return y, (k_all, v_all)
""")))
add(M(A, "square tril()[-T:], qkv via view(N,T,3,h,d_k), cache as list", False, CachedSelfAttention=fwd(proj="""
q, k, v = self.qkv(x).view(N, T, 3, self.h, self.d_k).permute(2, 0, 3, 1, 4)
""", cat="""
S = 0 if cache is None else cache[0].shape[2]
k_all = torch.cat([c for c in (None if cache is None else cache[0], k) if c is not None], dim=2)
v_all = torch.cat([c for c in (None if cache is None else cache[1], v) if c is not None], dim=2)
""", mask="""
causal = torch.ones(S + T, S + T, dtype=torch.bool).tril()[-T:]
allowed = causal.view(1, 1, T, S + T) & key_mask.view(N, 1, 1, S + T)
""", att="""
out = masked_attention(q, k_all, v_all, allowed)
y = self.proj(out.transpose(1, 2).reshape(N, T, E))
return y, [k_all, v_all]
""")))
add(M(A, "causal mask from arange(S+T)[-T:] slots", False, CachedSelfAttention=fwd(mask="""
slot = torch.arange(S + T)
allowed = (slot[None, :] <= slot[-T:, None])[None, None] & key_mask[:, None, None, :]
""")))

# =========================================================================== sampling_probs
P = "sampling_probs"
PEN = """
    if prev is not None and prev.numel() > 0:
        seen = torch.zeros_like(z, dtype=torch.bool).scatter(1, prev, True)
        z = torch.where(seen, torch.where(z > 0, z / repetition_penalty, z * repetition_penalty), z)
"""
TEMP = """
    z = z / temperature
"""
TOPK = """
    if top_k is not None:
        larger = (z[:, None, :] > z[:, :, None]).sum(-1)
        z = z.masked_fill(larger >= top_k, float("-inf"))
"""
SOFT = """
    p = torch.softmax(z, dim=-1)
"""
TOPP = """
    if top_p is not None:
        ahead = (p[:, None, :] * (p[:, None, :] > p[:, :, None])).sum(-1)
        p = p.masked_fill(ahead >= top_p, 0.0)
        p = p / p.sum(-1, keepdim=True)
"""


def sp(pen=PEN, temp=TEMP, topk=TOPK, soft=SOFT, topp=TOPP, start="    z = logits.clone()\n", order=None):
    parts = dict(pen=pen, temp=temp, topk=topk, soft=soft, topp=topp)
    body = "".join(parts[k].strip("\n") + "\n" for k in (order or ("pen", "temp", "topk", "soft", "topp")) if parts[k])
    return ("def sampling_probs(logits, temperature=1.0, top_k=None, top_p=None, repetition_penalty=1.0, prev=None):\n"
            + start + body + "    return p\n")


add(M(P, "top-k keeps exactly k (torch.topk indices: ties dropped)", True, sampling_probs=sp(topk="""
    if top_k is not None:
        idx = torch.topk(z, min(top_k, z.shape[-1]), dim=-1).indices
        keep = torch.zeros_like(z, dtype=torch.bool).scatter(1, idx, True)
        z = z.masked_fill(~keep, float("-inf"))
""")))
add(M(P, "top-p drops the crossing token (inclusive cumsum < p)", True, sampling_probs=sp(topp="""
    if top_p is not None:
        sp_, si = p.sort(dim=-1, descending=True)
        cum = sp_.cumsum(-1)
        keep_s = cum < top_p
        keep_s[:, 0] = True
        keep = torch.zeros_like(keep_s).scatter(1, si, keep_s)
        p = p * keep
        p = p / p.sum(-1, keepdim=True)
""")))
add(M(P, "top-p by sorted exclusive cumsum (ties split)", True, sampling_probs=sp(topp="""
    if top_p is not None:
        sp_, si = p.sort(dim=-1, descending=True)
        before = sp_.cumsum(-1) - sp_
        keep = torch.zeros_like(p, dtype=torch.bool).scatter(1, si, before < top_p)
        p = p * keep
        p = p / p.sum(-1, keepdim=True)
""")))
add(M(P, "penalty once per occurrence (loop)", True, sampling_probs=sp(pen="""
    if prev is not None:
        for n in range(z.shape[0]):
            for t in prev[n].tolist():
                z[n, t] = z[n, t] / repetition_penalty if z[n, t] > 0 else z[n, t] * repetition_penalty
""")))
add(M(P, "temperature multiplies", True, sampling_probs=sp(temp="    z = z * temperature")))
add(M(P, "top-p before top-k", True, sampling_probs=sp(soft="""
    p = torch.softmax(z, dim=-1)
""", topk="""
    if top_k is not None:
        larger = (p[:, None, :] > p[:, :, None]).sum(-1)
        p = p.masked_fill(larger >= top_k, 0.0)
        p = p / p.sum(-1, keepdim=True)
""", order=("pen", "temp", "soft", "topp", "topk"))))
add(M(P, "top-p judged on the softmax over all tokens (ignores top-k)", True, sampling_probs=sp(topk="""
    full = torch.softmax(z, dim=-1)
    if top_k is not None:
        larger = (z[:, None, :] > z[:, :, None]).sum(-1)
        z = z.masked_fill(larger >= top_k, float("-inf"))
""", topp="""
    if top_p is not None:
        ahead = (full[:, None, :] * (full[:, None, :] > full[:, :, None])).sum(-1)
        p = p.masked_fill(ahead >= top_p, 0.0)
        p = p / p.sum(-1, keepdim=True)
""")))
add(M(P, "no renormalisation after top-p", True, sampling_probs=sp(topp="""
    if top_p is not None:
        ahead = (p[:, None, :] * (p[:, None, :] > p[:, :, None])).sum(-1)
        p = p.masked_fill(ahead >= top_p, 0.0)
""")))
add(M(P, "penalty always divides (sign ignored)", True, sampling_probs=sp(pen="""
    if prev is not None and prev.numel() > 0:
        seen = torch.zeros_like(z, dtype=torch.bool).scatter(1, prev, True)
        z = torch.where(seen, z / repetition_penalty, z)
""")))
add(M(P, "penalty uses the tokens of every row", True, sampling_probs=sp(pen="""
    if prev is not None and prev.numel() > 0:
        toks = torch.unique(prev)
        seen = torch.zeros_like(z, dtype=torch.bool)
        seen[:, toks] = True
        z = torch.where(seen, torch.where(z > 0, z / repetition_penalty, z * repetition_penalty), z)
""")))
add(M(P, "divides the caller's logits in place", True, sampling_probs=sp(start="    z = logits\n", temp="""
    z /= temperature
""")))
add(M(P, "computed in float32, cast back", True,
      sampling_probs=sp(start="    z = logits.float()\n", topp=TOPP + "    p = p.to(logits.dtype)\n")))
add(M(P, "softmax without subtracting the max", True, sampling_probs=sp(soft="""
    e = torch.exp(z)
    p = e / e.sum(-1, keepdim=True)
""")))
add(M(P, "top-p keeps when ahead <= p (not < p)", True,
      sampling_probs=sp(topp=TOPP.replace("ahead >= top_p", "ahead > top_p"))))
add(M(P, "top-k keeps k+1 (larger > k)", True, sampling_probs=sp(topk=TOPK.replace("larger >= top_k", "larger > top_k"))))
add(M(P, "top-k via k-th value but strict > (drops the k-th)", True, sampling_probs=sp(topk="""
    if top_k is not None and top_k < z.shape[-1]:
        kth = torch.topk(z, top_k, dim=-1).values[:, -1:]
        z = z.masked_fill(~(z > kth), float("-inf"))
""")))
add(M(P, "penalty applied after top-k", True, sampling_probs=sp(order=("temp", "topk", "pen", "soft", "topp"))))
add(M(P, "HF-style top-p: ascending cumsum, remove cum <= 1-p", True, sampling_probs=sp(topp="""
    if top_p is not None:
        sp_, si = p.sort(dim=-1, descending=False)
        remove_s = sp_.cumsum(-1) <= (1 - top_p)
        remove = torch.zeros_like(remove_s).scatter(1, si, remove_s)
        p = p.masked_fill(remove, 0.0)
        p = p / p.sum(-1, keepdim=True)
""")))
add(M(P, "penalty skipped when L == 0 check wrong: applied only if prev.shape[1] > 1", True, sampling_probs=sp(pen="""
    if prev is not None and prev.shape[1] > 1:
        seen = torch.zeros_like(z, dtype=torch.bool).scatter(1, prev, True)
        z = torch.where(seen, torch.where(z > 0, z / repetition_penalty, z * repetition_penalty), z)
""")))

# correct alternatives
add(M(P, "sorting: k-th value threshold for top-k, min kept prob threshold for top-p", False, sampling_probs=sp(topk="""
    if top_k is not None:
        kth = torch.topk(z, min(top_k, z.shape[-1]), dim=-1).values[:, -1:]
        z = z.masked_fill(z < kth, float("-inf"))
""", topp="""
    if top_p is not None:
        sp_, si = p.sort(dim=-1, descending=True)
        before = sp_.cumsum(-1) - sp_
        thr = sp_.masked_fill(~(before < top_p), float("inf")).min(-1, keepdim=True).values
        p = p.masked_fill(p < thr, 0.0)
        p = p / p.sum(-1, keepdim=True)
""")))
add(M(P, "row-by-row loops in torch", False, sampling_probs="""
def sampling_probs(logits, temperature=1.0, top_k=None, top_p=None, repetition_penalty=1.0, prev=None):
    out = torch.zeros_like(logits)
    for n in range(logits.shape[0]):
        z = logits[n].clone()
        if prev is not None:
            for t in set(prev[n].tolist()):
                z[t] = z[t] / repetition_penalty if z[t] > 0 else z[t] * repetition_penalty
        z = z / temperature
        keep = torch.ones_like(z, dtype=torch.bool)
        if top_k is not None:
            keep = torch.tensor([int((z > z[t]).sum()) < top_k for t in range(len(z))])
        z = torch.where(keep, z, torch.full_like(z, float("-inf")))
        p = torch.softmax(z, dim=0)
        if top_p is not None:
            keep = torch.tensor([float(p[p > p[t]].sum()) < top_p for t in range(len(p))])
            p = torch.where(keep, p, torch.zeros_like(p))
            p = p / p.sum()
        out[n] = p
    return out
"""))
add(M(P, "temperature before the penalty; top-k judged on probabilities; gather/scatter penalty", False,
      sampling_probs="""
def sampling_probs(logits, temperature=1.0, top_k=None, top_p=None, repetition_penalty=1.0, prev=None):
    z = logits / temperature
    if prev is not None and prev.shape[-1] > 0:
        g = z.gather(1, prev)
        z = z.scatter(1, prev, torch.where(g >= 0, g / repetition_penalty, g * repetition_penalty))
    p = torch.softmax(z, dim=-1)
    if top_k is not None:
        larger = (p.unsqueeze(1) > p.unsqueeze(2)).sum(-1)
        p = p.masked_fill(larger >= top_k, 0.0)
        p = p / p.sum(-1, keepdim=True)
    if top_p is not None:
        ahead = torch.einsum("nv,nuv->nu", p, (p.unsqueeze(1) > p.unsqueeze(2)).to(p.dtype))
        p = torch.where(ahead < top_p, p, torch.zeros_like(p))
        p = p / p.sum(-1, keepdim=True)
    return p
"""))
add(M(P, "log-space: top-p via log-softmax, renormalise with softmax of masked logits", False, sampling_probs=sp(
    soft="""
    p = torch.softmax(z, dim=-1)
""", topp="""
    if top_p is not None:
        lp = torch.log_softmax(z, dim=-1)
        ahead = (p[:, None, :] * (lp[:, None, :] > lp[:, :, None])).sum(-1)
        z = z.masked_fill(ahead >= top_p, float("-inf"))
        p = torch.softmax(z, dim=-1)
""")))

# =========================================================================== sample_next
S_ = "sample_next"


def sn(body):
    return "def sample_next(logits, generator, **settings):\n" + body.strip("\n") + "\n"


add(M(S_, "argmax instead of a draw", True, sample_next=sn("    return sampling_probs(logits, **settings).argmax(-1)")))
add(M(S_, "global RNG (generator ignored)", True,
      sample_next=sn("    return torch.multinomial(sampling_probs(logits, **settings), 1).squeeze(1)")))
add(M(S_, "settings ignored", True,
      sample_next=sn("    return torch.multinomial(sampling_probs(logits), 1, generator=generator).squeeze(1)")))
add(M(S_, "returns shape (N, 1)", True,
      sample_next=sn("    return torch.multinomial(sampling_probs(logits, **settings), 1, generator=generator)")))
add(M(S_, "returns int32", True, sample_next=sn(
    "    return torch.multinomial(sampling_probs(logits, **settings), 1, generator=generator).squeeze(1).int()")))
add(M(S_, "one uniform shared by every row (inverse CDF)", True, sample_next=sn("""
    probs = sampling_probs(logits, **settings)
    u = torch.rand(1, generator=generator, dtype=probs.dtype)
    cum = probs.cumsum(-1)
    return (cum <= u).sum(-1).clamp(max=probs.shape[-1] - 1)
""")))
add(M(S_, "inverse CDF off by one (token before)", True, sample_next=sn("""
    probs = sampling_probs(logits, **settings)
    u = torch.rand(probs.shape[0], 1, generator=generator, dtype=probs.dtype)
    cum = probs.cumsum(-1)
    return ((cum <= u).sum(-1) - 1).clamp(min=0)
""")))
add(M(S_, "temperature applied twice", True, sample_next=sn("""
    t = settings.get("temperature", 1.0)
    probs = sampling_probs(logits / t, **settings)
    return torch.multinomial(probs, 1, generator=generator).squeeze(1)
""")))
add(M(S_, "row 0's distribution for every row", True, sample_next=sn("""
    probs = sampling_probs(logits, **settings)
    return torch.multinomial(probs[0], probs.shape[0], replacement=True, generator=generator)
""")))
add(M(S_, "repetition_penalty dropped (prev passed on)", True, sample_next=sn("""
    settings = {k: v for k, v in settings.items() if k != "repetition_penalty"}
    return torch.multinomial(sampling_probs(logits, **settings), 1, generator=generator).squeeze(1)
""")))
add(M(S_, "top_p dropped", True, sample_next=sn("""
    settings.pop("top_p", None)
    return torch.multinomial(sampling_probs(logits, **settings), 1, generator=generator).squeeze(1)
""")))
add(M(S_, "Gumbel noise with the wrong sign: log(-log u)", True, sample_next=sn("""
    probs = sampling_probs(logits, **settings)
    u = torch.rand(probs.shape, generator=generator, dtype=probs.dtype).clamp(1e-12, 1 - 1e-12)
    return (probs.log() + torch.log(-torch.log(u))).argmax(-1)
""")))
add(M(S_, "GREY divides the caller's logits in place", True, sample_next=sn("""
    t = settings.pop("temperature", 1.0)
    logits /= t
    return torch.multinomial(sampling_probs(logits, **settings), 1, generator=generator).squeeze(1)
""")))
add(M(S_, "multinomial over the logits' softmax, settings ignored", True, sample_next=sn("""
    return torch.multinomial(torch.softmax(logits, -1), 1, generator=generator).squeeze(1)
""")))

add(M(S_, "inverse CDF with searchsorted", False, sample_next=sn("""
    probs = sampling_probs(logits, **settings)
    cum = probs.cumsum(-1)
    u = torch.rand(probs.shape[0], 1, generator=generator, dtype=probs.dtype) * cum[:, -1:]
    return torch.searchsorted(cum, u, right=True).squeeze(1).clamp(max=probs.shape[-1] - 1)
""")))
add(M(S_, "Gumbel-max", False, sample_next=sn("""
    probs = sampling_probs(logits, **settings)
    u = torch.rand(probs.shape, generator=generator, dtype=torch.float64).clamp(1e-300, 1.0)
    g = -torch.log(-torch.log(u))
    return (probs.double().log() + g).argmax(dim=-1)
""")))
add(M(S_, "explicit keyword arguments, float32 probs", False, sample_next="""
def sample_next(logits, generator, temperature=1.0, top_k=None, top_p=None, repetition_penalty=1.0, prev=None):
    probs = sampling_probs(logits, temperature=temperature, top_k=top_k, top_p=top_p,
                           repetition_penalty=repetition_penalty, prev=prev)
    return torch.multinomial(probs.float(), num_samples=1, generator=generator)[:, 0].long()
"""))
add(M(S_, "one multinomial per row in a loop", False, sample_next=sn("""
    probs = sampling_probs(logits, **settings)
    return torch.stack([torch.multinomial(row, 1, generator=generator)[0] for row in probs])
""")))

# =========================================================================== LoRALinear
L = "LoRALinear"


def lora(init=None, fwd_=None, merge=None):
    init = init or """
        self.base = base
        for p in self.base.parameters():
            p.requires_grad_(False)
        W = base.weight
        self.A = nn.Parameter(torch.empty(r, base.in_features, dtype=W.dtype, device=W.device))
        nn.init.kaiming_uniform_(self.A, a=math.sqrt(5))
        self.B = nn.Parameter(torch.zeros(base.out_features, r, dtype=W.dtype, device=W.device))
        self.scale = alpha / r
"""
    fwd_ = fwd_ or """
        return self.base(x) + self.scale * (x @ self.A.T) @ self.B.T
"""
    merge = merge or """
        b = self.base
        m = nn.Linear(b.in_features, b.out_features, bias=b.bias is not None, dtype=b.weight.dtype, device=b.weight.device)
        with torch.no_grad():
            m.weight.copy_(b.weight + self.scale * self.B @ self.A)
            if b.bias is not None:
                m.bias.copy_(b.bias)
        return m
"""
    return ("class LoRALinear(nn.Module):\n"
            "    def __init__(self, base: nn.Linear, r: int, alpha: float):\n"
            "        super().__init__()\n" + init.strip("\n") + "\n\n"
            "    def forward(self, x):\n" + fwd_.strip("\n") + "\n\n"
            "    def merge(self):\n" + merge.strip("\n") + "\n")


INIT = lora().split("    def forward")[0].split("super().__init__()\n")[1]
add(M(L, "scale r / alpha", True, LoRALinear=lora(init=INIT.replace("alpha / r", "r / alpha"))))
add(M(L, "scale missing in forward and merge", True, LoRALinear=lora(
    fwd_="        return self.base(x) + (x @ self.A.T) @ self.B.T",
    merge=None).replace("self.scale * self.B", "self.B")))
add(M(L, "A zeros, B random (swapped init)", True, LoRALinear=lora(init="""
        self.base = base
        for p in self.base.parameters():
            p.requires_grad_(False)
        W = base.weight
        self.A = nn.Parameter(torch.zeros(r, base.in_features, dtype=W.dtype))
        self.B = nn.Parameter(torch.empty(base.out_features, r, dtype=W.dtype))
        nn.init.kaiming_uniform_(self.B, a=math.sqrt(5))
        self.scale = alpha / r
""")))
add(M(L, "A and B both zero", True, LoRALinear=lora(init=INIT.replace(
    "nn.init.kaiming_uniform_(self.A, a=math.sqrt(5))", "nn.init.zeros_(self.A)"))))
add(M(L, "base not frozen", True, LoRALinear=lora(init=INIT.replace(
    "p.requires_grad_(False)", "pass"))))
add(M(L, "only the base weight frozen (bias trains)", True, LoRALinear=lora(init=INIT.replace(
    "for p in self.base.parameters():\n            p.requires_grad_(False)",
    "self.base.weight.requires_grad_(False)"))))
add(M(L, "A = randn (std 1)", True, LoRALinear=lora(init=INIT.replace(
    "nn.init.kaiming_uniform_(self.A, a=math.sqrt(5))", "nn.init.normal_(self.A)"))))
add(M(L, "kaiming_uniform_ with the default a=0 (bound sqrt(6/in))", True, LoRALinear=lora(init=INIT.replace(
    "nn.init.kaiming_uniform_(self.A, a=math.sqrt(5))", "nn.init.kaiming_uniform_(self.A)"))))
add(M(L, "GREY A = normal(0, 0.02) instead of kaiming_uniform_", True, LoRALinear=lora(init=INIT.replace(
    "nn.init.kaiming_uniform_(self.A, a=math.sqrt(5))", "nn.init.normal_(self.A, std=0.02)"))))
add(M(L, "merge adds into the base weight in place", True, LoRALinear=lora(merge="""
        with torch.no_grad():
            self.base.weight += self.scale * self.B @ self.A
        return self.base
""")))
add(M(L, "merge forgets the update", True, LoRALinear=lora(merge="""
        b = self.base
        m = nn.Linear(b.in_features, b.out_features, bias=b.bias is not None, dtype=b.weight.dtype)
        with torch.no_grad():
            m.weight.copy_(b.weight)
            if b.bias is not None:
                m.bias.copy_(b.bias)
        return m
""")))
add(M(L, "merge with the update transposed (A^T B^T)", True, LoRALinear=lora(merge="""
        b = self.base
        m = nn.Linear(b.in_features, b.out_features, bias=b.bias is not None, dtype=b.weight.dtype)
        with torch.no_grad():
            m.weight.copy_(b.weight + self.scale * (self.A.T @ self.B.T).reshape(b.weight.shape))
            if b.bias is not None:
                m.bias.copy_(b.bias)
        return m
""")))
add(M(L, "merge drops the bias", True, LoRALinear=lora(merge="""
        b = self.base
        m = nn.Linear(b.in_features, b.out_features, bias=False, dtype=b.weight.dtype)
        with torch.no_grad():
            m.weight.copy_(b.weight + self.scale * self.B @ self.A)
        return m
""")))
add(M(L, "merge builds a float32 layer (dtype not passed)", True, LoRALinear=lora(merge="""
        b = self.base
        m = nn.Linear(b.in_features, b.out_features, bias=b.bias is not None)
        with torch.no_grad():
            m.weight.copy_(b.weight + self.scale * self.B @ self.A)
            if b.bias is not None:
                m.bias.copy_(b.bias)
        return m
""")))
add(M(L, "scale alpha // r (floor division)", True, LoRALinear=lora(init=INIT.replace("alpha / r", "alpha // r"))))
add(M(L, "A detached in forward (no gradient for A)", True, LoRALinear=lora(
    fwd_="        return self.base(x) + self.scale * (x @ self.A.detach().T) @ self.B.T")))
add(M(L, "GREY base kept as self.linear, not self.base", True, LoRALinear=lora(
    init=INIT.replace("self.base", "self.linear"),
    fwd_="        return self.linear(x) + self.scale * (x @ self.A.T) @ self.B.T",
    merge=None).replace("b = self.base", "b = self.linear")))
add(M(L, "A and B in float32 (dtype not passed)", True, LoRALinear=lora(init=INIT.replace(
    ", dtype=W.dtype, device=W.device", ""))))
add(M(L, "forward only for 2-D x: (B A x^T)^T", True, LoRALinear=lora(
    fwd_="        return self.base(x) + self.scale * (self.B @ self.A @ x.T).T")))
add(M(L, "base run under no_grad (x's gradient through W lost)", True, LoRALinear=lora(
    fwd_="""
        with torch.no_grad():
            y = self.base(x)
        return y + self.scale * (x @ self.A.T) @ self.B.T
""")))

add(M(L, "forward with the merged weight via F.linear", False, LoRALinear=lora(
    fwd_="        return F.linear(x, self.base.weight + self.scale * self.B @ self.A, self.base.bias)")))
add(M(L, "manual uniform(-1/sqrt(in), 1/sqrt(in)) init, einsum forward", False, LoRALinear=lora(init="""
        self.base = base
        base.requires_grad_(False)
        W = base.weight
        bound = 1 / math.sqrt(base.in_features)
        self.A = nn.Parameter(torch.rand(r, base.in_features, dtype=W.dtype, device=W.device) * 2 * bound - bound)
        self.B = nn.Parameter(W.new_zeros(base.out_features, r))
        self.scale = alpha / r
""", fwd_="""
        low = torch.einsum("...i,ri->...r", x, self.A)
        return self.base(x) + self.scale * torch.einsum("...r,or->...o", low, self.B)
""")))
add(M(L, "merge via deepcopy of the base", False, LoRALinear=lora(merge="""
        m = copy.deepcopy(self.base)
        with torch.no_grad():
            m.weight += self.scale * (self.B @ self.A)
        return m
""")))
add(M(L, "merge with nn.Parameter assignment; F.linear of A then B in forward", False, LoRALinear=lora(
    fwd_="        return self.base(x) + F.linear(F.linear(x, self.A), self.B) * self.scale",
    merge="""
        b = self.base
        m = nn.Linear(b.in_features, b.out_features, bias=b.bias is not None, dtype=b.weight.dtype, device=b.weight.device)
        m.weight = nn.Parameter((b.weight + self.scale * self.B @ self.A).detach().clone())
        if b.bias is not None:
            m.bias = nn.Parameter(b.bias.detach().clone())
        return m
""")))

# =========================================================================== token_nll
T_ = "token_nll"


def tn(body):
    return "def token_nll(logits, targets, mask):\n" + body.strip("\n") + "\n"


LP = "    nll = -torch.log_softmax(logits, dim=-1).gather(-1, targets[..., None])[..., 0]\n"
add(M(T_, "mean, not sum", True, token_nll=tn(LP + "    return nll[mask].mean(), int(mask.sum())")))
add(M(T_, "mask ignored", True, token_nll=tn(LP + "    return nll.sum(), int(mask.numel())")))
add(M(T_, "mask ignored in total only", True, token_nll=tn(LP + "    return nll.sum(), int(mask.sum())")))
add(M(T_, "log(softmax) (unstable)", True, token_nll=tn("""
    nll = -torch.log(torch.softmax(logits, dim=-1)).gather(-1, targets[..., None])[..., 0]
    return (nll * mask).sum(), int(mask.sum())
""")))
add(M(T_, "count as a tensor", True, token_nll=tn(LP + "    return nll[mask].sum(), mask.sum()")))
add(M(T_, "total as a Python float", True, token_nll=tn(LP + "    return float(nll[mask].sum()), int(mask.sum())")))
add(M(T_, "softmax over the time axis", True, token_nll=tn("""
    nll = -torch.log_softmax(logits, dim=1).gather(-1, targets[..., None])[..., 0]
    return nll[mask].sum(), int(mask.sum())
""")))
add(M(T_, "computed in float32", True, token_nll=tn("""
    nll = -torch.log_softmax(logits.float(), dim=-1).gather(-1, targets[..., None])[..., 0]
    return nll[mask].sum().to(logits.dtype), int(mask.sum())
""")))
add(M(T_, "total rebuilt with torch.tensor (no gradient)", True, token_nll=tn(
    LP + "    return torch.tensor(nll[mask].sum().item(), dtype=logits.dtype), int(mask.sum())")))
add(M(T_, "subtracts the max from logits in place", True, token_nll=tn("""
    logits -= logits.max(dim=-1, keepdim=True).values.detach()
    nll = logits.exp().sum(-1).log() - logits.gather(-1, targets[..., None])[..., 0]
    return nll[mask].sum(), int(mask.sum())
""")))
add(M(T_, "per-row means summed", True, token_nll=tn(LP + """
    per = (nll * mask).sum(1) / mask.sum(1).clamp(min=1)
    return per.sum(), int(mask.sum())
""")))
add(M(T_, "logsumexp without the max", True, token_nll=tn("""
    nll = logits.exp().sum(-1).log() - logits.gather(-1, targets[..., None])[..., 0]
    return nll[mask].sum(), int(mask.sum())
""")))
add(M(T_, "targets shifted by one (next-token confusion)", True, token_nll=tn("""
    lp = torch.log_softmax(logits[:, :-1], dim=-1)
    nll = -lp.gather(-1, targets[:, 1:, None])[..., 0]
    m = mask[:, 1:]
    return nll[m].sum(), int(m.sum())
""")))

add(M(T_, "F.cross_entropy on the real positions, reduction sum", False, token_nll=tn("""
    total = F.cross_entropy(logits[mask], targets[mask], reduction="sum")
    return total, int(mask.sum().item())
""")))
add(M(T_, "manual logsumexp with where", False, token_nll=tn("""
    lse = torch.logsumexp(logits, dim=-1)
    picked = torch.take_along_dim(logits, targets.unsqueeze(-1), dim=-1).squeeze(-1)
    nll = torch.where(mask, lse - picked, torch.zeros_like(lse))
    return nll.sum(), sum(int(v) for v in mask.flatten().tolist())
""")))
add(M(T_, "cross_entropy with reduction none, flattened", False, token_nll=tn("""
    N, T, V = logits.shape
    nll = F.cross_entropy(logits.reshape(N * T, V), targets.reshape(-1), reduction="none")
    m = mask.reshape(-1).to(logits.dtype)
    return (nll * m).sum(), int(m.sum().item())
""")))

# =========================================================================== evaluate_lm
E_ = "evaluate_lm"


def ev(loop, restore="    model.train(was)\n", grad="with torch.no_grad():", tail=None):
    tail = tail or ('    nats = total / count\n'
                    '    return {"nats": nats, "bits": nats / math.log(2), "perplexity": math.exp(nats), "tokens": count}\n')
    return ("def evaluate_lm(model, batches):\n    was = model.training\n    model.eval()\n"
            "    total, count = 0.0, 0\n"
            f"    {grad}\n" + loop.strip("\n") + "\n" + restore + tail)


LOOP = """
        for x, y, m in batches:
            t, c = token_nll(model(x), y, m)
            total += float(t)
            count += c
"""
add(M(E_, "mean of the batches' means", True, evaluate_lm=ev("""
        means = []
        for x, y, m in batches:
            t, c = token_nll(model(x), y, m)
            means.append(float(t) / c)
            count += c
        total = sum(means) / len(means) * count
""")))
add(M(E_, "model.eval() not called", True, evaluate_lm=ev(LOOP).replace("    model.eval()\n", "")))
add(M(E_, "gradients on (no torch.no_grad)", True, evaluate_lm=ev(LOOP, grad="if True:")))
add(M(E_, "model left in eval mode", True, evaluate_lm=ev(LOOP, restore="")))
add(M(E_, "model.train() at the end regardless", True, evaluate_lm=ev(LOOP, restore="    model.train()\n")))
add(M(E_, "bits = nats * ln 2", True, evaluate_lm=ev(LOOP, tail=(
    '    nats = total / count\n'
    '    return {"nats": nats, "bits": nats * math.log(2), "perplexity": math.exp(nats), "tokens": count}\n'))))
add(M(E_, "perplexity = 2 ** nats", True, evaluate_lm=ev(LOOP, tail=(
    '    nats = total / count\n'
    '    return {"nats": nats, "bits": nats / math.log(2), "perplexity": 2 ** nats, "tokens": count}\n'))))
add(M(E_, "tokens as a tensor", True, evaluate_lm=ev("""
        for x, y, m in batches:
            t, c = token_nll(model(x), y, m)
            total += float(t)
            count = count + m.sum()
""", tail=('    nats = total / float(count)\n'
          '    return {"nats": nats, "bits": nats / math.log(2), "perplexity": math.exp(nats), "tokens": count}\n'))))
add(M(E_, "nats as a 0-d tensor", True, evaluate_lm=ev("""
        for x, y, m in batches:
            t, c = token_nll(model(x), y, m)
            total = total + t
            count += c
""", tail=('    nats = total / count\n'
          '    return {"nats": nats, "bits": float(nats) / math.log(2), "perplexity": math.exp(nats), "tokens": count}\n'))))
add(M(E_, "GREY iterates batches twice (a one-shot iterable gives 0 tokens)", True, evaluate_lm=ev("""
        count = sum(int(m.sum()) for _, _, m in batches)
        for x, y, m in batches:
            total += float(token_nll(model(x), y, m)[0])
""", tail=('    nats = total / max(count, 1)\n'
          '    return {"nats": nats, "bits": nats / math.log(2), "perplexity": math.exp(nats), "tokens": count}\n'))))
add(M(E_, "restores only model.training (submodules stay in eval)", True,
      evaluate_lm=ev(LOOP, restore="    model.training = was\n")))
add(M(E_, "torch.set_grad_enabled(False) never restored", True, evaluate_lm=ev("""
        pass
    torch.set_grad_enabled(False)
    for x, y, m in batches:
        t, c = token_nll(model(x), y, m)
        total += float(t)
        count += c
""")))
add(M(E_, "count = every position (mask ignored in the count)", True, evaluate_lm=ev("""
        for x, y, m in batches:
            t, c = token_nll(model(x), y, m)
            total += float(t)
            count += y.numel()
""")))
add(M(E_, "float32 accumulation", True, evaluate_lm=ev("""
        total = torch.zeros((), dtype=torch.float32)
        for x, y, m in batches:
            t, c = token_nll(model(x), y, m)
            total = total + t.float()
            count += c
        total = float(total)
""")))
add(M(E_, "weights batches by rows, not tokens", True, evaluate_lm=ev("""
        rows = 0
        for x, y, m in batches:
            t, c = token_nll(model(x), y, m)
            total += float(t) / c * x.shape[0]
            rows += x.shape[0]
            count += c
        total = total / rows * count
""")))

add(M(E_, "GREY-OK F.cross_entropy instead of token_nll", False, evaluate_lm=ev("""
        for x, y, m in batches:
            total += F.cross_entropy(model(x)[m], y[m], reduction="sum").item()
            count += int(m.sum())
""")))
add(M(E_, "inference_mode, tensor accumulation, try/finally", False, evaluate_lm="""
def evaluate_lm(model, batches):
    mode = model.training
    model.eval()
    try:
        tot, cnt = None, 0
        with torch.inference_mode():
            for x, y, m in batches:
                t, c = token_nll(model(x), y, m)
                tot = t if tot is None else tot + t
                cnt += c
    finally:
        model.train(mode)
    nats = tot.item() / cnt
    return {"nats": nats, "bits": math.log2(math.exp(1)) * nats, "perplexity": math.exp(nats), "tokens": int(cnt)}
"""))
add(M(E_, "decorator-free: set_grad_enabled context, bits via log2", False, evaluate_lm="""
def evaluate_lm(model, batches):
    was = model.training
    model.train(False)
    parts = []
    with torch.set_grad_enabled(False):
        for x, y, m in batches:
            parts.append(token_nll(model(x), y, m))
    model.train(was)
    total = sum(float(t) for t, _ in parts)
    count = sum(c for _, c in parts)
    nats = total / count
    return dict(nats=nats, bits=nats / math.log(2.0), perplexity=float(np.exp(nats)), tokens=count)
"""))

# =========================================================================== second round (after the first run)
add(M(R, "positions repeated per head in the wrong order (repeat(h, 1) on flattened x)", True, apply_rope="""
def apply_rope(x, positions, base=10000.0):
    N, h, T, d = x.shape
    theta = base ** (-2.0 * torch.arange(d // 2, dtype=torch.float64) / d)
    pos = positions.repeat(h, 1).reshape(N * h, T).double()
    ang = pos[..., None] * theta
    cos, sin = torch.cos(ang).to(x.dtype), torch.sin(ang).to(x.dtype)
    flat = x.reshape(N * h, T, d)
    e, o = flat[..., 0::2], flat[..., 1::2]
    return torch.stack((e * cos - o * sin, e * sin + o * cos), dim=-1).flatten(-2).reshape(N, h, T, d)
"""))
add(M(A, "causal mask as cat(ones(T, S), tril(T, T))", False, CachedSelfAttention=fwd(mask="""
causal = torch.cat((torch.ones(T, S, dtype=torch.bool), torch.ones(T, T, dtype=torch.bool).tril()), dim=1)
allowed = causal[None, None] & key_mask[:, None, None, :]
""")))
add(M(S_, "own generator with a fixed seed (the one given is ignored)", True, sample_next=sn("""
    g = torch.Generator().manual_seed(0)
    return torch.multinomial(sampling_probs(logits, **settings), 1, generator=g).squeeze(1)
""")))
add(M(S_, "global RNG re-seeded at every call (torch.manual_seed(0))", True, sample_next=sn("""
    torch.manual_seed(0)
    return torch.multinomial(sampling_probs(logits, **settings), 1).squeeze(1)
""")))
add(M(S_, "re-seeds the generator given at every call", True, sample_next=sn("""
    generator.manual_seed(generator.initial_seed())
    return torch.multinomial(sampling_probs(logits, **settings), 1, generator=generator).squeeze(1)
""")))
add(M(L, "A and B made on the default device (device not passed)", True, LoRALinear=lora(init=INIT.replace(
    ", device=W.device", ""))))
add(M(L, "merge builds the layer on the default device", True, LoRALinear=lora(merge="""
        b = self.base
        m = nn.Linear(b.in_features, b.out_features, bias=b.bias is not None, dtype=b.weight.dtype)
        with torch.no_grad():
            m.weight.copy_(b.weight + self.scale * self.B @ self.A)
            if b.bias is not None:
                m.bias.copy_(b.bias)
        return m
""")))
add(M(T_, "padding excluded by ignore_index=0 instead of the mask", True, token_nll=tn("""
    N, T, V = logits.shape
    t = targets.masked_fill(~mask, 0)
    total = F.cross_entropy(logits.reshape(N * T, V), t.reshape(-1), ignore_index=0, reduction="sum")
    return total, int(mask.sum())
""")))
add(M(E_, "perplexity = exp(bits)", True, evaluate_lm=ev(LOOP, tail=(
    '    nats = total / count\n'
    '    return {"nats": nats, "bits": nats / math.log(2), "perplexity": math.exp(nats / math.log(2)), "tokens": count}\n'))))
add(M(R, "float32 arithmetic throughout, cast back to x's dtype", False, apply_rope="""
def apply_rope(x, positions, base=10000.0):
    d = x.shape[-1]
    xf = x.float()
    inv = 1.0 / (base ** (torch.arange(0, d, 2, dtype=torch.float32) / d))
    ang = positions.float()[:, None, :, None] * inv
    c, s = ang.cos(), ang.sin()
    e, o = xf[..., 0::2], xf[..., 1::2]
    return torch.stack((e * c - o * s, e * s + o * c), -1).flatten(-2).to(x.dtype)
"""))


# The ones that escaped (or were caught only by hidden tests) before the lab's tests were tightened.
CAUGHT_LATE = [m for m in MUTANTS if m.wrong and m.name in {
    "GREY -1e9 fill: a padded query (no allowed key) outputs non-zero",
    "GREY positions argument ignored, recomputed from key_mask",
    "top-p keeps when ahead <= p (not < p)",
    "penalty applied after top-k",
    "own generator with a fixed seed (the one given is ignored)",
    "global RNG re-seeded at every call (torch.manual_seed(0))",
    "re-seeds the generator given at every call",
    "GREY divides the caller's logits in place",
    "A and B made on the default device (device not passed)",
    "merge builds the layer on the default device",
    "GREY A = normal(0, 0.02) instead of kaiming_uniform_",
    "GREY base kept as self.linear, not self.base",
    "scale alpha // r (floor division)",
    "restores only model.training (submodules stay in eval)",
    "torch.set_grad_enabled(False) never restored",
    "GREY iterates batches twice (a one-shot iterable gives 0 tokens)",
    "float32 accumulation",
}]
assert len(CAUGHT_LATE) == 17, [m.name for m in CAUGHT_LATE]
