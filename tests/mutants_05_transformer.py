"""Implementations of Lab 5's graded functions that a student might write, for the mutation tests.

Each ``Mutant`` replaces one or more solution cells. ``wrong`` ones hold a plausible bug and must
lose the target's points; the others are correct but written differently (einsum, loops over heads,
explicit mask tensors, another formula, F.linear, the cell's own imports and helpers) and must keep
every point. Among the wrong ones, some compute the right numbers by a way the lab rules out: calling
the tests' oracles (``_test_*``) or torch's own attention and transformer layers; only the static rules
(and ``check_rules`` in the visible tests) stop them. Written from the lab's stated contracts
(keep-masks, True = may attend; pre-norm blocks; the layer names given in ``__init__``).
"""
from __future__ import annotations

from labharness import Mutant, replaced

# ---------------------------------------------------------------- scaled dot-product attention
SDPA = """
def scaled_dot_product_attention(q, k, v, mask=None, causal=False):
    T_q, T_k = q.shape[-2], k.shape[-2]
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    keep = torch.ones(T_q, T_k, dtype=torch.bool, device=q.device)
    if causal:
        keep = torch.tril(keep)
    if mask is not None:
        keep = keep & mask
    scores = scores.masked_fill(~keep, float("-inf"))
    w = torch.softmax(scores, dim=-1)
    w = torch.nan_to_num(w, nan=0.0)
    return w @ v, w
"""

# ---------------------------------------------------------------- multi-head attention
MHA_INIT = """
class MultiHeadAttention(nn.Module):
    def __init__(self, E, h, bias=True):
        super().__init__()
        self.h, self.d_k = h, E // h
        self.W_q = nn.Linear(E, E, bias=bias)
        self.W_k = nn.Linear(E, E, bias=bias)
        self.W_v = nn.Linear(E, E, bias=bias)
        self.W_o = nn.Linear(E, E, bias=bias)

    def forward(self, query, key, value, mask=None, causal=False):
        N, T_q, E = query.shape
        T_k = key.shape[1]
"""
MHA = MHA_INIT + """        q = self.W_q(query).view(N, T_q, self.h, self.d_k).transpose(1, 2)
        k = self.W_k(key).view(N, T_k, self.h, self.d_k).transpose(1, 2)
        v = self.W_v(value).view(N, T_k, self.h, self.d_k).transpose(1, 2)
        m = None if mask is None else mask[:, None]
        o, w = scaled_dot_product_attention(q, k, v, m, causal)
        o = o.transpose(1, 2).reshape(N, T_q, E)
        return self.W_o(o), w
"""

# ---------------------------------------------------------------- positional encoding
PE = """
def positional_encoding(T, E, dtype=torch.float32):
    PE = torch.zeros(T, E, dtype=torch.float64)
    pos = torch.arange(T, dtype=torch.float64)[:, None]
    for j in range(E):
        i = j // 2
        angle = pos[:, 0] / 10000 ** (2 * i / E)
        PE[:, j] = torch.sin(angle) if j % 2 == 0 else torch.cos(angle)
    return PE.to(dtype)
"""

# ---------------------------------------------------------------- blocks
ENC_INIT = """
class EncoderBlock(nn.Module):
    def __init__(self, E, h, F_ff):
        super().__init__()
        self.ln1 = nn.LayerNorm(E)
        self.attn = MultiHeadAttention(E, h)
        self.ln2 = nn.LayerNorm(E)
        self.ff = nn.Sequential(nn.Linear(E, F_ff), nn.GELU(), nn.Linear(F_ff, E))

    def forward(self, x, mask=None, causal=False):
        m = None if mask is None else mask[:, None, :]
"""
ENC = ENC_INIT + """        a = self.ln1(x)
        x = x + self.attn(a, a, a, m, causal)[0]
        return x + self.ff(self.ln2(x))
"""

DEC_INIT = """
class DecoderBlock(nn.Module):
    def __init__(self, E, h, F_ff):
        super().__init__()
        self.ln1 = nn.LayerNorm(E)
        self.self_attn = MultiHeadAttention(E, h)
        self.ln2 = nn.LayerNorm(E)
        self.cross_attn = MultiHeadAttention(E, h)
        self.ln3 = nn.LayerNorm(E)
        self.ff = nn.Sequential(nn.Linear(E, F_ff), nn.GELU(), nn.Linear(F_ff, E))

    def forward(self, x, memory, src_mask=None, tgt_mask=None):
        tm = None if tgt_mask is None else tgt_mask[:, None, :]
        sm = None if src_mask is None else src_mask[:, None, :]
"""
DEC = DEC_INIT + """        a = self.ln1(x)
        x = x + self.self_attn(a, a, a, tm, causal=True)[0]
        b = self.ln2(x)
        x = x + self.cross_attn(b, memory, memory, sm)[0]
        return x + self.ff(self.ln3(x))
"""


# the decoder's causal-and-padding mask as one explicit (N, T, T) tensor
DEC_EXPLICIT = DEC_INIT + """        N, T, _ = x.shape
        keep = torch.tril(torch.ones(T, T, dtype=torch.bool, device=x.device)).expand(N, T, T)
        if tgt_mask is not None:
            keep = keep & tgt_mask[:, None, :]
        a = self.ln1(x)
        x = x + self.self_attn(a, a, a, keep)[0]
        x = x + self.cross_attn(self.ln2(x), memory, memory, sm)[0]
        return x + self.ff(self.ln3(x))
"""




# ---------------------------------------------------------------- right numbers, by a way the lab rules out
SDPA_BY_TORCH = """
def scaled_dot_product_attention(q, k, v, mask=None, causal=False):
    from torch.nn.functional import scaled_dot_product_attention as fused
    T_q, T_k = q.shape[-2], k.shape[-2]
    keep = torch.ones(T_q, T_k, dtype=torch.bool)
    if causal:
        keep = torch.tril(keep)
    if mask is not None:
        keep = keep & mask
    keep = keep.expand(*q.shape[:-2], T_q, T_k)
    eye = torch.eye(T_k, dtype=q.dtype).expand(*q.shape[:-2], T_k, T_k)
    return fused(q, k, v, attn_mask=keep), fused(q, k, eye, attn_mask=keep)
"""

MHA_BY_TORCH = MHA_INIT + """        keep = torch.ones(N, T_q, T_k, dtype=torch.bool)
        if causal:
            keep = keep & torch.tril(torch.ones(T_q, T_k, dtype=torch.bool))
        if mask is not None:
            keep = keep & mask
        out, w = F.multi_head_attention_forward(
            query.transpose(0, 1), key.transpose(0, 1), value.transpose(0, 1), E, self.h,
            None, torch.cat([self.W_q.bias, self.W_k.bias, self.W_v.bias]), None, None, False, 0.0,
            self.W_o.weight, self.W_o.bias, training=False, need_weights=True,
            attn_mask=(~keep).repeat_interleave(self.h, dim=0), use_separate_proj_weight=True,
            q_proj_weight=self.W_q.weight, k_proj_weight=self.W_k.weight, v_proj_weight=self.W_v.weight,
            average_attn_weights=False)
        return out.transpose(0, 1), w
"""

MHA_BY_ORACLE = MHA_INIT + """        q = self.W_q(query).view(N, T_q, self.h, self.d_k).transpose(1, 2)
        k = self.W_k(key).view(N, T_k, self.h, self.d_k).transpose(1, 2)
        v = self.W_v(value).view(N, T_k, self.h, self.d_k).transpose(1, 2)
        w = scaled_dot_product_attention(q, k, v, None if mask is None else mask[:, None], causal)[1]
        return _test_mha_variant(self, query, key, value, mask, causal), w
"""

ENC_BY_ORACLE = ENC_INIT + """        N, T, E = x.shape
        ref = _test_torch_encoder(self, E, self.attn.h, self.ff[0].out_features)
        kw = {"src_key_padding_mask": None if mask is None else ~mask}
        if causal:
            kw.update(src_mask=torch.triu(torch.ones(T, T, dtype=torch.bool), 1), is_causal=True)
        return ref(x, **kw)
"""

DEC_BY_TORCH = """
import torch
from torch.nn import TransformerDecoderLayer
""" + DEC_INIT + """        N, T, E = x.shape
        layer = TransformerDecoderLayer(E, self.self_attn.h, self.ff[0].out_features, dropout=0.0, activation="gelu",
                                        batch_first=True, norm_first=True, dtype=x.dtype)
        with torch.no_grad():
            for mine, theirs in ((self.self_attn, layer.self_attn), (self.cross_attn, layer.multihead_attn)):
                theirs.in_proj_weight.copy_(torch.cat([mine.W_q.weight, mine.W_k.weight, mine.W_v.weight]))
                theirs.in_proj_bias.copy_(torch.cat([mine.W_q.bias, mine.W_k.bias, mine.W_v.bias]))
                theirs.out_proj.load_state_dict(mine.W_o.state_dict())
            layer.linear1.load_state_dict(self.ff[0].state_dict())
            layer.linear2.load_state_dict(self.ff[2].state_dict())
            for mine, theirs in ((self.ln1, layer.norm1), (self.ln2, layer.norm2), (self.ln3, layer.norm3)):
                theirs.load_state_dict(mine.state_dict())
        return layer.train()(x, memory, tgt_mask=torch.triu(torch.ones(T, T, dtype=torch.bool), 1), tgt_is_causal=True,
                             memory_key_padding_mask=None if src_mask is None else ~src_mask,
                             tgt_key_padding_mask=None if tgt_mask is None else ~tgt_mask)
"""

# ---------------------------------------------------------------- correct, written another way
SDPA_OWN_HELPER = """
import math
import torch
import torch.nn.functional as F


def _allowed(T_q, T_k, mask, causal, device):
    # (T_q, T_k) or broadcast with the mask: True = may attend
    keep = torch.ones(T_q, T_k, dtype=torch.bool, device=device)
    if causal:
        keep = keep.tril()
    return keep if mask is None else keep & mask


def scaled_dot_product_attention(q, k, v, mask=None, causal=False):
    keep = _allowed(q.shape[-2], k.shape[-2], mask, causal, q.device)
    scores = torch.matmul(q, k.mT) * (1.0 / math.sqrt(q.size(-1)))
    w = F.softmax(scores.masked_fill(~keep, -math.inf), dim=-1).masked_fill(~keep, 0.0)
    return torch.matmul(w, v), w
"""

MHA_LINEAR_HELPER = """
import math
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.functional import linear


def split_heads(x, h):
    N, T, E = x.shape
    return x.view(N, T, h, E // h).transpose(1, 2)   # (N, T, E) -> (N, h, T, d_k)
""" + MHA_INIT + """        q = split_heads(F.linear(query, self.W_q.weight, self.W_q.bias), self.h)
        k = split_heads(linear(key, self.W_k.weight, self.W_k.bias), self.h)
        v = split_heads(torch.nn.functional.linear(value, self.W_v.weight, self.W_v.bias), self.h)
        scores = torch.einsum("nhqd,nhkd->nhqk", q, k) / math.sqrt(self.d_k)
        keep = torch.ones(T_q, T_k, dtype=torch.bool, device=query.device)
        if causal:
            keep = keep.tril()
        if mask is not None:
            keep = keep & mask[:, None]
        w = torch.softmax(scores.masked_fill(~keep, float("-inf")), dim=-1)
        o = torch.einsum("nhqk,nhkd->nhqd", w, v).transpose(1, 2).reshape(N, T_q, E)
        return F.linear(o, self.W_o.weight, self.W_o.bias), w
"""

MHA_FUSED_OUTPUT = MHA_INIT + """        q = self.W_q(query).view(N, T_q, self.h, self.d_k).transpose(1, 2)
        k = self.W_k(key).view(N, T_k, self.h, self.d_k).transpose(1, 2)
        v = self.W_v(value).view(N, T_k, self.h, self.d_k).transpose(1, 2)
        keep = torch.ones(N, 1, T_q, T_k, dtype=torch.bool, device=query.device)
        if causal:
            keep = keep & torch.ones(T_q, T_k, dtype=torch.bool, device=query.device).tril()
        if mask is not None:
            keep = keep & mask[:, None]
        o = F.scaled_dot_product_attention(q, k, v, attn_mask=keep)            # allowed here: Part 1 is graded apart
        w = scaled_dot_product_attention(q, k, v, keep)[1]
        return self.W_o(o.transpose(1, 2).reshape(N, T_q, E)), w
"""

ENC_FUNCTIONAL = """
import torch.nn.functional as F


def residual(x, sublayer, norm):
    # pre-norm: x + sublayer(LayerNorm(x)), the LayerNorm written with F.layer_norm and norm's parameters
    return x + sublayer(F.layer_norm(x, norm.normalized_shape, norm.weight, norm.bias, norm.eps))
""" + ENC_INIT + """        x = residual(x, lambda z: self.attn(z, z, z, m, causal)[0], self.ln1)
        lin1, _, lin2 = self.ff
        return residual(x, lambda z: F.linear(F.gelu(F.linear(z, lin1.weight, lin1.bias)), lin2.weight, lin2.bias),
                        self.ln2)
"""


M = Mutant.of
S = "scaled_dot_product_attention"

MUTANTS = [
    # ---------------------------------------------------------------- scaled_dot_product_attention
    M(S, "no 1/sqrt(d_k) scaling", True, **{S: replaced(SDPA, " / math.sqrt(q.shape[-1])", "")}),
    M(S, "divided by d_k", True, **{S: replaced(SDPA, "math.sqrt(q.shape[-1])", "q.shape[-1]")}),
    M(S, "mask applied after the softmax", True, **{S: replaced(SDPA, """    scores = scores.masked_fill(~keep, float("-inf"))
    w = torch.softmax(scores, dim=-1)""", """    w = torch.softmax(scores, dim=-1) * keep""")}),
    M(S, "causal mask off by one (hides the diagonal)", True, **{S: replaced(SDPA, "torch.tril(keep)", "torch.tril(keep, -1)")}),
    M(S, "causal mask off by one (sees one step ahead)", True, **{S: replaced(SDPA, "torch.tril(keep)", "torch.tril(keep, 1)")}),
    M(S, "causal mask upside down (triu)", True, **{S: replaced(SDPA, "torch.tril(keep)", "torch.triu(keep)")}),
    M(S, "softmax over the queries", True, **{S: replaced(SDPA, "torch.softmax(scores, dim=-1)", "torch.softmax(scores, dim=-2)")}),
    M(S, "fully masked rows give NaN", True, **{S: replaced(SDPA, "    w = torch.nan_to_num(w, nan=0.0)\n", "")}),
    M(S, "-1e9 instead of -inf (fully masked rows uniform)", True, **{S: replaced(SDPA,
      """masked_fill(~keep, float("-inf"))""", "masked_fill(~keep, -1e9)").replace("    w = torch.nan_to_num(w, nan=0.0)\n", "")}),
    M(S, "causal flag ignored", True, **{S: replaced(SDPA, "    if causal:\n        keep = torch.tril(keep)\n", "")}),
    M(S, "einsum, where, explicit zeroing", False, **{S: """
def scaled_dot_product_attention(q, k, v, mask=None, causal=False):
    T_q, T_k = q.shape[-2], k.shape[-2]
    s = torch.einsum('...qd,...kd->...qk', q, k) * q.shape[-1] ** -0.5
    allowed = torch.ones_like(s, dtype=torch.bool)
    if mask is not None:
        allowed = allowed & mask
    if causal:
        i = torch.arange(T_q, device=q.device)[:, None]
        j = torch.arange(T_k, device=q.device)[None, :]
        allowed = allowed & (j <= i)
    s = torch.where(allowed, s, torch.full_like(s, -math.inf))
    s_max = s.amax(dim=-1, keepdim=True)
    e = torch.exp(s - torch.where(torch.isinf(s_max), torch.zeros_like(s_max), s_max))
    denom = e.sum(-1, keepdim=True)
    w = torch.where(denom > 0, e / denom.clamp_min(torch.finfo(e.dtype).tiny), torch.zeros_like(e))
    return torch.einsum('...qk,...kd->...qd', w, v), w
"""}),
    M(S, "F.scaled_dot_product_attention, imported under another name (right numbers, forbidden)", True,
      **{S: SDPA_BY_TORCH}),
    M(S, "returns the test's oracle, _test_sdpa_oracle (right numbers, forbidden)", True, **{S: """
def scaled_dot_product_attention(q, k, v, mask=None, causal=False):
    return _test_sdpa_oracle(q, k, v, mask, causal)
"""}),
    M(S, "the cell's own imports and a helper, F.softmax, matmul with .mT, masked_fill twice", False,
      **{S: SDPA_OWN_HELPER}),
    # ---------------------------------------------------------------- MultiHeadAttention
    M("MultiHeadAttention", "heads merged without the transpose back", True, MultiHeadAttention=replaced(MHA,
      "o.transpose(1, 2).reshape(N, T_q, E)", "o.reshape(N, T_q, E)")),
    M("MultiHeadAttention", "heads split by a reshape to (N, h, T, d_k)", True, MultiHeadAttention=replaced(replaced(replaced(MHA,
      "self.W_q(query).view(N, T_q, self.h, self.d_k).transpose(1, 2)", "self.W_q(query).reshape(N, self.h, T_q, self.d_k)"),
      "self.W_k(key).view(N, T_k, self.h, self.d_k).transpose(1, 2)", "self.W_k(key).reshape(N, self.h, T_k, self.d_k)"),
      "self.W_v(value).view(N, T_k, self.h, self.d_k).transpose(1, 2)", "self.W_v(value).reshape(N, self.h, T_k, self.d_k)")),
    M("MultiHeadAttention", "heads merged in the wrong order (d_k, h)", True, MultiHeadAttention=replaced(MHA,
      "o.transpose(1, 2).reshape(N, T_q, E)", "o.permute(0, 2, 3, 1).reshape(N, T_q, E)")),
    M("MultiHeadAttention", "no output projection", True, MultiHeadAttention=replaced(MHA, "return self.W_o(o), w", "return o, w")),
    M("MultiHeadAttention", "keys projected with W_q", True, MultiHeadAttention=replaced(MHA, "self.W_k(key)", "self.W_q(key)")),
    M("MultiHeadAttention", "scores scaled by sqrt(E)", True, MultiHeadAttention=MHA_INIT + """        q = self.W_q(query).view(N, T_q, self.h, self.d_k).transpose(1, 2)
        k = self.W_k(key).view(N, T_k, self.h, self.d_k).transpose(1, 2)
        v = self.W_v(value).view(N, T_k, self.h, self.d_k).transpose(1, 2)
        s = q @ k.transpose(-2, -1) / math.sqrt(E)
        keep = torch.ones(T_q, T_k, dtype=torch.bool)
        if causal:
            keep = torch.tril(keep)
        if mask is not None:
            keep = keep & mask[:, None]
        w = torch.softmax(s.masked_fill(~keep, float('-inf')), -1)
        return self.W_o((w @ v).transpose(1, 2).reshape(N, T_q, E)), w
"""),
    M("MultiHeadAttention", "a loop over heads with sliced weights, einsum", False, MultiHeadAttention=MHA_INIT + """        d = self.d_k
        outs, ws = [], []
        m = None if mask is None else mask
        for i in range(self.h):
            rows = slice(i * d, (i + 1) * d)
            q = query @ self.W_q.weight[rows].T + self.W_q.bias[rows]
            k = torch.einsum('nte,de->ntd', key, self.W_k.weight[rows]) + self.W_k.bias[rows]
            v = torch.einsum('nte,de->ntd', value, self.W_v.weight[rows]) + self.W_v.bias[rows]
            o, w = scaled_dot_product_attention(q, k, v, m, causal)
            outs.append(o)
            ws.append(w)
        return self.W_o(torch.cat(outs, dim=-1)), torch.stack(ws, dim=1)
"""),
    M("MultiHeadAttention", "F.multi_head_attention_forward with the four layers' weights (right numbers, forbidden)",
      True, MultiHeadAttention=MHA_BY_TORCH),
    M("MultiHeadAttention", "output from the test's _test_mha_variant (right numbers, forbidden)", True,
      MultiHeadAttention=MHA_BY_ORACLE),
    M("MultiHeadAttention", "F.linear three ways, a helper of its own, einsum, torch.softmax", False,
      MultiHeadAttention=MHA_LINEAR_HELPER),
    M("MultiHeadAttention", "F.scaled_dot_product_attention for the output, Part 1 for the weights", False,
      MultiHeadAttention=MHA_FUSED_OUTPUT),
    # ---------------------------------------------------------------- positional_encoding
    M("positional_encoding", "sin and cos swapped", True, positional_encoding=replaced(PE,
      "torch.sin(angle) if j % 2 == 0 else torch.cos(angle)", "torch.cos(angle) if j % 2 == 0 else torch.sin(angle)")),
    M("positional_encoding", "exponent i/E instead of 2i/E", True, positional_encoding=replaced(PE, "(2 * i / E)", "(i / E)")),
    M("positional_encoding", "exponent j/E (column index, not pair)", True, positional_encoding=replaced(PE, "(2 * i / E)", "(j / E)")),
    M("positional_encoding", "positions start at 1", True, positional_encoding=replaced(PE,
      "torch.arange(T, dtype=torch.float64)", "torch.arange(1, T + 1, dtype=torch.float64)")),
    M("positional_encoding", "sin half, cos half", True, positional_encoding="""
def positional_encoding(T, E, dtype=torch.float32):
    half = (E + 1) // 2
    pos = torch.arange(T, dtype=torch.float64)[:, None]
    freq = 10000.0 ** (-2 * torch.arange(half, dtype=torch.float64) / E)
    return torch.cat([torch.sin(pos * freq), torch.cos(pos * freq)[:, :E - half]], dim=1).to(dtype)
"""),
    M("positional_encoding", "computed in float32 then returned as float64", True, positional_encoding="""
def positional_encoding(T, E, dtype=torch.float32):
    pos = torch.arange(T, dtype=torch.float32)[:, None]
    div = torch.exp(torch.arange(0, E, 2, dtype=torch.float32) * (-math.log(10000.0) / E))
    PE = torch.zeros(T, E)
    PE[:, 0::2] = torch.sin(pos * div)
    PE[:, 1::2] = torch.cos(pos * div)[:, :E // 2]
    return PE.to(dtype)
"""),
    M("positional_encoding", "returns the test's oracle, _test_pe_oracle (right numbers, forbidden)", True,
      positional_encoding="""
def positional_encoding(T, E, dtype=torch.float32):
    return torch.tensor(_test_pe_oracle(T, E), dtype=dtype)
"""),
    M("positional_encoding", "numpy table, returned as numpy (not a tensor)", True, positional_encoding="""
def positional_encoding(T, E, dtype=torch.float32):
    pos = np.arange(T)[:, None]
    angle = pos / 10000.0 ** (2 * (np.arange(E) // 2) / E)
    PE = np.where(np.arange(E) % 2 == 0, np.sin(angle), np.cos(angle))
    return PE.astype(np.float64 if dtype == torch.float64 else np.float32)
"""),
    M("positional_encoding", "float64 whatever dtype is asked for", True, positional_encoding="""
def positional_encoding(T, E, dtype=torch.float32):
    pos = torch.arange(T, dtype=torch.float64)[:, None]
    angle = pos / 10000.0 ** (2 * (torch.arange(E) // 2) / E)
    return torch.where(torch.arange(E) % 2 == 0, torch.sin(angle), torch.cos(angle))
"""),
    M("positional_encoding", "loop over columns", False, positional_encoding=PE),
    M("positional_encoding", "exp-log frequencies, stacked and interleaved", False, positional_encoding="""
def positional_encoding(T, E, dtype=torch.float32):
    pos = torch.arange(T, dtype=torch.float64)[:, None]
    div = torch.exp(torch.arange(0, E + 1, 2, dtype=torch.float64) * (-math.log(10000.0) / E))
    pairs = torch.stack([torch.sin(pos * div), torch.cos(pos * div)], dim=-1)
    return pairs.reshape(T, -1)[:, :E].to(dtype)
"""),
    # ---------------------------------------------------------------- EncoderBlock
    M("EncoderBlock", "post-norm", True, EncoderBlock=ENC_INIT + """        x = self.ln1(x + self.attn(x, x, x, m, causal)[0])
        return self.ln2(x + self.ff(x))
"""),
    M("EncoderBlock", "padding mask ignored", True, EncoderBlock=replaced(ENC, "self.attn(a, a, a, m, causal)", "self.attn(a, a, a, None, causal)")),
    M("EncoderBlock", "causal flag ignored", True, EncoderBlock=replaced(ENC, "self.attn(a, a, a, m, causal)", "self.attn(a, a, a, m)")),
    M("EncoderBlock", "no residual around the feed-forward network", True, EncoderBlock=replaced(ENC,
      "return x + self.ff(self.ln2(x))", "return self.ff(self.ln2(x))")),
    M("EncoderBlock", "ln1 reused for the feed-forward network", True, EncoderBlock=replaced(ENC, "self.ff(self.ln2(x))", "self.ff(self.ln1(x))")),
    M("EncoderBlock", "mask as a full (N, T, T) tensor with the causal part built in", False, EncoderBlock="""
class EncoderBlock(nn.Module):
    def __init__(self, E, h, F_ff):
        super().__init__()
        self.ln1 = nn.LayerNorm(E)
        self.attn = MultiHeadAttention(E, h)
        self.ln2 = nn.LayerNorm(E)
        self.ff = nn.Sequential(nn.Linear(E, F_ff), nn.GELU(), nn.Linear(F_ff, E))

    def forward(self, x, mask=None, causal=False):
        N, T, _ = x.shape
        keep = torch.ones(N, T, T, dtype=torch.bool, device=x.device)
        if mask is not None:
            keep = keep & mask[:, None, :].expand(N, T, T)
        if causal:
            keep = keep & torch.ones(T, T, dtype=torch.bool, device=x.device).tril()
        normed = self.ln1(x)
        h = x + self.attn(normed, normed, normed, mask=keep)[0]
        return h + self.ff[2](self.ff[1](self.ff[0](self.ln2(h))))
"""),
    M("EncoderBlock", "runs the test's _test_torch_encoder (right numbers, forbidden)", True, EncoderBlock=ENC_BY_ORACLE),
    M("EncoderBlock", "a residual helper of its own, F.layer_norm, F.gelu, F.linear", False, EncoderBlock=ENC_FUNCTIONAL),
    # ---------------------------------------------------------------- DecoderBlock
    M("DecoderBlock", "self-attention not causal", True, DecoderBlock=replaced(DEC, "tm, causal=True", "tm")),
    M("DecoderBlock", "post-norm", True, DecoderBlock=DEC_INIT + """        x = self.ln1(x + self.self_attn(x, x, x, tm, causal=True)[0])
        x = self.ln2(x + self.cross_attn(x, memory, memory, sm)[0])
        return self.ln3(x + self.ff(x))
"""),
    M("DecoderBlock", "cross-attention over the target", True, DecoderBlock=replaced(DEC,
      "self.cross_attn(b, memory, memory, sm)", "self.cross_attn(b, b, b, tm)")),
    M("DecoderBlock", "source padding mask ignored", True, DecoderBlock=replaced(DEC,
      "self.cross_attn(b, memory, memory, sm)", "self.cross_attn(b, memory, memory)")),
    M("DecoderBlock", "memory normalised with ln2 as well", True, DecoderBlock=replaced(DEC,
      "self.cross_attn(b, memory, memory, sm)", "self.cross_attn(b, self.ln2(memory), self.ln2(memory), sm)")),
    M("DecoderBlock", "explicit causal-and-padding mask tensor", False, DecoderBlock=DEC_EXPLICIT),
    M("DecoderBlock", "nn.TransformerDecoderLayer imported by name, weights copied in (right numbers, forbidden)", True,
      DecoderBlock=DEC_BY_TORCH),
]

# ---------------------------------------------------------------- issue 17: dtypes, shapes, configurations, invariants
MUTANTS += [
    # dtypes: a buffer made with torch's defaults (float32) holds the result, whatever the inputs' dtype
    M(S, "weights copied into a torch.zeros buffer (float32 whatever the inputs)", True, **{S: replaced(SDPA,
      "    return w @ v, w\n", "    buf = torch.zeros(w.shape)\n    buf[...] = w\n    return w @ v, buf\n")}),
    M("MultiHeadAttention", "a loop over heads, weights gathered in a torch.zeros buffer (float32 whatever the model)", True,
      MultiHeadAttention=replaced(MHA, "        o, w = scaled_dot_product_attention(q, k, v, m, causal)\n",
      "        o = torch.empty_like(q)\n        w = torch.zeros(N, self.h, T_q, T_k)\n        for i in range(self.h):\n"
      "            mi = None if m is None else m[:, 0]\n"
      "            o[:, i], w[:, i] = scaled_dot_product_attention(q[:, i], k[:, i], v[:, i], mi, causal)\n")),
    # shapes and configurations the visible tests did not use
    M(S, "causal mask aligned bottom-right (T_q != T_k)", True, **{S: replaced(SDPA, "torch.tril(keep)", "torch.tril(keep, T_k - T_q)")}),
    M("MultiHeadAttention", "mask reshaped to (N, 1, 1, T_k): a (N, T_q, T_k) mask breaks", True, MultiHeadAttention=replaced(MHA,
      "m = None if mask is None else mask[:, None]", "m = None if mask is None else mask.reshape(N, 1, 1, T_k)")),
    M("EncoderBlock", "causal ignored when there is no padding mask (the GPT configuration)", True,
      EncoderBlock=replaced(ENC, "x = x + self.attn(a, a, a, m, causal)[0]",
                        "x = x + (self.attn(a, a, a)[0] if m is None else self.attn(a, a, a, m, causal)[0])")),
    M("DecoderBlock", "source mask squeezed (breaks when T_src = 1)", True, DecoderBlock=replaced(DEC,
      "sm = None if src_mask is None else src_mask[:, None, :]", "sm = None if src_mask is None else src_mask.squeeze(-1)[:, None, :]")),
    # invariants: the caller's tensors are left alone
    M("EncoderBlock", "the input x updated in place (x += ...)", True, EncoderBlock=replaced(ENC,
      "x = x + self.attn(a, a, a, m, causal)[0]", "x += self.attn(a, a, a, m, causal)[0]")),
    # correct, written another way: a float32 0-dim scale, torch.where, the model's own dtype for buffers
    M(S, "scale as a 0-dim tensor in the inputs' dtype, torch.where for the masked weights", False, **{S: """
def scaled_dot_product_attention(q, k, v, mask=None, causal=False):
    keep = torch.ones(q.shape[-2], k.shape[-2], dtype=torch.bool, device=q.device)
    if causal:
        keep = keep.tril()
    if mask is not None:
        keep = keep & mask
    scores = (q @ k.transpose(-2, -1)) / torch.tensor(q.shape[-1], dtype=q.dtype).sqrt()
    w = torch.softmax(scores.masked_fill(~keep, -torch.inf), dim=-1)
    w = torch.where(keep, w, torch.zeros((), dtype=w.dtype))
    return w @ v, w
"""}),
    M("MultiHeadAttention", "a loop over heads into buffers made with new_zeros (the model's dtype)", False,
      MultiHeadAttention=replaced(MHA, "        o, w = scaled_dot_product_attention(q, k, v, m, causal)\n",
      "        o = q.new_zeros(N, self.h, T_q, self.d_k)\n        w = q.new_zeros(N, self.h, T_q, T_k)\n"
      "        for i in range(self.h):\n            mi = None if m is None else m[:, 0]\n"
      "            o[:, i], w[:, i] = scaled_dot_product_attention(q[:, i], k[:, i], v[:, i], mi, causal)\n")),
    M("EncoderBlock", "x cloned first, then updated in place (+=) on its own copy", False, EncoderBlock=replaced(ENC,
      "        a = self.ln1(x)\n        x = x + self.attn(a, a, a, m, causal)[0]",
      "        x = x.clone()\n        a = self.ln1(x)\n        x += self.attn(a, a, a, m, causal)[0]")),
]

# ---------------------------------------------------------------- fair blame: a part earns its points on its own merit
# attention written out inside the module, Part 1 never called
MHA_INLINE = MHA_INIT + """        q = self.W_q(query).view(N, T_q, self.h, self.d_k).transpose(1, 2)
        k = self.W_k(key).view(N, T_k, self.h, self.d_k).transpose(1, 2)
        v = self.W_v(value).view(N, T_k, self.h, self.d_k).transpose(1, 2)
        keep = torch.ones(T_q, T_k, dtype=torch.bool, device=query.device)
        if causal:
            keep = torch.tril(keep)
        if mask is not None:
            keep = keep & mask[:, None]
        s = (q @ k.transpose(-2, -1) / math.sqrt(self.d_k)).masked_fill(~keep, float("-inf"))
        w = torch.nan_to_num(torch.softmax(s, dim=-1), nan=0.0)
        o = (w @ v).transpose(1, 2).reshape(N, T_q, E)
        return self.W_o(o), w
"""

# self-attention written out with the four layers of self.attn, its forward never called
ENC_INLINE = ENC_INIT + """        a = self.ln1(x)
        N, T, E = x.shape
        h, d = self.attn.h, E // self.attn.h
        heads = lambda t: t.view(N, T, h, d).transpose(1, 2)
        q, k, v = heads(self.attn.W_q(a)), heads(self.attn.W_k(a)), heads(self.attn.W_v(a))
        keep = torch.ones(T, T, dtype=torch.bool, device=x.device)
        if causal:
            keep = torch.tril(keep)
        if m is not None:
            keep = keep & m[:, None]
        s = (q @ k.transpose(-2, -1) / math.sqrt(d)).masked_fill(~keep, float("-inf"))
        w = torch.nan_to_num(torch.softmax(s, dim=-1), nan=0.0)
        x = x + self.attn.W_o((w @ v).transpose(1, 2).reshape(N, T, E))
        return x + self.ff(self.ln2(x))
"""

# (a correct later part over a wrong earlier one, the earlier part's grade cell): the later part keeps its points
OWN_MERIT = [
    (M("MultiHeadAttention", "attention written out inline, over a Part 1 without the 1/sqrt(d_k) scaling", False,
       **{S: replaced(SDPA, " / math.sqrt(q.shape[-1])", ""), "MultiHeadAttention": MHA_INLINE}), S),
    (M("EncoderBlock", "self-attention written out with the attn layers, over a MultiHeadAttention without W_o", False,
       MultiHeadAttention=replaced(MHA, "return self.W_o(o), w", "return o, w"), EncoderBlock=ENC_INLINE),
     "MultiHeadAttention"),
    # the reference code uses the wrong earlier part: its visible test blames it, the hidden tests grade it
    (M("MultiHeadAttention", "the reference module, over a Part 1 without the 1/sqrt(d_k) scaling", False,
       **{S: replaced(SDPA, " / math.sqrt(q.shape[-1])", "")}), S),
    (M("EncoderBlock", "the reference block, over a MultiHeadAttention without W_o", False,
       MultiHeadAttention=replaced(MHA, "return self.W_o(o), w", "return o, w")), "MultiHeadAttention"),
    (M("DecoderBlock", "the reference block, over a MultiHeadAttention without W_o", False,
       MultiHeadAttention=replaced(MHA, "return self.W_o(o), w", "return o, w")), "MultiHeadAttention"),
]

# ---------------------------------------------------------------- the device: the lab trains on a GPU when there is one
# A mask made on the CPU (no device=) breaks there; the tests run each part on the "meta" device.
MUTANTS += [
    M(S, "the keep mask made on the CPU (torch.ones without device=)", True,
      **{S: replaced(SDPA, ", device=q.device)", ")")}),
    M("MultiHeadAttention", "attention written out, its mask made on the CPU", True,
      MultiHeadAttention=replaced(MHA_INLINE, ", device=query.device)", ")")),
    M("EncoderBlock", "self-attention written out, its causal mask made on the CPU", True,
      EncoderBlock=replaced(ENC_INLINE, ", device=x.device)", ")")),
    M("DecoderBlock", "an explicit causal-and-padding mask made on the CPU", True,
      DecoderBlock=replaced(DEC_EXPLICIT, ", device=x.device)", ")")),
]

# ---------------------------------------------------------------- multiple-choice questions
# Each wrong letter loses the question's point; the right one keeps it in any case and spacing.
MUTANTS += [
    M("q_more_heads", "answer (a)", True, q_more_heads='q_more_heads = "a"'),
    M("q_more_heads", "answer (b)", True, q_more_heads='q_more_heads = "b"'),
    M("q_more_heads", "answer (d)", True, q_more_heads='q_more_heads = "d"'),
    M("q_more_heads", "the right answer in capitals, with spaces", False, q_more_heads='q_more_heads = " C "'),
]
