"""Implementations of Lab 3's graded functions that a student might write, for the mutation tests.

Each ``Mutant`` replaces one or more solution cells. ``wrong`` ones hold a plausible bug and must
lose the target's points; the others are correct but written differently (loops, Counter ordering,
another rng call, scipy-free ranks, another valid formula) and must keep every point. CBOW mutants
bring their own skip-gram loss where they use one. Written from the lab's stated contracts.
"""
from __future__ import annotations

from labharness import Mutant

# ---------------------------------------------------------------- build_vocab
VOCAB = """
def build_vocab(tokens, min_count=5, t=1e-3):
    counts = {{}}
    for w in tokens:
        counts[w] = counts.get(w, 0) + 1
    words = [w for w in counts if counts[w] {cmp} min_count]
    words.sort(key={key})
    c = np.array([counts[w] for w in words], dtype=np.int64)
    total = {total}
    f = c / total if len(c) else c.astype(float)
    keep = {keep}
    return words, c, keep
"""
V_OK = dict(cmp=">=", key="lambda w: (-counts[w], w)", total="max(1, c.sum())",
            keep="np.array([min(1.0, np.sqrt(t / x) + t / x) for x in f])")


def vocab(**kw):
    return VOCAB.format(**{**V_OK, **kw})


# ---------------------------------------------------------------- skipgram_pairs
PAIRS_LOOP = """
def skipgram_pairs(ids, window, rng):
    T = len(ids)
    centers, contexts = [], []
    for i in range(T):
        b = int(rng.integers(0, window)) + 1          # uniform on 1..window, another way to draw
        for j in range(max(0, i - b), min(T, i + b + 1)):
            if j != i:
                centers.append(ids[i]); contexts.append(ids[j])
    return np.array(centers, dtype=np.int64), np.array(contexts, dtype=np.int64)
"""


def pairs(reach: str, lo: str = "max(0, i - b)", hi: str = "min(T, i + b + 1)", pick: str = "ids[j]",
          cond: str = "j != i") -> str:
    return f"""
def skipgram_pairs(ids, window, rng):
    T = len(ids)
    centers, contexts = [], []
    for i in range(T):
        b = {reach}
        for j in range({lo}, {hi}):
            if {cond}:
                centers.append(ids[i]); contexts.append({pick})
    return np.array(centers, dtype=np.int64), np.array(contexts, dtype=np.int64)
"""


PAIRS_PER_PAIR = """
def skipgram_pairs(ids, window, rng):
    # each context word kept independently with probability (window - d + 1) / window: right
    # frequencies per distance, but not one reach per center
    T = len(ids)
    centers, contexts = [], []
    for i in range(T):
        for j in range(max(0, i - window), min(T, i + window + 1)):
            d = abs(i - j)
            if d and rng.random() < (window - d + 1) / window:
                centers.append(ids[i]); contexts.append(ids[j])
    return np.array(centers, dtype=np.int64), np.array(contexts, dtype=np.int64)
"""

PAIRS_WRAP = """
def skipgram_pairs(ids, window, rng):
    ids = np.asarray(ids)
    T = len(ids)
    reach = rng.integers(1, window + 1, size=T)
    cs, os_ = [], []
    for d in range(1, window + 1):
        for off in (d, -d):
            ok = reach >= d
            cs.append(ids[ok]); os_.append(np.roll(ids, -off)[ok])   # wraps around the ends
    return np.concatenate(cs), np.concatenate(os_)
"""

# ---------------------------------------------------------------- negative sampling distribution
NEG = """
def negative_sampling_distribution(counts, power=0.75):
    c = np.asarray(counts, dtype=np.float64)
    {body}
"""

# ---------------------------------------------------------------- sgns
SGNS = """
def sgns_loss_and_grads(v_c, u_o, u_neg):
    N = v_c.shape[0]
    sig = lambda x: 1 / (1 + np.exp(-x))
    pos = (u_o * v_c).sum(1)
    neg = np.einsum('nke,ne->nk', u_neg, v_c)
    {body}
"""
SG_OK_BODY = """loss = (np.logaddexp(0, -pos).sum() + np.logaddexp(0, neg).sum()) / N
    gp, gn = (sig(pos) - 1) / N, sig(neg) / N
    return loss, gp[:, None] * u_o + np.einsum('nk,nke->ne', gn, u_neg), gp[:, None] * v_c, gn[:, :, None] * v_c[:, None]"""

SGNS_LOOP = """
def sgns_loss_and_grads(v_c, u_o, u_neg):
    # one example at a time, in float64, with a stable log-sigmoid written by hand
    N, K, E = u_neg.shape
    def nls(x):  # -log sigmoid(x)
        return -x + np.log1p(np.exp(x)) if x < 0 else np.log1p(np.exp(-x))
    sig = lambda x: np.exp(-nls(x))
    loss = 0.0
    dv, duo, dun = np.zeros((N, E)), np.zeros((N, E)), np.zeros((N, K, E))
    for n in range(N):
        s = float(u_o[n] @ v_c[n])
        loss += nls(s)
        dv[n] += (sig(s) - 1) * u_o[n]
        duo[n] = (sig(s) - 1) * v_c[n]
        for k in range(K):
            t = float(u_neg[n, k] @ v_c[n])
            loss += nls(-t)
            dv[n] += sig(t) * u_neg[n, k]
            dun[n, k] = sig(t) * v_c[n]
    return loss / N, dv / N, duo / N, dun / N
"""

SGNS_ZERO = """
def sgns_loss_and_grads(v_c, u_o, u_neg):
    return 0.0, np.zeros_like(v_c), np.zeros_like(u_o), np.zeros_like(u_neg)
"""

# ---------------------------------------------------------------- cbow
CBOW = SGNS.format(body=SG_OK_BODY) + """
def cbow_loss_and_grads(v_ctx, u_o, u_neg):
    C = v_ctx.shape[1]
    {body}
"""

# ---------------------------------------------------------------- cooccurrence
COOC_LOOP = """
def cooccurrence_matrix(ids, V, window):
    X = np.zeros((V, V))
    T = len(ids)
    for p in range(T):
        for q in range(max(0, p - window), min(T, p + window + 1)):
            if q != p:
                X[ids[p], ids[q]] += 1.0 / abs(p - q)
    return X
"""


def cooc(weight: str = "1.0 / d", both: bool = True, top: str = "window + 1", adder: str = "np.add.at") -> str:
    extra = f"        {adder}(X, (r, l), {weight})\n" if both else ""
    if adder == "fancy":
        return f"""
def cooccurrence_matrix(ids, V, window):
    ids = np.asarray(ids)
    X = np.zeros((V, V))
    for d in range(1, {top}):
        l, r = ids[:-d], ids[d:]
        X[l, r] += {weight}
        X[r, l] += {weight}
    return X
"""
    return f"""
def cooccurrence_matrix(ids, V, window):
    ids = np.asarray(ids)
    X = np.zeros((V, V))
    for d in range(1, {top}):
        l, r = ids[:-d], ids[d:]
        {adder}(X, (l, r), {weight})
{extra}    return X
"""


# ---------------------------------------------------------------- glove
GLOVE = """
def glove_loss_and_grads(W, W_ctx, b, b_ctx, X, x_max=100.0, alpha=0.75):
    i, j = np.nonzero({nz})
    x = X[i, j]
    f = {f}
    with np.errstate(divide='ignore'):
        diff = np.sum(W[i] * W_ctx[j], axis=1) + b[i] + b_ctx[j] - np.log(x)
    e = f * diff
    J = float(np.sum(e * diff))
    dW, dC = np.zeros_like(W), np.zeros_like(W_ctx)
    np.add.at(dW, i, {two} * e[:, None] * W_ctx[j])
    np.add.at(dC, j, {two} * e[:, None] * W[i])
    db = np.bincount(i, weights={two} * e, minlength=len(b))
    dbc = np.bincount(j, weights={two} * e, minlength=len(b_ctx))
    return J, dW, dC, db, dbc
"""
G_OK = dict(nz="X > 0", f="np.minimum(1.0, (x / x_max) ** alpha)", two="2")


def glove(**kw):
    return GLOVE.format(**{**G_OK, **kw})


# ---------------------------------------------------------------- nearest neighbours
NN = """
def nearest_neighbours(W, query, k):
    query = np.asarray(query)
    {norm}
    sims = U[query] @ U.T
    {excl}
    ids = {order}
    return ids, np.take_along_axis(sims, ids, 1)
"""
NN_OK = dict(norm="U = W / np.linalg.norm(W, axis=1, keepdims=True)",
             excl="sims[np.arange(len(query)), query] = -np.inf",
             order="np.argsort(-sims, axis=1)[:, :k]")


def nn(**kw):
    return NN.format(**{**NN_OK, **kw})


NN_LOOP = """
def nearest_neighbours(W, query, k):
    ids, sims = [], []
    for q in query:
        cos = [float(W[q] @ W[j] / (np.linalg.norm(W[q]) * np.linalg.norm(W[j]))) for j in range(len(W))]
        order = sorted((j for j in range(len(W)) if j != q), key=lambda j: -cos[j])[:k]
        ids.append(order); sims.append([cos[j] for j in order])
    return np.array(ids), np.array(sims)
"""

# ---------------------------------------------------------------- analogy
ANALOGY = """
def analogy(W, a, b, c):
    a, b, c = (np.asarray(x) for x in (a, b, c))
    U = {norm}
    scores = {scores}
    rows = np.arange(len(a))
    for x in {excl}:
        scores[rows, x] = -np.inf
    return np.argmax(scores, axis=1)
"""
A_OK = dict(norm="W / np.linalg.norm(W, axis=1, keepdims=True)", scores="(U[b] - U[a] + U[c]) @ U.T",
            excl="(a, b, c)")


def analogy(**kw):
    return ANALOGY.format(**{**A_OK, **kw})


# ---------------------------------------------------------------- spearman
SPEARMAN = """
def spearman(x, y):
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    {body}
"""
RANK_LOOP = """def rank(v):
        # average rank: 1 + (number smaller) + (number equal - 1) / 2
        return np.array([1 + np.sum(v < e) + (np.sum(v == e) - 1) / 2 for e in v])
    rx, ry = rank(x), rank(y)
    """

MUTANTS = [
    # build_vocab
    Mutant.of("build_vocab", "min_count compared with >", True, build_vocab=vocab(cmp=">")),
    Mutant.of("build_vocab", "ties in first-seen order", True, build_vocab=vocab(key="lambda w: -counts[w]")),
    Mutant.of("build_vocab", "keep probability not capped at 1", True,
              build_vocab=vocab(keep="np.sqrt(t / f) + t / f")),
    Mutant.of("build_vocab", "discard probability returned", True,
              build_vocab=vocab(keep="1 - np.minimum(1.0, np.sqrt(t / f) + t / f)")),
    Mutant.of("build_vocab", "paper's sqrt(t/f) without + t/f", True, build_vocab=vocab(keep="np.minimum(1.0, np.sqrt(t / f))")),
    Mutant.of("build_vocab", "frequency over all tokens", True, build_vocab=vocab(total="len(tokens)")),
    Mutant.of("build_vocab", "dict counts, per-word keep loop", False, build_vocab=vocab()),
    Mutant.of("build_vocab", "Counter and vectorised keep", False, build_vocab="""
def build_vocab(tokens, min_count=5, t=1e-3):
    cnt = Counter(tokens)
    items = sorted(((-c, w) for w, c in cnt.items() if c >= min_count))
    words = [w for _, w in items]
    c = np.array([-n for n, _ in items], dtype=np.int64)
    f = c / c.sum() if len(c) else np.zeros(0)
    r = t / np.maximum(f, 1e-300)
    return words, c, np.clip(np.sqrt(r) + r, 0, 1)
"""),
    # skipgram_pairs
    Mutant.of("skipgram_pairs", "fixed window", True, skipgram_pairs=pairs("window")),
    Mutant.of("skipgram_pairs", "reach drawn from 0..window-1", True,
              skipgram_pairs=pairs("int(rng.integers(0, window))")),
    Mutant.of("skipgram_pairs", "reach drawn from 1..window-1", True,
              skipgram_pairs=pairs("int(rng.integers(1, window)) if window > 1 else 1")),
    Mutant.of("skipgram_pairs", "center paired with itself", True, skipgram_pairs=pairs(
        "int(rng.integers(1, window + 1))", cond="True")),
    Mutant.of("skipgram_pairs", "positions instead of ids", True, skipgram_pairs=pairs(
        "int(rng.integers(1, window + 1))", pick="j")),
    Mutant.of("skipgram_pairs", "independent drop per pair", True, skipgram_pairs=PAIRS_PER_PAIR),
    Mutant.of("skipgram_pairs", "wraps around the ends", True, skipgram_pairs=PAIRS_WRAP),
    Mutant.of("skipgram_pairs", "loop over positions, integers(0, w) + 1", False, skipgram_pairs=PAIRS_LOOP),
    Mutant.of("skipgram_pairs", "choice over 1..window", False, skipgram_pairs=pairs(
        "int(rng.choice(np.arange(1, window + 1)))")),
    # negative_sampling_distribution
    Mutant.of("negative_sampling_distribution", "power missing", True,
              negative_sampling_distribution=NEG.format(body="return c / c.sum()")),
    Mutant.of("negative_sampling_distribution", "not normalised", True,
              negative_sampling_distribution=NEG.format(body="return c ** power")),
    Mutant.of("negative_sampling_distribution", "normalised before the power", True,
              negative_sampling_distribution=NEG.format(body="return (c / c.sum()) ** power")),
    Mutant.of("negative_sampling_distribution", "power fixed at 0.75", True,
              negative_sampling_distribution=NEG.format(body="w = c ** 0.75\n    return w / w.sum()")),
    Mutant.of("negative_sampling_distribution", "exp/log, float32 free", False,
              negative_sampling_distribution=NEG.format(
                  body="w = np.where(c > 0, np.exp(power * np.log(np.maximum(c, 1e-300))), 0.0)\n    return w / np.sum(w)")),
    # sgns
    Mutant.of("sgns_loss_and_grads", "positive and negative terms swapped", True, sgns_loss_and_grads=SGNS.format(
        body=SG_OK_BODY.replace("np.logaddexp(0, -pos)", "np.logaddexp(0, pos)").replace(
            "np.logaddexp(0, neg)", "np.logaddexp(0, -neg)").replace("(sig(pos) - 1) / N, sig(neg) / N", "sig(pos) / N, (sig(neg) - 1) / N"))),
    Mutant.of("sgns_loss_and_grads", "summed over the batch", True, sgns_loss_and_grads=SGNS.format(
        body=SG_OK_BODY.replace("/ N", "/ 1"))),
    Mutant.of("sgns_loss_and_grads", "noise words left out of dv_c", True, sgns_loss_and_grads=SGNS.format(
        body=SG_OK_BODY.replace(" + np.einsum('nk,nke->ne', gn, u_neg)", ""))),
    Mutant.of("sgns_loss_and_grads", "all zeros", True, sgns_loss_and_grads=SGNS_ZERO),
    Mutant.of("sgns_loss_and_grads", "unstable log of sigmoid", True, sgns_loss_and_grads=SGNS.format(
        body=SG_OK_BODY.replace("np.logaddexp(0, -pos).sum() + np.logaddexp(0, neg).sum()",
                                "-np.log(sig(pos)).sum() - np.log(1 - sig(neg)).sum()"))),
    Mutant.of("sgns_loss_and_grads", "loops, hand-written log-sigmoid", False, sgns_loss_and_grads=SGNS_LOOP),
    Mutant.of("sgns_loss_and_grads", "einsum with plain sigmoid gradients", False,
              sgns_loss_and_grads=SGNS.format(body=SG_OK_BODY)),
    # cbow
    Mutant.of("cbow_loss_and_grads", "sum instead of mean", True, cbow_loss_and_grads=CBOW.format(
        body="h = v_ctx.sum(1)\n    loss, dh, du, dn = sgns_loss_and_grads(h, u_o, u_neg)\n    return loss, np.repeat(dh[:, None], C, 1), du, dn")),
    Mutant.of("cbow_loss_and_grads", "gradient not divided by C", True, cbow_loss_and_grads=CBOW.format(
        body="h = v_ctx.mean(1)\n    loss, dh, du, dn = sgns_loss_and_grads(h, u_o, u_neg)\n    return loss, np.repeat(dh[:, None], C, 1), du, dn")),
    Mutant.of("cbow_loss_and_grads", "only the first context word gets a gradient", True, cbow_loss_and_grads=CBOW.format(
        body="h = v_ctx.mean(1)\n    loss, dh, du, dn = sgns_loss_and_grads(h, u_o, u_neg)\n    d = np.zeros_like(v_ctx)\n    d[:, 0] = dh\n    return loss, d, du, dn")),
    Mutant.of("cbow_loss_and_grads", "mean over the embedding axis", True, cbow_loss_and_grads=CBOW.format(
        body="h = v_ctx.mean(2, keepdims=True) * np.ones(v_ctx.shape[2])\n    h = h[:, 0]\n    loss, dh, du, dn = sgns_loss_and_grads(h, u_o, u_neg)\n    return loss, np.repeat(dh[:, None] / C, C, 1), du, dn")),
    Mutant.of("cbow_loss_and_grads", "broadcast division, own skip-gram", False, cbow_loss_and_grads=CBOW.format(
        body="h = v_ctx.sum(1) / C\n    loss, dh, du, dn = sgns_loss_and_grads(h, u_o, u_neg)\n    return loss, np.broadcast_to(dh[:, None] / C, v_ctx.shape).copy(), du, dn")),
    # cooccurrence_matrix
    Mutant.of("cooccurrence_matrix", "no 1/d weighting", True, cooccurrence_matrix=cooc(weight="1.0")),
    Mutant.of("cooccurrence_matrix", "right context only", True, cooccurrence_matrix=cooc(both=False)),
    Mutant.of("cooccurrence_matrix", "window one short", True, cooccurrence_matrix=cooc(top="window")),
    Mutant.of("cooccurrence_matrix", "fancy-index += drops repeats", True, cooccurrence_matrix=cooc(adder="fancy")),
    Mutant.of("cooccurrence_matrix", "1/d^2 weighting", True, cooccurrence_matrix=cooc(weight="1.0 / d ** 2")),
    Mutant.of("cooccurrence_matrix", "loop over positions", False, cooccurrence_matrix=COOC_LOOP),
    # glove
    Mutant.of("glove_loss_and_grads", "weighting dropped", True, glove_loss_and_grads=glove(f="np.ones_like(x)")),
    Mutant.of("glove_loss_and_grads", "weighting not capped", True, glove_loss_and_grads=glove(f="(x / x_max) ** alpha")),
    Mutant.of("glove_loss_and_grads", "factor 2 missing", True, glove_loss_and_grads=glove(two="1")),
    Mutant.of("glove_loss_and_grads", "log(1 + X) over every entry", True, glove_loss_and_grads=glove(
        nz="np.ones_like(X)").replace("np.log(x)", "np.log1p(x)")),
    Mutant.of("glove_loss_and_grads", "zeros kept, f(0) = 0 silences them", False, glove_loss_and_grads=glove(
        nz="np.ones_like(X)").replace("np.log(x)", "np.log(np.maximum(x, 1e-12))")),
    Mutant.of("glove_loss_and_grads", "sparse over nonzero pairs", False, glove_loss_and_grads=glove()),
    # nearest_neighbours
    Mutant.of("nearest_neighbours", "dot product, not cosine", True, nearest_neighbours=nn(norm="U = W")),
    Mutant.of("nearest_neighbours", "query word not excluded", True, nearest_neighbours=nn(excl="pass")),
    Mutant.of("nearest_neighbours", "ascending order", True, nearest_neighbours=nn(
        excl="sims[np.arange(len(query)), query] = np.inf", order="np.argsort(sims, axis=1)[:, :k]")),
    Mutant.of("nearest_neighbours", "only the query normalised", True, nearest_neighbours=nn(
        norm="U = W.copy()\n    U[query] = W[query] / np.linalg.norm(W[query], axis=1, keepdims=True)")),
    Mutant.of("nearest_neighbours", "loops", False, nearest_neighbours=NN_LOOP),
    Mutant.of("nearest_neighbours", "argpartition then sort", False, nearest_neighbours=nn(
        order="np.take_along_axis(np.argpartition(-sims, k, axis=1)[:, :k], np.argsort(-np.take_along_axis(sims, np.argpartition(-sims, k, axis=1)[:, :k], 1), 1), 1)")),
    # analogy
    Mutant.of("analogy", "returns a query word", True, analogy=analogy(excl="()")),
    Mutant.of("analogy", "only c excluded", True, analogy=analogy(excl="(c,)")),
    Mutant.of("analogy", "not normalised", True, analogy=analogy(norm="W")),
    Mutant.of("analogy", "a - b + c", True, analogy=analogy(scores="(U[a] - U[b] + U[c]) @ U.T")),
    Mutant.of("analogy", "sum of cosines (Levy & Goldberg)", False, analogy=analogy(
        scores="U[b] @ U.T - U[a] @ U.T + U[c] @ U.T")),
    Mutant.of("analogy", "normalised target", False, analogy=analogy(
        scores="((U[b] - U[a] + U[c]) / np.linalg.norm(U[b] - U[a] + U[c], axis=1, keepdims=True)) @ U.T")),
    # spearman
    Mutant.of("spearman", "ordinal ranks for ties", True, spearman=SPEARMAN.format(
        body="rx, ry = np.argsort(np.argsort(x)), np.argsort(np.argsort(y))\n    return float(np.corrcoef(rx, ry)[0, 1])")),
    Mutant.of("spearman", "Pearson on the values", True, spearman=SPEARMAN.format(
        body="return float(np.corrcoef(x, y)[0, 1])")),
    Mutant.of("spearman", "1 - 6 sum d^2 shortcut", True, spearman=SPEARMAN.format(
        body=RANK_LOOP + "n = len(x)\n    return float(1 - 6 * np.sum((rx - ry) ** 2) / (n * (n * n - 1)))")),
    Mutant.of("spearman", "y ranked in decreasing order", True, spearman=SPEARMAN.format(
        body=RANK_LOOP.replace("rank(y)", "rank(-y) * 0 + rank(y)[::-1]") + "return float(np.corrcoef(rx, ry)[0, 1])")),
    Mutant.of("spearman", "average ranks by counting, corrcoef", False, spearman=SPEARMAN.format(
        body=RANK_LOOP + "return float(np.corrcoef(rx, ry)[0, 1])")),
]

# ---------------------------------------------------------------- the static rules, and more draws
# Right numbers by the wrong means: a call to the tests' own oracle (a `_test_` helper) or a shortcut
# the part rules out (torch or gensim in a numpy part, scipy in Spearman, scipy.spatial for cosines)
# earns nothing. Correct code the rules must leave alone: imports at the top of the cell, helpers of
# one's own. And for the one random function, plausible ways to draw the reaches wrong.
M = Mutant.of

SGNS_TORCH = """
def sgns_loss_and_grads(v_c, u_o, u_neg):
    F = torch.nn.functional
    leaves = [torch.tensor(a, requires_grad=True) for a in (v_c, u_o, u_neg)]
    tv, tu, tn = leaves
    per = -F.logsigmoid((tu * tv).sum(1)) - F.logsigmoid(-torch.einsum('nke,ne->nk', tn, tv)).sum(1)
    loss = per.mean()
    loss.backward()
    return float(loss), *(t.grad.numpy() for t in leaves)
"""

GLOVE_TORCH = """
def glove_loss_and_grads(W, W_ctx, b, b_ctx, X, x_max=100.0, alpha=0.75):
    leaves = [torch.tensor(a, requires_grad=True) for a in (W, W_ctx, b, b_ctx)]
    tW, tC, tb, tc = leaves
    i, j = np.nonzero(X)
    x = torch.tensor(X[i, j])
    J = (torch.clamp((x / x_max) ** alpha, max=1.0) * ((tW[i] * tC[j]).sum(1) + tb[i] + tc[j] - torch.log(x)) ** 2).sum()
    J.backward()
    return float(J), *(t.grad.numpy() for t in leaves)
"""

MUTANTS += [
    # ------------------------------------------------ build_vocab
    M("build_vocab", "calls the test's oracle _test_vocab", True, build_vocab="""
def build_vocab(tokens, min_count=5, t=1e-3):
    words, counts, keep = _test_vocab(tokens, min_count, t)
    return words, counts.astype(np.int64), keep
"""),
    M("build_vocab", "counts from gensim's Dictionary", True, build_vocab="""
from gensim.corpora import Dictionary


def build_vocab(tokens, min_count=5, t=1e-3):
    d = Dictionary([list(tokens)])
    seen = {d[i]: n for i, n in d.cfs.items()}
    words = sorted((w for w in seen if seen[w] >= min_count), key=lambda w: (-seen[w], w))
    c = np.array([seen[w] for w in words], dtype=np.int64)
    f = c / max(1, c.sum())
    return words, c, np.minimum(1.0, np.sqrt(t / f) + t / f) if len(c) else np.zeros(0)
"""),
    M("build_vocab", "numpy imported at the top of the cell, a sort key of its own", False, build_vocab="""
import numpy as np
from collections import Counter


def by_count_then_word(item):
    \"\"\"Decreasing count, then alphabetical.\"\"\"
    word, count = item
    return -count, word


def build_vocab(tokens, min_count=5, t=1e-3):
    kept = sorted(((w, c) for w, c in Counter(tokens).items() if c >= min_count), key=by_count_then_word)
    words = [w for w, _ in kept]
    counts = np.array([c for _, c in kept], dtype=np.int64)
    ratio = t * counts.sum() / counts if len(counts) else np.zeros(0)
    return words, counts, np.minimum(1.0, np.sqrt(ratio) + ratio)
"""),
    # ------------------------------------------------ skipgram_pairs
    M("skipgram_pairs", "one reach drawn for the whole text", True, skipgram_pairs=pairs("B").replace(
        "    T = len(ids)\n", "    T = len(ids)\n    B = int(rng.integers(1, window + 1))\n")),
    M("skipgram_pairs", "right side stops one short of the reach", True, skipgram_pairs=pairs(
        "int(rng.integers(1, window + 1))", hi="min(T, i + b)")),
    M("skipgram_pairs", "a reach drawn for each side", True, skipgram_pairs=pairs(
        "rng.integers(1, window + 1, size=2)", lo="max(0, i - int(b[0]))", hi="min(T, i + int(b[1]) + 1)")),
    M("skipgram_pairs", "reaches drawn with torch.randint", True, skipgram_pairs="""
def skipgram_pairs(ids, window, rng):
    ids = np.asarray(ids, dtype=np.int64)
    T = len(ids)
    reach = torch.randint(1, window + 1, (T,), generator=torch.Generator().manual_seed(int(rng.integers(2**31)))).numpy()
    centers, contexts = [], []
    for d in range(1, window + 1):
        pos = np.arange(max(0, T - d))
        for c, o in ((pos, pos + d), (pos + d, pos)):
            ok = reach[c] >= d
            centers.append(ids[c[ok]]); contexts.append(ids[o[ok]])
    return np.concatenate(centers), np.concatenate(contexts)
"""),
    M("skipgram_pairs", "offsets vectorised by a helper of its own, endpoint=True, numpy at the top", False,
      skipgram_pairs="""
import numpy as np


def pairs_at_distance(ids, reach, d):
    \"\"\"The pairs d apart whose center reaches that far, both directions.\"\"\"
    T = len(ids)
    left, right = np.arange(max(0, T - d)), np.arange(d, T)
    c = np.concatenate([left[reach[left] >= d], right[reach[right] >= d]])
    o = np.concatenate([left[reach[left] >= d] + d, right[reach[right] >= d] - d])
    return ids[c], ids[o]


def skipgram_pairs(ids, window, rng):
    ids = np.asarray(ids, dtype=np.int64)
    reach = rng.integers(1, window, size=len(ids), endpoint=True)
    found = [pairs_at_distance(ids, reach, d) for d in range(1, window + 1)]
    return np.concatenate([c for c, _ in found]), np.concatenate([o for _, o in found])
"""),
    # ------------------------------------------------ negative_sampling_distribution
    M("negative_sampling_distribution", "calls the test's oracle _test_unigram_power", True,
      negative_sampling_distribution="""
def negative_sampling_distribution(counts, power=0.75):
    return _test_unigram_power(counts, power)
"""),
    M("negative_sampling_distribution", "torch.pow and a torch sum", True, negative_sampling_distribution="""
def negative_sampling_distribution(counts, power=0.75):
    w = torch.pow(torch.as_tensor(np.asarray(counts, dtype=np.float64)), power)
    return (w / w.sum()).numpy()
"""),
    M("negative_sampling_distribution", "numpy at the top of the cell, a normalising helper of its own", False,
      negative_sampling_distribution="""
import numpy as np


def normalised(w):
    return w / np.sum(w)


def negative_sampling_distribution(counts, power=0.75):
    return normalised(np.power(np.asarray(counts, dtype=np.float64), power))
"""),
    # ------------------------------------------------ sgns_loss_and_grads
    M("sgns_loss_and_grads", "calls the test's autograd oracle _test_sgns", True, sgns_loss_and_grads="""
def sgns_loss_and_grads(v_c, u_o, u_neg):
    loss, dv_c, du_o, du_neg = _test_sgns(v_c, u_o, u_neg)
    return loss, dv_c, du_o, du_neg
"""),
    M("sgns_loss_and_grads", "loss and gradients by torch.autograd", True, sgns_loss_and_grads=SGNS_TORCH),
    M("sgns_loss_and_grads", "numpy at the top of the cell, stable sigmoid by a helper of its own", False,
      sgns_loss_and_grads="""
import numpy as np


def stable_sigmoid(x):
    \"\"\"1 / (1 + exp(-x)) without overflow.\"\"\"
    return np.exp(-np.logaddexp(0, -x))


def sgns_loss_and_grads(v_c, u_o, u_neg):
    N = len(v_c)
    pos, neg = np.einsum('ne,ne->n', u_o, v_c), np.einsum('nke,ne->nk', u_neg, v_c)
    loss = (np.sum(np.logaddexp(0, -pos)) + np.sum(np.logaddexp(0, neg))) / N
    gp, gn = (stable_sigmoid(pos) - 1) / N, stable_sigmoid(neg) / N
    return loss, gp[:, None] * u_o + np.einsum('nk,nke->ne', gn, u_neg), gp[:, None] * v_c, gn[:, :, None] * v_c[:, None]
"""),
    # ------------------------------------------------ cbow_loss_and_grads
    M("cbow_loss_and_grads", "calls the test's autograd oracle _test_cbow", True, cbow_loss_and_grads="""
def cbow_loss_and_grads(v_ctx, u_o, u_neg):
    return tuple(_test_cbow(v_ctx, u_o, u_neg))
"""),
    M("cbow_loss_and_grads", "the mean and loss by torch.autograd", True, cbow_loss_and_grads="""
def cbow_loss_and_grads(v_ctx, u_o, u_neg):
    leaves = [torch.tensor(a, requires_grad=True) for a in (v_ctx, u_o, u_neg)]
    tc, tu, tn = leaves
    h = tc.mean(1)
    logsig = torch.nn.functional.logsigmoid
    loss = (-logsig((tu * h).sum(1)) - logsig(-torch.einsum('nke,ne->nk', tn, h)).sum(1)).mean()
    loss.backward()
    return float(loss), *(t.grad.numpy() for t in leaves)
"""),
    # ------------------------------------------------ cooccurrence_matrix
    M("cooccurrence_matrix", "calls the test's brute force _test_cooc", True, cooccurrence_matrix="""
def cooccurrence_matrix(ids, V, window):
    return _test_cooc(ids, V, window)
"""),
    M("cooccurrence_matrix", "torch index_put_ with accumulate", True, cooccurrence_matrix="""
def cooccurrence_matrix(ids, V, window):
    ids = torch.as_tensor(np.asarray(ids, dtype=np.int64))
    X = torch.zeros(V, V, dtype=torch.float64)
    for d in range(1, window + 1):
        l, r = ids[:-d], ids[d:]
        w = torch.full((len(l),), 1.0 / d, dtype=torch.float64)
        X.index_put_((l, r), w, accumulate=True)
        X.index_put_((r, l), w, accumulate=True)
    return X.numpy()
"""),
    M("cooccurrence_matrix", "np.bincount over flat indices, numpy at the top of the cell", False, cooccurrence_matrix="""
import numpy as np


def cooccurrence_matrix(ids, V, window):
    ids = np.asarray(ids, dtype=np.int64)
    X = np.zeros(V * V)
    for d in range(1, window + 1):
        l, r = ids[:-d], ids[d:]
        X += np.bincount(np.concatenate([l * V + r, r * V + l]), minlength=V * V) / d
    return X.reshape(V, V)
"""),
    # ------------------------------------------------ glove_loss_and_grads
    M("glove_loss_and_grads", "calls the test's autograd oracle _test_glove", True, glove_loss_and_grads="""
def glove_loss_and_grads(W, W_ctx, b, b_ctx, X, x_max=100.0, alpha=0.75):
    return tuple(_test_glove(W, W_ctx, b, b_ctx, X, x_max, alpha))
"""),
    M("glove_loss_and_grads", "loss and gradients by torch.autograd", True, glove_loss_and_grads=GLOVE_TORCH),
    M("glove_loss_and_grads", "einsum, the weighting by a helper of its own", False, glove_loss_and_grads="""
def weighting(X, x_max, alpha):
    \"\"\"f(X) = min(1, (X / x_max) ** alpha), and 0 where X = 0.\"\"\"
    return np.where(X > 0, np.minimum(1.0, (X / x_max) ** alpha), 0.0)


def glove_loss_and_grads(W, W_ctx, b, b_ctx, X, x_max=100.0, alpha=0.75):
    log_x = np.log(np.where(X > 0, X, 1.0))
    diff = np.einsum('ie,je->ij', W, W_ctx) + b[:, None] + b_ctx[None, :] - log_x
    e = weighting(X, x_max, alpha) * diff
    return (float(np.einsum('ij,ij->', e, diff)), 2 * np.einsum('ij,je->ie', e, W_ctx),
            2 * np.einsum('ij,ie->je', e, W), 2 * e.sum(1), 2 * e.sum(0))
"""),
    # ------------------------------------------------ nearest_neighbours
    M("nearest_neighbours", "calls the test's oracle _test_nn", True, nearest_neighbours="""
def nearest_neighbours(W, query, k):
    return _test_nn(W, np.asarray(query), k)
"""),
    M("nearest_neighbours", "scipy's cdist imported at the top of the cell", True, nearest_neighbours="""
from scipy.spatial.distance import cdist


def nearest_neighbours(W, query, k):
    query = np.asarray(query)
    sims = 1 - cdist(W[query], W, metric='cosine')
    sims[np.arange(len(query)), query] = -np.inf
    ids = np.argsort(-sims, axis=1, kind='stable')[:, :k]
    return ids, np.take_along_axis(sims, ids, 1)
"""),
    M("nearest_neighbours", "einsum, unit rows by a helper of its own, numpy at the top", False, nearest_neighbours="""
import numpy as np


def unit_rows(W):
    return W / np.sqrt(np.einsum('ve,ve->v', W, W))[:, None]


def nearest_neighbours(W, query, k):
    query = np.asarray(query)
    U = unit_rows(W)
    sims = np.einsum('qe,ve->qv', U[query], U)
    sims[np.arange(len(query)), query] = -np.inf
    ids = np.argsort(-sims, axis=1, kind='stable')[:, :k]
    return ids, np.take_along_axis(sims, ids, 1)
"""),
    # ------------------------------------------------ analogy
    M("analogy", "calls the test's brute force _test_3cosadd", True, analogy="""
def analogy(W, a, b, c):
    return _test_3cosadd(W, a, b, c)
"""),
    M("analogy", "cosines by scipy.spatial.distance.cdist", True, analogy="""
def analogy(W, a, b, c):
    import scipy.spatial.distance as dist
    a, b, c = (np.asarray(x) for x in (a, b, c))
    U = W / np.linalg.norm(W, axis=1, keepdims=True)
    scores = 1 - dist.cdist(U[b] - U[a] + U[c], U, metric='cosine')
    for x in (a, b, c):
        scores[np.arange(len(a)), x] = -np.inf
    return np.argmax(scores, axis=1)
"""),
    M("analogy", "a loop over questions, unit rows by a helper of its own", False, analogy="""
def unit(W):
    return W / np.linalg.norm(W, axis=-1, keepdims=True)


def analogy(W, a, b, c):
    U = unit(W)
    answers = []
    for qa, qb, qc in zip(a, b, c):
        scores = U @ (U[qb] - U[qa] + U[qc])
        scores[[qa, qb, qc]] = -np.inf
        answers.append(int(np.argmax(scores)))
    return np.array(answers, dtype=np.int64)
"""),
    # ------------------------------------------------ spearman
    M("spearman", "scipy.stats.spearmanr", True, spearman="""
def spearman(x, y):
    return float(scipy.stats.spearmanr(x, y).statistic)
"""),
    M("spearman", "rankdata imported from scipy.stats at the top of the cell", True, spearman="""
from scipy.stats import rankdata


def spearman(x, y):
    return float(np.corrcoef(rankdata(x), rankdata(y))[0, 1])
"""),
    M("spearman", "numpy at the top of the cell, average ranks by a helper of its own", False, spearman="""
import numpy as np


def average_ranks(v):
    \"\"\"Ranks 1..n, ties sharing the mean of the ranks they span.\"\"\"
    v = np.asarray(v, dtype=float)
    below = (v[None, :] < v[:, None]).sum(1)
    equal = (v[None, :] == v[:, None]).sum(1)
    return below + (equal + 1) / 2


def spearman(x, y):
    rx, ry = average_ranks(x), average_ranks(y)
    rx, ry = rx - rx.mean(), ry - ry.mean()
    return float(rx @ ry / np.sqrt((rx @ rx) * (ry @ ry)))
"""),
]

# ---------------------------------------------------------------- issue 17: contracts (tests/contracts/03_word_embeddings.md)
# Bugs that kept full points before the contract cases: dtypes, shapes the tests did not use,
# invariants the markdown states (the query is never its own neighbour, a, b and c are never an
# answer, no scipy in Spearman). And correct code that the tie-tolerant checks must leave alone.
SGNS_SQUEEZED = SGNS.format(body="""neg = np.squeeze(u_neg @ v_c[:, :, None])          # (N, K), but (N,) when K = 1
    loss = (np.logaddexp(0, -pos).sum() + np.logaddexp(0, neg).sum()) / N
    gp, gn = (sig(pos) - 1) / N, sig(neg) / N
    return loss, gp[:, None] * u_o + (gn[..., None] * u_neg).sum(1), gp[:, None] * v_c, gn[..., None] * v_c[:, None]""")

MUTANTS += [
    # dtype: float64 is the contract
    M("build_vocab", "keep_prob in float32", True, build_vocab=vocab(
        keep="np.array([min(1.0, np.sqrt(t / x) + t / x) for x in f], dtype=np.float32)")),
    M("negative_sampling_distribution", "probabilities in float32", True,
      negative_sampling_distribution=NEG.format(body="w = c.astype(np.float32) ** power\n    return w / w.sum()")),
    M("cooccurrence_matrix", "counts in a float32 matrix", True,
      cooccurrence_matrix=cooc().replace("np.zeros((V, V))", "np.zeros((V, V), dtype=np.float32)")),
    M("negative_sampling_distribution", "float32 counts in, float64 out", False,
      negative_sampling_distribution=NEG.format(body="w = np.power(c, power, dtype=np.float64)\n    return w / w.sum()")),
    # shapes: N > 1 with K = 1
    M("sgns_loss_and_grads", "squeezed (N, K) scores: wrong when K = 1 and N > 1", True, sgns_loss_and_grads=SGNS_SQUEEZED),
    # invariants
    M("nearest_neighbours", "drops the first sorted column instead of excluding the query", True,
      nearest_neighbours=nn(excl="pass", order="np.argsort(-sims, axis=1)[:, 1:k + 1]")),
    M("nearest_neighbours", "excludes every query word from every row", True,
      nearest_neighbours=nn(excl="sims[:, query] = -np.inf")),
    M("nearest_neighbours", "ties in reverse index order (an ascending argsort, reversed)", False,
      nearest_neighbours=nn(excl="sims[np.arange(len(query)), query] = -np.inf",
                            order="np.argsort(sims, axis=1, kind='stable')[:, ::-1][:, :k]")),
    M("analogy", "excludes b and c but not a", True, analogy=analogy(excl="(b, c)")),
    M("analogy", "excludes a and c but not b", True, analogy=analogy(excl="(a, c)")),
    M("spearman", "scipy.stats under another name", True, spearman="""
import scipy.stats as st


def spearman(x, y):
    return float(st.spearmanr(x, y)[0])
"""),
    M("spearman", "spearmanr through the stats module bound in another cell", True, spearman="""
stats = scipy.stats


def spearman(x, y):
    rank = getattr(stats, 'rank' + 'data')
    return float(np.corrcoef(rank(x), rank(y))[0, 1])
"""),
]
MUTANTS += [
    M("negative_sampling_distribution", "float counts raised and normalised in place", True,
      negative_sampling_distribution="""
def negative_sampling_distribution(counts, power=0.75):
    c = counts if counts.dtype.kind == 'f' else counts.astype(np.float64)
    c **= power
    c /= c.sum()
    return c
"""),
]

# ---------------------------------------------------------------- multiple-choice questions
# Each wrong letter loses the question's point; the right one keeps it in any case and spacing.
MUTANTS += [
    M("q_rank_transform", "answer (a)", True, q_rank_transform='q_rank_transform = "a"'),
    M("q_rank_transform", "answer (c)", True, q_rank_transform='q_rank_transform = "c"'),
    M("q_rank_transform", "answer (d)", True, q_rank_transform='q_rank_transform = "d"'),
    M("q_rank_transform", "the right answer in capitals, with spaces", False,
      q_rank_transform='q_rank_transform = " B "'),
]

# ---------------------------------------------------------------- fair blame: a part judged on its own merit
# (mutant, the earlier part it overrides with a wrong one; see OWN_MERIT in mutants_01_rnn.py). The
# reference CBOW calls the wrong sgns_loss_and_grads: its visible test blames it, and the hidden tests,
# run with the tests' own sgns_loss_and_grads, grade it.
OWN_MERIT = [
    (M("cbow_loss_and_grads", "the reference CBOW, over an sgns_loss_and_grads without the 1/N", False,
       sgns_loss_and_grads=SGNS.format(body=SG_OK_BODY.replace("/ N", "/ 1"))), "sgns_loss_and_grads"),
]
