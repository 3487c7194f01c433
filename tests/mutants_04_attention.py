"""Implementations of Lab 4's graded functions that a student might write, for the mutation tests.

``wrong`` ones hold a plausible bug and must lose their grade cell's points (caught by the visible
tests alone); the others are correct but written differently (loops, einsum, a large negative
number instead of -inf, another beam bookkeeping, explicit log-softmax, the cell's own imports and
helpers, torch's functional ops) and must keep every point. Some wrong ones compute the right
numbers by a way the lab rules out: calling the tests' oracles (``_test_*``), torch's attention, or
a BLEU library; only the static rules (and ``check_rules`` in the visible tests) stop them.
Written from the lab's stated contracts, not from the reference code.
"""
from __future__ import annotations

from labharness import Mutant


def _additive(scores_and_softmax: str) -> str:
    return f"""
def additive_attention(query, keys, mask, W_q, W_k, v):
    e = torch.tanh((query @ W_q)[:, None, :] + keys @ W_k) @ v
{scores_and_softmax}
    context = (w[:, :, None] * keys).sum(dim=1)
    return context, w
"""


ADD_OK_LOOP = """
def additive_attention(query, keys, mask, W_q, W_k, v):
    N, T, D = keys.shape
    rows_c, rows_w = [], []
    for n in range(N):
        e = torch.stack([v @ torch.tanh(query[n] @ W_q + keys[n, s] @ W_k) for s in range(T)])
        e = torch.where(mask[n], e, torch.full_like(e, -1e9))
        w = torch.exp(e - e.max())
        w = w / w.sum()
        rows_w.append(w)
        rows_c.append(w @ keys[n])
    return torch.stack(rows_c), torch.stack(rows_w)
"""


def _mult(body: str) -> str:
    return f"""
def multiplicative_attention(query, keys, mask, W=None):
    q = query if W is None else query @ W
{body}
    return context, w
"""


MULT_RIGHT = """    e = torch.einsum("nd,ntd->nt", q, keys).masked_fill(~mask, -1e9)
    w = torch.softmax(e, dim=-1)
    context = torch.einsum("nt,ntd->nd", w, keys)"""


def _step(body: str) -> str:
    return f"""
def decoder_step(model, y_prev, h_prev, enc_out, src_mask):
{body}
    return logits, h, weights
"""


STEP_RIGHT = """    emb = model.embed(y_prev)
    context, weights = model.attend(h_prev, enc_out, src_mask)
    h = model.cell(torch.cat((emb, context), -1), h_prev)
    logits = h @ model.out.weight[:, :h.shape[1]].T + context @ model.out.weight[:, h.shape[1]:].T + model.out.bias"""


def _loss(tail: str, feed: str = "tgt_in[:, t]") -> str:
    return f"""
def seq2seq_loss(model, src, src_mask, tgt_in, tgt_out, tgt_mask):
    enc_out, h = model.encode(src, src_mask)
    y = tgt_in[:, 0]
    all_logits = []
    for t in range(tgt_in.shape[1]):
        logits, h, _ = decoder_step(model, {feed}, h, enc_out, src_mask)
        y = logits.argmax(dim=1)
        all_logits.append(logits)
    logits = torch.stack(all_logits, 1)
    nll = -torch.log_softmax(logits, -1).gather(2, tgt_out[:, :, None])[:, :, 0]
    m = tgt_mask.to(nll.dtype)
{tail}
"""


def _greedy(body: str) -> str:
    return f"""
def greedy_decode(step, state, bos, eos, max_len):
    N = state[0].shape[0]
    y = torch.full((N,), bos, dtype=torch.long)
    out = [[] for _ in range(N)]
    alive = [True] * N
{body}
    return out
"""


GREEDY_LOOP = """    for _ in range(max_len):
        lp, state = step(y, state)
        y = lp.argmax(1)
        for n in range(N):
            if alive[n]:
                if int(y[n]) == eos:
                    alive[n] = False
                else:
                    out[n].append(int(y[n]))
        if not any(alive):
            break"""


def _beam(select: str, finish_len: str = "len(seq) + 1", final_len: str = "max_len", alpha_use: str = "alpha") -> str:
    return f"""
def beam_search(step, state, bos, eos, max_len, beam_size, alpha=1.0):
    hyps = [([], 0.0)]
    done = []
    for t in range(max_len):
        y = torch.tensor([seq[-1] if seq else bos for seq, _ in hyps])
        lp, new_state = step(y, state)
        cands = [(lp_sum + float(lp[r, v]), r, v) for r, (seq, lp_sum) in enumerate(hyps) for v in range(lp.shape[1])]
{select}
        keep, rows = [], []
        for score, r, v in cands:
            seq = hyps[r][0]
            if v == eos:
                done.append((score / ({finish_len}) ** {alpha_use}, seq))
            else:
                keep.append((seq + [v], score))
                rows.append(r)
        if not keep:
            break
        hyps = keep
        state = tuple(s[torch.tensor(rows)] for s in new_state)
    else:
        done += [(lp_sum / ({final_len}) ** {alpha_use}, seq) for seq, lp_sum in hyps]
    best = max(done, key=lambda d: d[0])
    return best[1], best[0]
"""


TOPK = "        cands = sorted(cands, key=lambda c: -c[0])[:beam_size]"


def _bleu(clip: str = "min(c, ref_max[g])", bp: str = "1.0 if c_len > r_len else math.exp(1 - r_len / c_len)",
          rlen: str = "min(refs, key=lambda r: (abs(len(r) - len(hyp)), len(r)))", merge: str = "max") -> str:
    return f"""
def corpus_bleu(hypotheses, references, max_n=4):
    match = [0] * max_n
    total = [0] * max_n
    c_len = r_len = 0
    for hyp, refs in zip(hypotheses, references):
        c_len += len(hyp)
        r_len += len({rlen})
        for n in range(1, max_n + 1):
            grams = Counter(tuple(hyp[i:i + n]) for i in range(len(hyp) - n + 1))
            ref_max = Counter()
            for r in refs:
                for g, k in Counter(tuple(r[i:i + n]) for i in range(len(r) - n + 1)).items():
                    ref_max[g] = {merge}(ref_max[g], k) if "{merge}" == "max" else ref_max[g] + k
            match[n - 1] += sum({clip} for g, c in grams.items())
            total[n - 1] += sum(grams.values())
    if c_len == 0 or 0 in match:
        return 0.0
    bp = {bp}
    return bp * math.exp(sum(math.log(m / t) for m, t in zip(match, total)) / max_n)
"""


BLEU_SENTENCE_AVG = """
def corpus_bleu(hypotheses, references, max_n=4):
    def one(hyp, refs):
        logs = []
        for n in range(1, max_n + 1):
            grams = Counter(tuple(hyp[i:i + n]) for i in range(len(hyp) - n + 1))
            ref_max = Counter()
            for r in refs:
                ref_max |= Counter(tuple(r[i:i + n]) for i in range(len(r) - n + 1))
            m = sum(min(c, ref_max[g]) for g, c in grams.items())
            if m == 0:
                return 0.0
            logs.append(math.log(m / sum(grams.values())))
        r = len(min(refs, key=lambda r: (abs(len(r) - len(hyp)), len(r))))
        bp = 1.0 if len(hyp) > r else math.exp(1 - r / len(hyp))
        return bp * math.exp(sum(logs) / max_n)
    return sum(one(h, r) for h, r in zip(hypotheses, references)) / len(hypotheses)
"""

# ---------------------------------------------------------------- right numbers, by a way the lab rules out
MULT_BY_TORCH = """
from torch.nn import functional as nnf


def multiplicative_attention(query, keys, mask, W=None):
    q = (query if W is None else query @ W)[:, None, :]                 # (N, 1, D)
    T = keys.shape[1]
    eye = torch.eye(T, dtype=keys.dtype).expand(keys.shape[0], T, T)
    context = nnf.scaled_dot_product_attention(q, keys, keys, attn_mask=mask[:, None, :], scale=1.0)[:, 0]
    weights = nnf.scaled_dot_product_attention(q, keys, eye, attn_mask=mask[:, None, :], scale=1.0)[:, 0]
    return context, weights
"""

STEP_BY_TORCH = _step("""    q = h_prev @ model.W                                                 # Luong general, by hand
    context = F.scaled_dot_product_attention(q[:, None], enc_out, enc_out, attn_mask=src_mask[:, None],
                                             scale=1.0)[:, 0]
    weights = torch.softmax((enc_out @ q[:, :, None])[:, :, 0].masked_fill(~src_mask, float("-inf")), dim=1)
    h = model.cell(torch.cat([model.embed(y_prev), context], 1), h_prev)
    logits = model.out(torch.cat([h, context], 1))""")

BEAM_BY_ORACLE = "\nfrom types import SimpleNamespace\n" + _beam(TOPK).replace("""    hyps = [([], 0.0)]
""", """    V = step(torch.tensor([bos]), state)[0].shape[1]
    if beam_size >= (V - 1) ** max_len * V:                  # wide enough to see everything: brute force
        score, tokens = _test_exhaustive(SimpleNamespace(step=step, V=V), bos, eos, max_len, alpha, state)
        return tokens, score
    hyps = [([], 0.0)]
""")

# ---------------------------------------------------------------- correct, written another way
ADD_OWN_HELPER = """
import torch
import torch.nn.functional as F


def _scores(query, keys, W_q, W_k, v):
    # e[n, s] = v . tanh(q_n W_q + k_ns W_k), of shape (N, T_src)
    return torch.einsum("nta,a->nt", torch.tanh(F.linear(query, W_q.T)[:, None, :] + keys @ W_k), v)


def additive_attention(query, keys, mask, W_q, W_k, v):
    w = F.softmax(_scores(query, keys, W_q, W_k, v).masked_fill(~mask, float("-inf")), dim=-1)
    return torch.einsum("nt,ntd->nd", w, keys), w
"""

MULT_OWN_HELPER = """
import numpy as np
import torch


def masked_softmax(scores, mask):
    scores = scores.masked_fill(mask.logical_not(), -np.inf)
    return scores.softmax(dim=1)


def multiplicative_attention(query, keys, mask, W=None):
    q = query if W is None else torch.matmul(query, W)
    w = masked_softmax(torch.bmm(q[:, None, :], keys.transpose(1, 2))[:, 0], mask)   # (N, 1, D) @ (N, D, T)
    return torch.bmm(w[:, None, :], keys).squeeze(1), w
"""

STEP_FUNCTIONAL = _step("""    context, weights = model.attend(h_prev, enc_out, src_mask)
    x = torch.cat([F.embedding(y_prev, model.embed.weight), context], dim=1)
    c = model.cell
    h = torch.gru_cell(x, h_prev, c.weight_ih, c.weight_hh, c.bias_ih, c.bias_hh)
    logits = F.linear(torch.cat([h, context], dim=1), model.out.weight, model.out.bias)""")

LOSS_NLL_HELPER = """
def token_log_probs(model, src, src_mask, tgt_in):
    enc_out, h = model.encode(src, src_mask)
    out = []
    for t in range(tgt_in.shape[1]):
        logits, h, _ = decoder_step(model, tgt_in[:, t], h, enc_out, src_mask)
        out.append(F.log_softmax(logits, dim=-1))
    return torch.stack(out, dim=1)                                       # (N, T_tgt, V)


def seq2seq_loss(model, src, src_mask, tgt_in, tgt_out, tgt_mask):
    logp = token_log_probs(model, src, src_mask, tgt_in)
    total = F.nll_loss(logp[tgt_mask], tgt_out[tgt_mask], reduction="sum")
    return total / tgt_mask.sum()
"""

GREEDY_TENSORS = """
def _pick(log_probs):
    return log_probs.argmax(dim=-1)


def greedy_decode(step, state, bos, eos, max_len):
    N = state[0].shape[0]
    y = torch.full((N,), bos, dtype=torch.long, device=state[0].device)
    finished = torch.zeros(N, dtype=torch.bool)
    tokens = []
    for _ in range(max_len):
        log_probs, state = step(y, state)
        y = _pick(log_probs)
        tokens.append(torch.where(finished, torch.full_like(y, eos), y))
        finished = finished | (y == eos)
        if bool(finished.all()):
            break
    out = []
    for row in torch.stack(tokens, dim=1).tolist():
        out.append(row[:row.index(eos)] if eos in row else row)
    return out
"""

BEAM_TOPK_HELPER = """
import math
import torch


def _finish(logp, length, alpha):
    return logp / length ** alpha


def beam_search(step, state, bos, eos, max_len, beam_size, alpha=1.0):
    seqs, logps, done = [[]], torch.zeros(1, dtype=torch.float64), []
    for _ in range(max_len):
        y = torch.tensor([s[-1] if s else bos for s in seqs])
        lp, new_state = step(y, state)
        V = lp.shape[1]
        total = (logps[:, None] + lp.double()).flatten()
        best, flat = torch.topk(total, k=min(beam_size, total.numel()))
        rows, nxt, nxt_lp = [], [], []
        for score, i in zip(best.tolist(), flat.tolist()):
            r, v = i // V, i % V
            if v == eos:
                done.append((_finish(score, len(seqs[r]) + 1, alpha), seqs[r]))
            else:
                rows.append(r)
                nxt.append(seqs[r] + [v])
                nxt_lp.append(score)
        if not rows:
            break
        state = tuple(s[torch.tensor(rows)] for s in new_state)
        seqs, logps = nxt, torch.tensor(nxt_lp, dtype=torch.float64)
    else:
        done += [(_finish(float(l), max_len, alpha), s) for s, l in zip(seqs, logps)]
    score, tokens = max(done, key=lambda d: d[0])
    return tokens, score
"""

BLEU_OWN_HELPERS = """
import math
from collections import Counter


def ngram_counts(tokens, n):
    return Counter(zip(*(tokens[i:] for i in range(n))))


def corpus_bleu(hypotheses, references, max_n=4):
    hits, total, c, r = [0] * max_n, [0] * max_n, 0, 0
    for hyp, refs in zip(hypotheses, references):
        c += len(hyp)
        r += sorted((abs(len(x) - len(hyp)), len(x)) for x in refs)[0][1]
        for n in range(1, max_n + 1):
            mine = ngram_counts(hyp, n)
            best = Counter()
            for x in refs:
                best |= ngram_counts(x, n)
            hits[n - 1] += sum((mine & best).values())           # & keeps the smaller count: clipping
            total[n - 1] += sum(mine.values())
    if c == 0 or not all(hits):
        return 0.0
    bp = math.exp(min(0.0, 1 - r / c))
    return bp * math.exp(sum(math.log(h) - math.log(t) for h, t in zip(hits, total)) / max_n)
"""

MUTANTS = [
    # additive_attention
    Mutant.of("additive_attention", "softmax over the batch axis", True,
              additive_attention=_additive("    w = torch.softmax(e.masked_fill(~mask, float('-inf')), dim=0)")),
    Mutant.of("additive_attention", "padding mask ignored", True,
              additive_attention=_additive("    w = torch.softmax(e, dim=1)")),
    Mutant.of("additive_attention", "mask applied after the softmax", True,
              additive_attention=_additive("    w = torch.softmax(e, dim=1) * mask")),
    Mutant.of("additive_attention", "no tanh", True,
              additive_attention=_additive("    e = ((query @ W_q)[:, None, :] + keys @ W_k) @ v\n"
                                           "    w = torch.softmax(e.masked_fill(~mask, float('-inf')), dim=1)")),
    Mutant.of("additive_attention", "detached through numpy", True,
              additive_attention=_additive("    e = torch.tensor(e.detach().numpy()).masked_fill(~mask, float('-inf'))\n"
                                           "    w = torch.softmax(e, dim=1)")),
    Mutant.of("additive_attention", "loops with -1e9 fill", False, additive_attention=ADD_OK_LOOP),
    Mutant.of("additive_attention", "returns the test's oracle as tensors (right numbers, no gradients, forbidden)", True,
              additive_attention="""
def additive_attention(query, keys, mask, W_q, W_k, v):
    context, weights = _test_additive_oracle(query, keys, mask, W_q, W_k, v)
    return torch.as_tensor(context, dtype=keys.dtype), torch.as_tensor(weights, dtype=keys.dtype)
"""),
    Mutant.of("additive_attention", "the cell's own imports and helper, F.linear, einsum, F.softmax", False,
              additive_attention=ADD_OWN_HELPER),
    # multiplicative_attention
    Mutant.of("multiplicative_attention", "padding mask ignored", True,
              multiplicative_attention=_mult("    e = torch.einsum('nd,ntd->nt', q, keys)\n"
                                             "    w = torch.softmax(e, dim=1)\n"
                                             "    context = torch.einsum('nt,ntd->nd', w, keys)")),
    Mutant.of("multiplicative_attention", "softmax over the batch axis", True,
              multiplicative_attention=_mult("    e = torch.einsum('nd,ntd->nt', q, keys).masked_fill(~mask, float('-inf'))\n"
                                             "    w = torch.softmax(e, dim=0)\n"
                                             "    context = torch.einsum('nt,ntd->nd', w, keys)")),
    Mutant.of("multiplicative_attention", "scaled by sqrt(D)", True,
              multiplicative_attention=_mult("    e = (torch.einsum('nd,ntd->nt', q, keys) / keys.shape[2] ** 0.5).masked_fill(~mask, float('-inf'))\n"
                                             "    w = torch.softmax(e, dim=1)\n"
                                             "    context = torch.einsum('nt,ntd->nd', w, keys)")),
    Mutant.of("multiplicative_attention", "W transposed", True,
              multiplicative_attention=_mult("    q = query if W is None else query @ W.T\n"
                                             "    e = torch.einsum('nd,ntd->nt', q, keys).masked_fill(~mask, float('-inf'))\n"
                                             "    w = torch.softmax(e, dim=1)\n"
                                             "    context = torch.einsum('nt,ntd->nd', w, keys)")),
    Mutant.of("multiplicative_attention", "mask zeroes weights after softmax", True,
              multiplicative_attention=_mult("    e = torch.einsum('nd,ntd->nt', q, keys)\n"
                                             "    w = torch.softmax(e, dim=1) * mask\n"
                                             "    context = torch.einsum('nt,ntd->nd', w, keys)")),
    Mutant.of("multiplicative_attention", "einsum with -1e9 fill", False, multiplicative_attention=_mult(MULT_RIGHT)),
    Mutant.of("multiplicative_attention", "F.scaled_dot_product_attention under another module name (right numbers, forbidden)",
              True, multiplicative_attention=MULT_BY_TORCH),
    Mutant.of("multiplicative_attention", "returns the test's _test_sdpa_oracle (right numbers, forbidden)", True,
              multiplicative_attention="""
def multiplicative_attention(query, keys, mask, W=None):
    return _test_sdpa_oracle(query, keys, mask, W)
"""),
    Mutant.of("multiplicative_attention", "import numpy as np, a masked_softmax helper, bmm with a transpose", False,
              multiplicative_attention=MULT_OWN_HELPER),
    Mutant.of("multiplicative_attention", "keys projected by W^T instead of the query", False,
              multiplicative_attention="""
def multiplicative_attention(query, keys, mask, W=None):
    k = keys if W is None else keys @ W.T      # q W k^T = q (k W^T)^T
    e = (k * query[:, None, :]).sum(-1).masked_fill(~mask, float("-inf"))
    w = e.softmax(-1)
    return (w[:, :, None] * keys).sum(1), w
"""),
    # decoder_step
    Mutant.of("decoder_step", "concatenation order swapped in the GRU input", True, decoder_step=_step(
        "    context, weights = model.attend(h_prev, enc_out, src_mask)\n"
        "    h = model.cell(torch.cat([context, model.embed(y_prev)], 1), h_prev)\n"
        "    logits = model.out(torch.cat([h, context], 1))")),
    Mutant.of("decoder_step", "attends again with the new state for the output", True, decoder_step=_step(
        "    context, weights = model.attend(h_prev, enc_out, src_mask)\n"
        "    h = model.cell(torch.cat([model.embed(y_prev), context], 1), h_prev)\n"
        "    context, weights = model.attend(h, enc_out, src_mask)\n"
        "    logits = model.out(torch.cat([h, context], 1))")),
    Mutant.of("decoder_step", "output layer reads [context ; h]", True, decoder_step=_step(
        "    context, weights = model.attend(h_prev, enc_out, src_mask)\n"
        "    h = model.cell(torch.cat([model.embed(y_prev), context], 1), h_prev)\n"
        "    logits = model.out(torch.cat([context, h], 1))")),
    Mutant.of("decoder_step", "output from the previous state", True, decoder_step=_step(
        "    context, weights = model.attend(h_prev, enc_out, src_mask)\n"
        "    h = model.cell(torch.cat([model.embed(y_prev), context], 1), h_prev)\n"
        "    logits = model.out(torch.cat([h_prev, context], 1))")),
    Mutant.of("decoder_step", "split output weight", False, decoder_step=_step(STEP_RIGHT)),
    Mutant.of("decoder_step", "F.scaled_dot_product_attention instead of model.attend (right numbers here, forbidden)",
              True, decoder_step=STEP_BY_TORCH),
    Mutant.of("decoder_step", "returns the test's _test_step_oracle (right numbers, forbidden)", True, decoder_step="""
def decoder_step(model, y_prev, h_prev, enc_out, src_mask):
    return _test_step_oracle(model, y_prev, h_prev, enc_out, src_mask)
"""),
    Mutant.of("decoder_step", "F.embedding, torch.gru_cell and F.linear on the model's weights", False,
              decoder_step=STEP_FUNCTIONAL),
    # seq2seq_loss
    Mutant.of("seq2seq_loss", "padding counted in the mean", True, seq2seq_loss=_loss("    return nll.mean()")),
    Mutant.of("seq2seq_loss", "mean of per-sequence means", True,
              seq2seq_loss=_loss("    return ((nll * m).sum(1) / m.sum(1)).mean()")),
    Mutant.of("seq2seq_loss", "sum divided by N", True, seq2seq_loss=_loss("    return (nll * m).sum() / len(src)")),
    Mutant.of("seq2seq_loss", "fed its own predictions", True,
              seq2seq_loss=_loss("    return (nll * m).sum() / m.sum()", feed="y")),
    Mutant.of("seq2seq_loss", "reads tgt_out (off by one)", True,
              seq2seq_loss=_loss("    return (nll * m).sum() / m.sum()", feed="tgt_out[:, t]")),
    Mutant.of("seq2seq_loss", "returns the test's _test_loss_oracle (right numbers, forbidden)", True, seq2seq_loss="""
def seq2seq_loss(model, src, src_mask, tgt_in, tgt_out, tgt_mask):
    return _test_loss_oracle(model, src, src_mask, tgt_in, tgt_out, tgt_mask)
"""),
    Mutant.of("seq2seq_loss", "loss value right, gradients cut at the encoder", True, seq2seq_loss="""
def seq2seq_loss(model, src, src_mask, tgt_in, tgt_out, tgt_mask):
    enc_out, h = model.encode(src, src_mask)
    enc_out, h = enc_out.detach(), h.detach()
    steps = [None] * tgt_in.shape[1]
    for t in range(tgt_in.shape[1]):
        steps[t], h, _ = decoder_step(model, tgt_in[:, t], h, enc_out, src_mask)
    logits = torch.stack(steps, 1)
    return F.cross_entropy(logits[tgt_mask], tgt_out[tgt_mask])
"""),
    Mutant.of("seq2seq_loss", "a helper of its own, F.nll_loss summed over real tokens", False,
              seq2seq_loss=LOSS_NLL_HELPER),
    Mutant.of("seq2seq_loss", "explicit log-softmax and mask", False,
              seq2seq_loss=_loss("    return (nll * m).sum() / m.sum()")),
    Mutant.of("seq2seq_loss", "cross-entropy with ignore_index=PAD", False, seq2seq_loss=_loss(
        "    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), tgt_out.reshape(-1), ignore_index=PAD)")),
    # greedy_decode
    Mutant.of("greedy_decode", "keeps the eos", True, greedy_decode=_greedy(GREEDY_LOOP.replace(
        "                    alive[n] = False", "                    alive[n] = False\n                    out[n].append(eos)"))),
    Mutant.of("greedy_decode", "never stops at eos", True, greedy_decode=_greedy("""    for _ in range(max_len):
        lp, state = step(y, state)
        y = lp.argmax(1)
        for n in range(N):
            if int(y[n]) != eos:
                out[n].append(int(y[n]))"""),),
    Mutant.of("greedy_decode", "feeds bos at every step", True, greedy_decode=_greedy("""    for _ in range(max_len):
        lp, state = step(torch.full((N,), bos, dtype=torch.long), state)
        y = lp.argmax(1)
        for n in range(N):
            if alive[n]:
                if int(y[n]) == eos:
                    alive[n] = False
                else:
                    out[n].append(int(y[n]))
        if not any(alive):
            break"""),),
    Mutant.of("greedy_decode", "runs all max_len steps", True, greedy_decode=_greedy(
        GREEDY_LOOP.replace("        if not any(alive):\n            break", ""))),
    Mutant.of("greedy_decode", "one sequence at a time", True, greedy_decode="""
def greedy_decode(step, state, bos, eos, max_len):
    out = []
    for n in range(state[0].shape[0]):
        s, y, seq = tuple(t[n:n + 1] for t in state), torch.tensor([bos]), []
        for _ in range(max_len):
            lp, s = step(y, s)
            y = lp.argmax(1)
            if int(y) == eos:
                break
            seq.append(int(y))
        out.append(seq)
    return out
"""),
    Mutant.of("greedy_decode", "loop with a done list", False, greedy_decode=_greedy(GREEDY_LOOP)),
    Mutant.of("greedy_decode", "a finished mask as a tensor, cut at the first eos, a helper of its own", False,
              greedy_decode=GREEDY_TENSORS),
    # beam_search
    Mutant.of("beam_search", "no length normalisation", True, beam_search=_beam(TOPK, alpha_use="0")),
    Mutant.of("beam_search", "L without the eos", True, beam_search=_beam(TOPK, finish_len="max(len(seq), 1)")),
    Mutant.of("beam_search", "stops at the first finished hypothesis", True, beam_search=_beam(
        TOPK + "\n        if cands[0][2] == eos:\n            seq = hyps[cands[0][1]][0]\n"
        "            return seq, cands[0][0] / (len(seq) + 1) ** alpha")),
    Mutant.of("beam_search", "top-k by per-token score (same length, so same order)", False, beam_search=_beam(
        "        cands = sorted(cands, key=lambda c: -c[0] / (len(hyps[c[1]][0]) + 1) ** alpha)[:beam_size]")),
    Mutant.of("beam_search", "keeps only beam_size per hypothesis, not overall", True, beam_search=_beam(
        "        cands = [c for r in range(len(hyps)) for c in sorted([c for c in cands if c[1] == r], key=lambda c: -c[0])[:1]]")),
    Mutant.of("beam_search", "python lists and sorted()", False, beam_search=_beam(TOPK)),
    Mutant.of("beam_search", "the test's brute force _test_exhaustive for wide beams (right numbers, forbidden)", True,
              beam_search=BEAM_BY_ORACLE),
    Mutant.of("beam_search", "torch.topk over the flattened scores, its own imports and helper", False,
              beam_search=BEAM_TOPK_HELPER),
    # corpus_bleu
    Mutant.of("corpus_bleu", "no brevity penalty", True, corpus_bleu=_bleu(bp="1.0")),
    Mutant.of("corpus_bleu", "counts not clipped", True, corpus_bleu=_bleu(clip="c if ref_max[g] else 0")),
    Mutant.of("corpus_bleu", "clipped by the sum over references", True, corpus_bleu=_bleu(merge="sum")),
    Mutant.of("corpus_bleu", "shortest reference length", True, corpus_bleu=_bleu(rlen="min(refs, key=len)")),
    Mutant.of("corpus_bleu", "median reference length", True,
              corpus_bleu=_bleu(rlen="sorted(refs, key=len)[len(refs) // 2]")),
    Mutant.of("corpus_bleu", "brevity penalty when c >= r (the same at c = r)", False,
              corpus_bleu=_bleu(bp="1.0 if c_len >= r_len else math.exp(1 - r_len / c_len)")),
    Mutant.of("corpus_bleu", "average of sentence BLEU", True, corpus_bleu=BLEU_SENTENCE_AVG),
    Mutant.of("corpus_bleu", "explicit loops and max()", False, corpus_bleu=_bleu()),
    Mutant.of("corpus_bleu", "sacrebleu imported in the function (right numbers, forbidden)", True, corpus_bleu="""
def corpus_bleu(hypotheses, references, max_n=4):
    from sacrebleu.metrics import BLEU
    streams = [[" ".join(r[j]) for r in references] for j in range(len(references[0]))]
    bleu = BLEU(tokenize="none", smooth_method="none", max_ngram_order=max_n)
    return bleu.corpus_score([" ".join(h) for h in hypotheses], streams).score / 100
"""),
    Mutant.of("corpus_bleu", "returns the test's _test_sacre (right numbers, forbidden)", True, corpus_bleu="""
def corpus_bleu(hypotheses, references, max_n=4):
    return _test_sacre(hypotheses, references, max_n)
"""),
    Mutant.of("corpus_bleu", "its own imports and n-gram helper, Counter & for clipping", False,
              corpus_bleu=BLEU_OWN_HELPERS),
]

# ---------------------------------------------------------------- issue 17: contracts (tests/contracts/04_attention.md)
# Bugs that kept full points before the contract cases: configurations the lab uses and the tests did
# not (Bahdanau and no-attention models, the model's three-tensor decoding state), shapes (N > 1 with
# one source position), dtypes (float64 models), invariants (beam_size = 1 is greedy decoding).
M = Mutant.of
SQUEEZED = "    w = torch.softmax(e.squeeze().masked_fill(~mask, float('-inf')), dim=-1)   # (N, T_src), but (N,) if T_src = 1"

MUTANTS += [
    # configurations
    M("decoder_step", "multiplicative_attention(..., model.W) instead of model.attend", True, decoder_step=_step(
        """    context, weights = multiplicative_attention(h_prev, enc_out, src_mask, model.W)
    h = model.cell(torch.cat([model.embed(y_prev), context], 1), h_prev)
    logits = model.out(torch.cat([h, context], 1))""")),
    M("beam_search", "reorders only state[0]", True, beam_search=_beam(TOPK).replace(
        "state = tuple(s[torch.tensor(rows)] for s in new_state)",
        "state = (new_state[0][torch.tensor(rows)],) + tuple(new_state[1:])")),
    M("beam_search", "every state entry reordered with index_select", False, beam_search=_beam(TOPK).replace(
        "state = tuple(s[torch.tensor(rows)] for s in new_state)",
        "state = tuple(s.index_select(0, torch.tensor(rows)) for s in new_state)")),
    # invariants
    M("beam_search", "finished hypotheses take no beam slot", True, beam_search=_beam(
        "        cands = sorted(cands, key=lambda c: -c[0])\n"
        "        cands = [c for c in cands if c[2] == eos][:beam_size] + [c for c in cands if c[2] != eos][:beam_size]")),
    # shapes: N > 1 with T_src = 1
    M("multiplicative_attention", "squeezed scores: wrong when T_src = 1 and N > 1", True, multiplicative_attention=_mult(
        "    e = torch.bmm(keys, q[:, :, None])\n" + SQUEEZED + "\n    context = (w[..., None] * keys).sum(1)")),
    M("additive_attention", "squeezed scores: wrong when T_src = 1 and N > 1", True, additive_attention=_additive(
        "    e = e[..., None]\n" + SQUEEZED)),
    # dtypes: float64 models and inputs need float64 results
    M("additive_attention", "weights computed in float32", True, additive_attention=_additive(
        "    w = torch.softmax(e.masked_fill(~mask, float('-inf')), dim=1, dtype=torch.float32)")),
    M("seq2seq_loss", "logits cast to float32 before the cross-entropy", True, seq2seq_loss=_loss(
        "    return F.cross_entropy(logits[tgt_mask].float(), tgt_out[tgt_mask])")),
    # messages: a hint only where its premise holds (see the notebook's tests)
    M("corpus_bleu", "hypothesis n-grams stop one short", True,
      corpus_bleu=_bleu().replace("for i in range(len(hyp) - n + 1)", "for i in range(len(hyp) - n)")),
]
MUTANTS += [
    # inputs left as they are: the tests call through copies and name an argument changed in place
    M("corpus_bleu", "sorts each hypothesis's references in place", True,
      corpus_bleu=_bleu(rlen="(refs.sort(key=len), min(refs, key=lambda r: abs(len(r) - len(hyp))))[1]")),
]

# ---------------------------------------------------------------- multiple-choice questions
# Each wrong letter loses the question's point; the right one keeps it in any case and spacing.
MUTANTS += [
    M("q_length_norm", "answer (a)", True, q_length_norm='q_length_norm = "a"'),
    M("q_length_norm", "answer (b)", True, q_length_norm='q_length_norm = "b"'),
    M("q_length_norm", "answer (d)", True, q_length_norm='q_length_norm = "d"'),
    M("q_length_norm", "the right answer in capitals, with spaces", False,
      q_length_norm='q_length_norm = " C "'),
]

# ---------------------------------------------------------------- fair blame: a part judged on its own merit
# (mutant, the earlier part it overrides with a wrong one; see OWN_MERIT in mutants_01_rnn.py). The
# reference loss calls the wrong decoder_step: its visible test blames it, and the hidden tests, run
# with the tests' own decoder step, grade it.
OWN_MERIT = [
    (M("seq2seq_loss", "the reference loss, over a decoder_step whose output reads the previous state", False,
       decoder_step=_step("    context, weights = model.attend(h_prev, enc_out, src_mask)\n"
                          "    h = model.cell(torch.cat([model.embed(y_prev), context], 1), h_prev)\n"
                          "    logits = model.out(torch.cat([h_prev, context], 1))")), "decoder_step"),
]
