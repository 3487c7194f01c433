"""Implementations of Lab 7's graded functions that a student might write, for the mutation tests.

Each ``Mutant`` replaces one or more solution cells. ``wrong`` ones hold a plausible bug and must
lose the target's points; the others are correct but written differently (an incremental BPE
trainer, merges applied in list order, a Counter, a brute-force span reader, sentences joined with
"O") and must keep every point. Mutants of a later part bring their own code, or use the
earlier parts the notebook holds; OWN_MERIT pairs a correct later part with a wrong earlier one.
These were written from the lab's stated contracts (the markdown and docstrings), not from the
reference code.
"""
from __future__ import annotations

from labharness import Mutant, choice_mutants, replaced, wrong_part

M = Mutant.of

# ---------------------------------------------------------------- building blocks (correct)
PAIRS = """
def bpe_pair_counts(words):
    counts = {}
    for word, n in words.items():
        for i in range(len(word) - 1):
            pair = (word[i], word[i + 1])
            counts[pair] = counts.get(pair, 0) + n
    return counts
"""

MERGE = """
def bpe_merge(word, pair, new_id):
    out, i = [], 0
    while i < len(word):
        if i + 1 < len(word) and word[i] == pair[0] and word[i + 1] == pair[1]:
            out.append(new_id)
            i += 2
        else:
            out.append(word[i])
            i += 1
    return tuple(out)
"""

# a self-contained trainer: counts every pair again after every merge, picks (count, then smallest pair)
LEARN = """
def learn_bpe(corpus, num_merges):
    words = {tuple(w): n for w, n in corpus.items()}
    merges = []
    for k in range(num_merges):
        counts = {}
        for w, n in words.items():
            for p in zip(w, w[1:]):
                counts[p] = counts.get(p, 0) + n
        if not counts:
            break
        best = sorted(counts, key=lambda p: (-counts[p], p[0], p[1]))[0]
        merges.append(best)
        new = {}
        for w, n in words.items():
            out, i = [], 0
            while i < len(w):
                if i + 1 < len(w) and (w[i], w[i + 1]) == best:
                    out.append(256 + k)
                    i += 2
                else:
                    out.append(w[i])
                    i += 1
            new[tuple(out)] = n
        words = new
    return merges
"""

# the efficient trainer: keeps the pair counts and, after each merge, updates only the words that held the pair
LEARN_INCREMENTAL = """
def learn_bpe(corpus, num_merges):
    words = [list(w) for w in corpus]
    freq = list(corpus.values())
    counts, where = {}, {}

    def account(i, sign):
        w = words[i]
        for p in zip(w, w[1:]):
            counts[p] = counts.get(p, 0) + sign * freq[i]
            if sign > 0:
                where.setdefault(p, set()).add(i)

    for i in range(len(words)):
        account(i, +1)
    merges = []
    for k in range(num_merges):
        live = [p for p, c in counts.items() if c > 0]
        if not live:
            break
        best = max(live, key=lambda p: (counts[p], -p[0], -p[1]))
        merges.append(best)
        for i in sorted(where.pop(best, ())):
            account(i, -1)
            w, out, j = words[i], [], 0
            while j < len(w):
                if j + 1 < len(w) and w[j] == best[0] and w[j + 1] == best[1]:
                    out.append(256 + k)
                    j += 2
                else:
                    out.append(w[j])
                    j += 1
            words[i] = out
            account(i, +1)
    return merges
"""

# encoding by rank, self-contained (its own split, its own merging)
ENCODE = """
def bpe_encode(text, merges):
    rank = {tuple(p): k for k, p in enumerate(merges)}
    ids = []
    for piece in split_words(text):
        w = list(piece.encode("utf-8"))
        while True:
            ranked = [(rank[p], i) for i, p in enumerate(zip(w, w[1:])) if p in rank]
            if not ranked:
                break
            k = min(ranked)[0]
            out, i = [], 0
            while i < len(w):
                if i + 1 < len(w) and (w[i], w[i + 1]) == tuple(merges[k]):
                    out.append(256 + k)
                    i += 2
                else:
                    out.append(w[i])
                    i += 1
            w = out
        ids += w
    return ids
"""

DECODE = """
def bpe_decode(ids, vocab):
    return b"".join(vocab[i] for i in ids).decode("utf-8", errors="replace")
"""

SPANS = """
def bio_spans(tags):
    spans, current = set(), None        # current: [type, start] of the entity being read
    for i, tag in enumerate(tags):
        if tag.startswith("I-") and current is not None and current[0] == tag[2:]:
            continue
        if current is not None:
            spans.add((current[0], current[1], i))
            current = None
        if tag != "O":
            current = [tag[2:], i]
    if current is not None:
        spans.add((current[0], current[1], len(tags)))
    return spans
"""

PRF = """
def span_prf(gold, pred):
    tp = n_pred = n_gold = 0
    for g, p in zip(gold, pred):
        gs, ps = bio_spans(g), bio_spans(p)
        tp += len(gs & ps)
        n_pred += len(ps)
        n_gold += len(gs)
    precision = tp / n_pred if n_pred > 0 else 0.0
    recall = tp / n_gold if n_gold > 0 else 0.0
    f1 = 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)
    return precision, recall, f1
"""

MUTANTS = [
    # ---------------------------------------------------------------- bpe_pair_counts
    M("bpe_pair_counts", "each distinct word counted once", True,
      bpe_pair_counts=PAIRS.replace("counts.get(pair, 0) + n", "counts.get(pair, 0) + 1")),
    M("bpe_pair_counts", "a pair counted once per word", True, bpe_pair_counts="""
def bpe_pair_counts(words):
    counts = {}
    for word, n in words.items():
        for pair in set(zip(word, word[1:])):
            counts[pair] = counts.get(pair, 0) + n
    return counts
"""),
    M("bpe_pair_counts", "pairs across the ends of words", True, bpe_pair_counts="""
def bpe_pair_counts(words):
    counts, prev = {}, None
    for word, n in words.items():
        for token in word:
            if prev is not None:
                counts[(prev, token)] = counts.get((prev, token), 0) + n
            prev = token
    return counts
"""),
    M("bpe_pair_counts", "the last pair of each word missed", True,
      bpe_pair_counts=PAIRS.replace("range(len(word) - 1)", "range(len(word) - 2)")),
    M("bpe_pair_counts", "a Counter of pairs, itertools", False, bpe_pair_counts="""
import itertools
def bpe_pair_counts(words):
    counts = Counter()
    for word, n in words.items():
        for a, b in itertools.pairwise(word):
            counts[a, b] += n
    return counts
"""),
    # ---------------------------------------------------------------- bpe_merge
    M("bpe_merge", "scanned from right to left", True, bpe_merge="""
def bpe_merge(word, pair, new_id):
    out, i = [], len(word) - 1
    while i >= 0:
        if i >= 1 and word[i - 1] == pair[0] and word[i] == pair[1]:
            out.append(new_id)
            i -= 2
        else:
            out.append(word[i])
            i -= 1
    return tuple(out[::-1])
"""),
    M("bpe_merge", "only the first occurrence", True, bpe_merge="""
def bpe_merge(word, pair, new_id):
    for i in range(len(word) - 1):
        if (word[i], word[i + 1]) == tuple(pair):
            return word[:i] + (new_id,) + word[i + 2:]
    return tuple(word)
"""),
    M("bpe_merge", "returns a list", True, bpe_merge=MERGE.replace("return tuple(out)", "return out")),
    M("bpe_merge", "replace on the ids written as decimal text", True, bpe_merge="""
def bpe_merge(word, pair, new_id):
    text = ",".join(map(str, word))
    text = text.replace(f"{pair[0]},{pair[1]}", str(new_id))
    return tuple(int(t) for t in text.split(",")) if text else ()
"""),
    M("bpe_merge", "a generator over positions, skipping after a merge", False, bpe_merge="""
def bpe_merge(word, pair, new_id):
    def pieces():
        skip = False
        for i, token in enumerate(word):
            if skip:
                skip = False
            elif i + 1 < len(word) and token == pair[0] and word[i + 1] == pair[1]:
                skip = True
                yield new_id
            else:
                yield token
    return tuple(pieces())
"""),
    # ---------------------------------------------------------------- learn_bpe
    M("learn_bpe", "ties go to the largest pair", True,
      learn_bpe=LEARN.replace("key=lambda p: (-counts[p], p[0], p[1]))[0]", "key=lambda p: (counts[p], p[0], p[1]))[-1]")),
    M("learn_bpe", "ties go to the pair seen first", True,
      learn_bpe=LEARN.replace("sorted(counts, key=lambda p: (-counts[p], p[0], p[1]))[0]",
                              "max(counts, key=lambda p: counts[p])")),
    M("learn_bpe", "word counts ignored", True,
      learn_bpe=LEARN.replace("counts[p] = counts.get(p, 0) + n", "counts[p] = counts.get(p, 0) + 1")),
    M("learn_bpe", "merge k makes token 255 + k", True, learn_bpe=LEARN.replace("out.append(256 + k)", "out.append(255 + k)")),
    M("learn_bpe", "no stop when the pairs run out", True,
      learn_bpe=LEARN.replace("        if not counts:\n            break\n", "")),
    M("learn_bpe", "the words as merged before, kept from the first step", True, learn_bpe="""
def learn_bpe(corpus, num_merges):
    words = {tuple(w): n for w, n in corpus.items()}
    merges = []
    for k in range(num_merges):
        counts = bpe_pair_counts(words)
        if not counts:
            break
        best = min(counts, key=lambda p: (-counts[p], p))
        merges.append(best)
        words = {bpe_merge(w, best, 256 + k): n for w, n in corpus.items()}
    return merges
"""),
    M("learn_bpe", "counts recomputed from scratch, self-contained", False, learn_bpe=LEARN),
    M("learn_bpe", "incremental pair counts", False, learn_bpe=LEARN_INCREMENTAL),
    # ---------------------------------------------------------------- bpe_encode
    M("bpe_encode", "no pre-tokenisation: merges across words", True, bpe_encode=ENCODE.replace(
        "for piece in split_words(text):", "for piece in [text]:")),
    M("bpe_encode", "the latest merge first", True, bpe_encode=ENCODE.replace("k = min(ranked)[0]", "k = max(ranked)[0]")),
    M("bpe_encode", "code points instead of bytes", True, bpe_encode=ENCODE.replace(
        'w = list(piece.encode("utf-8"))', "w = [ord(c) for c in piece]")),
    M("bpe_encode", "a list of ids per word", True, bpe_encode=ENCODE.replace("ids += w", "ids.append(w)")),
    M("bpe_encode", "each merge once, at its first occurrence only", True, bpe_encode="""
def bpe_encode(text, merges):
    ids = []
    for piece in split_words(text):
        w = tuple(piece.encode("utf-8"))
        for k, (a, b) in enumerate(merges):
            for i in range(len(w) - 1):
                if w[i] == a and w[i + 1] == b:
                    w = w[:i] + (256 + k,) + w[i + 2:]
                    break
        ids.extend(w)
    return ids
"""),
    M("bpe_encode", "every merge in list order, over every word", False, bpe_encode="""
def bpe_encode(text, merges):
    words = [tuple(p.encode("utf-8")) for p in split_words(text)]
    for k, pair in enumerate(merges):
        words = [bpe_merge(w, tuple(pair), 256 + k) for w in words]
    return [i for w in words for i in w]
"""),
    M("bpe_encode", "by rank, self-contained", False, bpe_encode=ENCODE),
    # ---------------------------------------------------------------- bpe_decode
    M("bpe_decode", "each token decoded on its own", True, bpe_decode="""
def bpe_decode(ids, vocab):
    return "".join(vocab[i].decode("utf-8", errors="replace") for i in ids)
"""),
    M("bpe_decode", "invalid bytes dropped", True, bpe_decode=DECODE.replace('errors="replace"', 'errors="ignore"')),
    M("bpe_decode", "bytes read as Latin-1", True, bpe_decode=DECODE.replace('.decode("utf-8", errors="replace")', '.decode("latin-1")')),
    M("bpe_decode", "strict UTF-8 (fails on invalid bytes)", True, bpe_decode=DECODE.replace(', errors="replace"', "")),
    M("bpe_decode", "a bytearray, then one decode", False, bpe_decode="""
def bpe_decode(ids, vocab):
    data = bytearray()
    for i in ids:
        data += vocab[i]
    return bytes(data).decode(encoding="utf-8", errors="replace")
"""),
    # ---------------------------------------------------------------- bio_spans
    M("bio_spans", "I- without B- dropped", True, bio_spans="""
def bio_spans(tags):
    spans, current = set(), None
    for i, tag in enumerate(list(tags) + ["O"]):
        if tag.startswith("I-") and current is not None and current[0] == tag[2:]:
            continue
        if current is not None:
            spans.add((current[0], current[1], i))
            current = None
        if tag.startswith("B-"):
            current = [tag[2:], i]
    return spans
"""),
    M("bio_spans", "end inclusive", True, bio_spans=SPANS.replace(
        "spans.add((current[0], current[1], i))", "spans.add((current[0], current[1], i - 1))").replace(
        "spans.add((current[0], current[1], len(tags)))", "spans.add((current[0], current[1], len(tags) - 1))")),
    M("bio_spans", "the entity at the end of the sentence lost", True, bio_spans=SPANS.replace(
        "    if current is not None:\n        spans.add((current[0], current[1], len(tags)))\n", "")),
    M("bio_spans", "B- of the same type continues the entity", True, bio_spans=SPANS.replace(
        'if tag.startswith("I-") and current is not None', 'if tag != "O" and current is not None')),
    M("bio_spans", "I- of another type continues the entity", True, bio_spans=SPANS.replace(
        'and current[0] == tag[2:]:', ':')),
    M("bio_spans", "state machine with a list and a frozenset", False, bio_spans="""
def bio_spans(tags):
    found = []
    for i, tag in enumerate(tags):
        kind = tag[2:]
        if tag == "O":
            continue
        if tag[:2] == "I-" and found and found[-1][0] == kind and found[-1][2] == i:
            found[-1][2] = i + 1
        else:
            found.append([kind, i, i + 1])
    return frozenset(tuple(s) for s in found)
"""),
    M("bio_spans", "SPANS as written from the rules", False, bio_spans=SPANS),
    # ---------------------------------------------------------------- span_prf
    M("span_prf", "precision and recall swapped", True, span_prf=PRF.replace(
        "return precision, recall, f1", "return recall, precision, f1")),
    M("span_prf", "entities matched across sentences", True, span_prf="""
def span_prf(gold, pred):
    gs = set().union(*[bio_spans(g) for g in gold]) if gold else set()
    ps = set().union(*[bio_spans(p) for p in pred]) if pred else set()
    tp = len(gs & ps)
    precision = tp / len(ps) if ps else 0.0
    recall = tp / len(gs) if gs else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1
"""),
    M("span_prf", "averaged over sentences", True, span_prf="""
def span_prf(gold, pred):
    scores = []
    for g, p in zip(gold, pred):
        gs, ps = bio_spans(g), bio_spans(p)
        tp = len(gs & ps)
        pr = tp / len(ps) if ps else 0.0
        rc = tp / len(gs) if gs else 0.0
        scores.append((pr, rc, 2 * pr * rc / (pr + rc) if pr + rc else 0.0))
    if not scores:
        return 0.0, 0.0, 0.0
    return tuple(sum(s[j] for s in scores) / len(scores) for j in range(3))
"""),
    M("span_prf", "the type ignored", True, span_prf=PRF.replace(
        "gs, ps = bio_spans(g), bio_spans(p)",
        "gs, ps = {s[1:] for s in bio_spans(g)}, {s[1:] for s in bio_spans(p)}")),
    M("span_prf", "precision 1 when nothing is predicted", True, span_prf=PRF.replace(
        "precision = tp / n_pred if n_pred > 0 else 0.0", "precision = tp / n_pred if n_pred > 0 else 1.0")),
    M("span_prf", "tokens scored instead of entities", True, span_prf="""
def span_prf(gold, pred):
    tp = n_pred = n_gold = 0
    for g, p in zip(gold, pred):
        for a, b in zip(g, p):
            tp += a == b != "O"
            n_pred += b != "O"
            n_gold += a != "O"
    precision = tp / n_pred if n_pred else 0.0
    recall = tp / n_gold if n_gold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1
"""),
    M("span_prf", "sentences joined with an O between them, F1 as 2tp / (pred + gold)", False, span_prf="""
def span_prf(gold, pred):
    joined_g, joined_p = [], []
    for g, p in zip(gold, pred):
        joined_g += list(g) + ["O"]
        joined_p += list(p) + ["O"]
    gs, ps = bio_spans(joined_g), bio_spans(joined_p)
    tp = len(gs & ps)
    precision = tp / len(ps) if ps else 0.0
    recall = tp / len(gs) if gs else 0.0
    f1 = 2 * tp / (len(ps) + len(gs)) if tp else 0.0
    return (precision, recall, f1)
"""),
    # ---------------------------------------------------------------- q_partial_span
    *choice_mutants("q_partial_span", "c"),
]

# A correct later part keeps its points over a wrong earlier part: its visible test blames the earlier
# part, and its hidden tests, run with the tests' own earlier part, decide (see test_mutants.py).




OWN_MERIT = [
    (M("learn_bpe", "a trainer of its own, over a bpe_pair_counts that ignores the word counts", False,
       **wrong_part(MUTANTS, "bpe_pair_counts", "each distinct word counted once"), learn_bpe=LEARN), "bpe_pair_counts"),
    (M("learn_bpe", "the reference trainer, over a bpe_merge that scans from the right", False,
       **wrong_part(MUTANTS, "bpe_merge", "scanned from right to left")), "bpe_merge"),
    (M("bpe_encode", "the reference encoder, over a bpe_merge that merges the first occurrence only", False,
       **wrong_part(MUTANTS, "bpe_merge", "only the first occurrence")), "bpe_merge"),
    (M("span_prf", "the reference scores, over a bio_spans that drops an I- without its B-", False,
       **wrong_part(MUTANTS, "bio_spans", "I- without B- dropped")), "bio_spans"),
]


# ---------------------------------------------------------------- Part 2: pooling and the classifiers


# ---------------------------------------------------------------- masked_mean
MEAN = """
def masked_mean(x, mask):
    m = mask.unsqueeze(-1).to(x.dtype)
    return (x * m).sum(dim=1) / m.sum(dim=1).clamp(min=1)
"""
MEAN_LOOP = """
def masked_mean(x, mask):
    out = []
    for n in range(x.shape[0]):
        real = x[n][mask[n]]
        out.append(real.mean(dim=0) if len(real) else torch.zeros(x.shape[2], dtype=x.dtype))
    return torch.stack(out)
"""
MEAN_WHERE = """
def masked_mean(x, mask):
    total = torch.where(mask[..., None], x, torch.zeros((), dtype=x.dtype)).sum(1)
    count = mask.sum(1, keepdim=True)
    return torch.where(count > 0, total / count.clamp(min=1), torch.zeros((), dtype=x.dtype))
"""
MUTANTS += [
    M("masked_mean", "a plain mean over T, padding included", True,
      masked_mean="def masked_mean(x, mask):\n    return x.mean(dim=1)\n"),
    M("masked_mean", "the masked sum divided by T", True,
      masked_mean=replaced(MEAN, "m.sum(dim=1).clamp(min=1)", "x.shape[1]")),
    M("masked_mean", "an empty row gives NaN (no clamp)", True,
      masked_mean=replaced(MEAN, ".clamp(min=1)", "")),
    M("masked_mean", "a loop into torch.zeros without dtype: float32 out of float64 in", True,
      masked_mean=replaced(MEAN_LOOP, "out = []", "out = torch.zeros(x.shape[0], x.shape[2])").replace(
          "out.append(real.mean(dim=0) if len(real) else torch.zeros(x.shape[2], dtype=x.dtype))",
          "out[n] = real.mean(dim=0) if len(real) else 0.0").replace("return torch.stack(out)", "return out")),
    M("masked_mean", "averages the first L_n positions, L_n the number of real ones (a prefix assumed)", True,
      masked_mean="""
def masked_mean(x, mask):
    L = mask.sum(1)
    prefix = torch.arange(x.shape[1])[None, :] < L[:, None]
    m = prefix.unsqueeze(-1).to(x.dtype)
    return (x * m).sum(1) / m.sum(1).clamp(min=1)
"""),
    M("masked_mean", "pooling over the wrong axis (the features)", True,
      masked_mean=replaced(MEAN, "(x * m).sum(dim=1) / m.sum(dim=1)", "(x * m).sum(dim=-1) / m.sum(dim=1)")),
    M("masked_mean", "the input x zeroed in place on padding (masked_fill_)", True,
      masked_mean="""
def masked_mean(x, mask):
    x.masked_fill_(~mask[..., None], 0.0)
    return x.sum(1) / mask.sum(1, keepdim=True).clamp(min=1).to(x.dtype)
"""),
    M("masked_mean", "a loop over the sequences", False, masked_mean=MEAN_LOOP),
    M("masked_mean", "torch.where and a guarded division", False, masked_mean=MEAN_WHERE),
]

# ---------------------------------------------------------------- last_state
LAST = """
def last_state(h, lengths):
    index = (lengths - 1).clamp(min=0)
    last = h[torch.arange(h.shape[0]), index]
    return last * (lengths > 0).unsqueeze(1).to(h.dtype)
"""
LAST_GATHER = """
def last_state(h, lengths):
    N, T, H = h.shape
    index = (lengths - 1).clamp(min=0).view(N, 1, 1).expand(N, 1, H)
    last = h.gather(1, index).squeeze(1)
    return torch.where((lengths > 0)[:, None], last, torch.zeros_like(last))
"""
LAST_LOOP = """
def last_state(h, lengths):
    rows = []
    for n in range(h.shape[0]):
        L = int(lengths[n])
        rows.append(h[n, L - 1] if L > 0 else h.new_zeros(h.shape[2]))
    return torch.stack(rows)
"""
MUTANTS += [
    M("last_state", "the last padded step, h[:, -1]", True,
      last_state="def last_state(h, lengths):\n    return h[:, -1]\n"),
    M("last_state", "index lengths instead of lengths - 1 (clamped to T - 1)", True,
      last_state=replaced(LAST, "(lengths - 1).clamp(min=0)", "lengths.clamp(max=h.shape[1] - 1)")),
    M("last_state", "length 0 takes h[n, -1] instead of zeros", True,
      last_state="def last_state(h, lengths):\n    return h[torch.arange(h.shape[0]), lengths - 1]\n"),
    M("last_state", "the first step, h[:, 0]", True,
      last_state="def last_state(h, lengths):\n    return h[:, 0]\n"),
    M("last_state", "h[:, index] without torch.arange: sequence 0's states at every index", True,
      last_state=replaced(LAST, "h[torch.arange(h.shape[0]), index]", "h[:, index][0]")),
    M("last_state", "torch.gather, then torch.where", False, last_state=LAST_GATHER),
    M("last_state", "a loop over the sequences", False, last_state=LAST_LOOP),
]

# ---------------------------------------------------------------- BagOfEmbeddings
BAG = """
class BagOfEmbeddings(nn.Module):
    def __init__(self, embeddings, num_classes, freeze=True):
        super().__init__()
        self.embed = nn.Embedding.from_pretrained(embeddings.clone(), freeze=freeze)
        self.out = nn.Linear(embeddings.shape[1], num_classes)

    def forward(self, ids, lengths):
        mask = torch.arange(ids.shape[1])[None, :] < lengths[:, None]
        return self.out(masked_mean(self.embed(ids), mask))
"""
BAG_MANUAL = """
class BagOfEmbeddings(nn.Module):
    def __init__(self, embeddings, num_classes, freeze=True):
        super().__init__()
        V, E = embeddings.shape
        self.embed = nn.Embedding(V, E, dtype=embeddings.dtype)
        with torch.no_grad():
            self.embed.weight.copy_(embeddings)
        self.embed.weight.requires_grad_(not freeze)
        self.out = nn.Linear(E, num_classes)

    def forward(self, ids, lengths):
        rows = [self.embed(ids[n, :int(L)]).mean(0) for n, L in enumerate(lengths)]
        return self.out(torch.stack(rows))
"""
MUTANTS += [
    M("BagOfEmbeddings", "a plain mean over T, padding included", True,
      BagOfEmbeddings=replaced(BAG, "masked_mean(self.embed(ids), mask)", "self.embed(ids).mean(dim=1)")),
    M("BagOfEmbeddings", "freeze not passed on (from_pretrained freezes by default)", True,
      BagOfEmbeddings=replaced(BAG, "embeddings.clone(), freeze=freeze", "embeddings.clone()")),
    M("BagOfEmbeddings", "shares the caller's tensor (no clone)", True,
      BagOfEmbeddings=replaced(BAG, "embeddings.clone()", "embeddings")),
    M("BagOfEmbeddings", "the word vectors summed, not averaged", True,
      BagOfEmbeddings=replaced(BAG, "masked_mean(self.embed(ids), mask)",
                           "(self.embed(ids) * mask.unsqueeze(-1)).sum(dim=1)")),
    M("BagOfEmbeddings", "a mask off by one (the last real token dropped)", True,
      BagOfEmbeddings=replaced(BAG, "< lengths[:, None]", "< lengths[:, None] - 1")),
    M("BagOfEmbeddings", "nn.Embedding filled by hand, a loop over the sequences", False, BagOfEmbeddings=BAG_MANUAL),
    M("BagOfEmbeddings", "the mask built with <= lengths - 1", False,
      BagOfEmbeddings=replaced(BAG, "< lengths[:, None]", "<= (lengths[:, None] - 1)")),
]

# ---------------------------------------------------------------- LSTMClassifier
LSTM = """
class LSTMClassifier(nn.Module):
    def __init__(self, embeddings, num_classes, hidden_size, freeze=True):
        super().__init__()
        self.embed = nn.Embedding.from_pretrained(embeddings.clone(), freeze=freeze)
        self.lstm = nn.LSTM(embeddings.shape[1], hidden_size, batch_first=True)
        self.out = nn.Linear(hidden_size, num_classes)

    def forward(self, ids, lengths):
        h, _ = self.lstm(self.embed(ids))
        return self.out(last_state(h, lengths))
"""
LSTM_PACKED = """
class LSTMClassifier(nn.Module):
    def __init__(self, embeddings, num_classes, hidden_size, freeze=True):
        super().__init__()
        self.embed = nn.Embedding.from_pretrained(embeddings.detach().clone(), freeze=freeze)
        self.lstm = nn.LSTM(embeddings.shape[1], hidden_size, batch_first=True)
        self.out = nn.Linear(hidden_size, num_classes)

    def forward(self, ids, lengths):
        packed = nn.utils.rnn.pack_padded_sequence(self.embed(ids), lengths.cpu(), batch_first=True,
                                                   enforce_sorted=False)
        _, (h_n, _) = self.lstm(packed)
        return self.out(h_n[-1])
"""
MUTANTS += [
    M("LSTMClassifier", "h_n of the padded batch (the state after step T - 1)", True,
      LSTMClassifier=replaced(LSTM, "h, _ = self.lstm(self.embed(ids))\n        return self.out(last_state(h, lengths))",
                          "_, (h_n, _) = self.lstm(self.embed(ids))\n        return self.out(h_n[-1])")),
    M("LSTMClassifier", "the state at index lengths (one step late, clamped)", True,
      LSTMClassifier=replaced(LSTM, "last_state(h, lengths)",
                          "h[torch.arange(h.shape[0]), lengths.clamp(max=h.shape[1] - 1)]")),
    M("LSTMClassifier", "the mean of the states instead of the last one", True,
      LSTMClassifier=replaced(LSTM, "last_state(h, lengths)",
                          "masked_mean(h, torch.arange(h.shape[1])[None, :] < lengths[:, None])")),
    M("LSTMClassifier", "freeze ignored: the embedding always trained", True,
      LSTMClassifier=replaced(LSTM, "freeze=freeze", "freeze=False")),
    M("LSTMClassifier", "shares the caller's tensor (no clone)", True,
      LSTMClassifier=replaced(LSTM, "embeddings.clone()", "embeddings")),
    M("LSTMClassifier", "packed sequence and h_n", False, LSTMClassifier=LSTM_PACKED),
    M("LSTMClassifier", "a loop over the sequences, each unpadded", False,
      LSTMClassifier=replaced(LSTM, "h, _ = self.lstm(self.embed(ids))\n        return self.out(last_state(h, lengths))",
                          "rows = [self.lstm(self.embed(ids[n:n + 1, :int(L)]))[0][0, -1] for n, L in enumerate(lengths)]\n"
                          "        return self.out(torch.stack(rows))")),
]

# (a correct later part over a wrong earlier one, the earlier part's grade cell): the later part keeps its points
OWN_MERIT += [
    (M("BagOfEmbeddings", "the reference module, over a masked_mean that averages the padding in", False,
       **wrong_part(MUTANTS, "masked_mean", "a plain mean over T, padding included")), "masked_mean"),
    (M("BagOfEmbeddings", "a loop of its own, over a masked_mean that averages the padding in", False,
       **wrong_part(MUTANTS, "masked_mean", "a plain mean over T, padding included"), BagOfEmbeddings=BAG_MANUAL), "masked_mean"),
    (M("LSTMClassifier", "the reference module, over a last_state that takes h[:, -1]", False,
       **wrong_part(MUTANTS, "last_state", "the last padded step, h[:, -1]")), "last_state"),
    (M("LSTMClassifier", "packed sequences, over a last_state that takes h[:, -1]", False,
       **wrong_part(MUTANTS, "last_state", "the last padded step, h[:, -1]"), LSTMClassifier=LSTM_PACKED), "last_state"),
]


# ---------------------------------------------------------------- Parts 3 and 4: the tagger and the CRF
# ---------------------------------------------------------------- building blocks (correct)
TAGGER = '''
class BiLSTMTagger(nn.Module):
    def __init__(self, vocab_size, num_tags, embed_size, hidden_size):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, embed_size)
        self.lstm = nn.LSTM(embed_size, hidden_size, batch_first=True, bidirectional=True)
        self.out = nn.Linear(2 * hidden_size, num_tags)

    def forward(self, tokens, mask):
        lengths = mask.sum(1).cpu()
        x = self.embed(tokens)
        packed = nn.utils.rnn.pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
        h, _ = self.lstm(packed)
        h, _ = nn.utils.rnn.pad_packed_sequence(h, batch_first=True, total_length=tokens.shape[1])
        return self.out(h)
'''

CE = '''
def tagger_cross_entropy(emissions, tags, mask):
    logp = torch.log_softmax(emissions, dim=2)
    gold = logp.gather(2, tags.unsqueeze(2)).squeeze(2)
    return -(gold * mask).sum() / mask.sum()
'''

LOGZ = '''
def crf_log_partition(emissions, mask, transitions, start, end):
    N, T, K = emissions.shape
    alpha = start.unsqueeze(0) + emissions[:, 0, :]
    for t in range(1, T):
        nxt = torch.logsumexp(alpha.unsqueeze(2) + transitions.unsqueeze(0), dim=1) + emissions[:, t, :]
        keep = mask[:, t].unsqueeze(1)
        alpha = torch.where(keep, nxt, alpha)
    return torch.logsumexp(alpha + end.unsqueeze(0), dim=1)
'''

SCORE = '''
def crf_score(emissions, tags, mask, transitions, start, end):
    N, T, K = emissions.shape
    m = mask.to(emissions.dtype)
    lengths = mask.sum(1)
    s = start[tags[:, 0]]
    s = s + (emissions.gather(2, tags.unsqueeze(2)).squeeze(2) * m).sum(1)
    if T > 1:
        s = s + (transitions[tags[:, :-1], tags[:, 1:]] * m[:, 1:]).sum(1)
    last = tags[torch.arange(N), lengths - 1]
    return s + end[last]
'''

NLL = '''
def crf_nll(emissions, tags, mask, transitions, start, end):
    log_Z = crf_log_partition(emissions, mask, transitions, start, end)
    gold = crf_score(emissions, tags, mask, transitions, start, end)
    return (log_Z - gold).mean()
'''

VITERBI = '''
def crf_viterbi(emissions, mask, transitions, start, end):
    N, T, K = emissions.shape
    delta = start + emissions[:, 0]
    pointers = []
    for t in range(1, T):
        best, arg = (delta.unsqueeze(2) + transitions).max(dim=1)
        delta = torch.where(mask[:, t].unsqueeze(1), best + emissions[:, t], delta)
        pointers.append(arg)
    best_score, last = (delta + end).max(dim=1)
    lengths = mask.sum(1).tolist()
    paths = []
    for n in range(N):
        tag = int(last[n])
        path = [tag]
        for t in range(lengths[n] - 1, 0, -1):
            tag = int(pointers[t - 1][n, tag])
            path.append(tag)
        path.reverse()
        paths.append(path)
    return best_score, paths
'''

NLL_INLINE = '''
def crf_nll(emissions, tags, mask, transitions, start, end):
    N, T, K = emissions.shape
    losses = []
    for n in range(N):
        L = int(mask[n].sum())
        alpha = start + emissions[n, 0]
        for t in range(1, L):
            new = alpha[0] + transitions[0]
            for i in range(1, K):
                new = torch.logaddexp(new, alpha[i] + transitions[i])
            alpha = new + emissions[n, t]
        log_Z = torch.logsumexp(alpha + end, dim=0)
        y = tags[n, :L]
        gold = start[y[0]] + emissions[n, torch.arange(L), y].sum() + transitions[y[:-1], y[1:]].sum() + end[y[-1]]
        losses.append(log_Z - gold)
    return torch.stack(losses).sum() / N
'''

MUTANTS += [
    # ---------------------------------------------------------------- BiLSTMTagger
    M("BiLSTMTagger", "no packing: the backward direction reads the padding", True, BiLSTMTagger=TAGGER.replace(
        "        packed = nn.utils.rnn.pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)\n"
        "        h, _ = self.lstm(packed)\n"
        "        h, _ = nn.utils.rnn.pad_packed_sequence(h, batch_first=True, total_length=tokens.shape[1])\n",
        "        h, _ = self.lstm(x)\n")),
    M("BiLSTMTagger", "padded embeddings zeroed instead of packing", True, BiLSTMTagger=TAGGER.replace(
        "        packed = nn.utils.rnn.pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)\n"
        "        h, _ = self.lstm(packed)\n"
        "        h, _ = nn.utils.rnn.pad_packed_sequence(h, batch_first=True, total_length=tokens.shape[1])\n",
        "        h, _ = self.lstm(x * mask.unsqueeze(2).to(x.dtype))\n")),
    M("BiLSTMTagger", "pad_packed_sequence without total_length", True, BiLSTMTagger=TAGGER.replace(
        ", total_length=tokens.shape[1])", ")")),
    M("BiLSTMTagger", "lengths one short", True, BiLSTMTagger=TAGGER.replace(
        "lengths = mask.sum(1).cpu()", "lengths = (mask.sum(1) - 1).clamp(min=1).cpu()")),
    M("BiLSTMTagger", "a one-way LSTM of size 2H instead of a bidirectional one", True, BiLSTMTagger=TAGGER.replace(
        "nn.LSTM(embed_size, hidden_size, batch_first=True, bidirectional=True)",
        "nn.LSTM(embed_size, 2 * hidden_size, batch_first=True)")),
    M("BiLSTMTagger", "the output layer reads the forward states only", True, BiLSTMTagger=TAGGER.replace(
        "        return self.out(h)", "        H = h.shape[2] // 2\n"
                                      "        return self.out(torch.cat([h[..., :H], torch.zeros_like(h[..., H:])], dim=2))")),
    M("BiLSTMTagger", "each sentence alone through the LSTM, in a loop", False, BiLSTMTagger=TAGGER.replace(
        "        lengths = mask.sum(1).cpu()\n"
        "        x = self.embed(tokens)\n"
        "        packed = nn.utils.rnn.pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)\n"
        "        h, _ = self.lstm(packed)\n"
        "        h, _ = nn.utils.rnn.pad_packed_sequence(h, batch_first=True, total_length=tokens.shape[1])\n",
        "        T = tokens.shape[1]\n"
        "        rows = []\n"
        "        for n in range(tokens.shape[0]):\n"
        "            L = int(mask[n].sum())\n"
        "            out, _ = self.lstm(self.embed(tokens[n, :L]).unsqueeze(0))\n"
        "            rows.append(F.pad(out[0], (0, 0, 0, T - L)))\n"
        "        h = torch.stack(rows)\n")),
    M("BiLSTMTagger", "sorted by length and unsorted by hand", False, BiLSTMTagger=TAGGER.replace(
        "        packed = nn.utils.rnn.pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)\n"
        "        h, _ = self.lstm(packed)\n"
        "        h, _ = nn.utils.rnn.pad_packed_sequence(h, batch_first=True, total_length=tokens.shape[1])\n",
        "        order = torch.argsort(lengths, descending=True)\n"
        "        packed = nn.utils.rnn.pack_padded_sequence(x[order.to(x.device)], lengths[order], batch_first=True)\n"
        "        h, _ = self.lstm(packed)\n"
        "        h, _ = nn.utils.rnn.pad_packed_sequence(h, batch_first=True, total_length=tokens.shape[1])\n"
        "        h = h[torch.argsort(order).to(h.device)]\n")),

    # ---------------------------------------------------------------- tagger_cross_entropy
    M("tagger_cross_entropy", "mean over all N * T positions", True, tagger_cross_entropy='''
def tagger_cross_entropy(emissions, tags, mask):
    K = emissions.shape[2]
    return F.cross_entropy(emissions.reshape(-1, K), tags.reshape(-1))
'''),
    M("tagger_cross_entropy", "summed instead of averaged", True, tagger_cross_entropy=CE.replace(
        "return -(gold * mask).sum() / mask.sum()", "return -(gold * mask).sum()")),
    M("tagger_cross_entropy", "mean per sentence, then over sentences", True, tagger_cross_entropy=CE.replace(
        "return -(gold * mask).sum() / mask.sum()", "return (-(gold * mask).sum(1) / mask.sum(1)).mean()")),
    M("tagger_cross_entropy", "softmax over the time axis", True, tagger_cross_entropy=CE.replace(
        "torch.log_softmax(emissions, dim=2)", "torch.log_softmax(emissions, dim=1)")),
    M("tagger_cross_entropy", "no log-softmax", True, tagger_cross_entropy=CE.replace(
        "torch.log_softmax(emissions, dim=2)", "emissions")),
    M("tagger_cross_entropy", "F.cross_entropy on the real tokens", False, tagger_cross_entropy='''
def tagger_cross_entropy(emissions, tags, mask):
    return F.cross_entropy(emissions[mask], tags[mask])
'''),
    M("tagger_cross_entropy", "logsumexp by hand, float mask", False, tagger_cross_entropy='''
def tagger_cross_entropy(emissions, tags, mask):
    m = mask.to(emissions.dtype)
    picked = torch.gather(emissions, 2, tags[..., None])[..., 0]
    per_token = torch.logsumexp(emissions, dim=-1) - picked
    return torch.sum(per_token * m) / torch.sum(m)
'''),

    # ---------------------------------------------------------------- crf_log_partition
    M("crf_log_partition", "start and end scores left out", True, crf_log_partition=LOGZ.replace(
        "alpha = start.unsqueeze(0) + emissions[:, 0, :]", "alpha = emissions[:, 0, :]").replace(
        "torch.logsumexp(alpha + end.unsqueeze(0), dim=1)", "torch.logsumexp(alpha, dim=1)")),
    M("crf_log_partition", "end score left out", True, crf_log_partition=LOGZ.replace(
        "torch.logsumexp(alpha + end.unsqueeze(0), dim=1)", "torch.logsumexp(alpha, dim=1)")),
    M("crf_log_partition", "max instead of logsumexp", True, crf_log_partition=LOGZ.replace(
        "nxt = torch.logsumexp(alpha.unsqueeze(2) + transitions.unsqueeze(0), dim=1)",
        "nxt = torch.max(alpha.unsqueeze(2) + transitions.unsqueeze(0), dim=1).values")),
    M("crf_log_partition", "padding not masked", True, crf_log_partition=LOGZ.replace(
        "alpha = torch.where(keep, nxt, alpha)", "alpha = nxt")),
    M("crf_log_partition", "logsumexp over the next tag instead of the previous one", True,
      crf_log_partition=LOGZ.replace("transitions.unsqueeze(0), dim=1)", "transitions.unsqueeze(0), dim=2)")),
    M("crf_log_partition", "naive log(sum(exp)) overflows", True, crf_log_partition=LOGZ.replace(
        "nxt = torch.logsumexp(alpha.unsqueeze(2) + transitions.unsqueeze(0), dim=1)",
        "nxt = torch.log(torch.exp(alpha.unsqueeze(2) + transitions.unsqueeze(0)).sum(dim=1))")),
    M("crf_log_partition", "padded emissions zeroed but padded steps still taken", True, crf_log_partition=LOGZ.replace(
        "+ emissions[:, t, :]", "+ emissions[:, t, :] * mask[:, t].unsqueeze(1)").replace(
        "alpha = torch.where(keep, nxt, alpha)", "alpha = nxt")),
    M("crf_log_partition", "each sentence alone, torch.logaddexp over the previous tags", False, crf_log_partition='''
def crf_log_partition(emissions, mask, transitions, start, end):
    N, T, K = emissions.shape
    out = []
    for n in range(N):
        L = int(mask[n].sum())
        alpha = [start[j] + emissions[n, 0, j] for j in range(K)]
        for t in range(1, L):
            new = []
            for j in range(K):
                acc = alpha[0] + transitions[0, j]
                for i in range(1, K):
                    acc = torch.logaddexp(acc, alpha[i] + transitions[i, j])
                new.append(acc + emissions[n, t, j])
            alpha = new
        total = alpha[0] + end[0]
        for j in range(1, K):
            total = torch.logaddexp(total, alpha[j] + end[j])
        out.append(total)
    return torch.stack(out)
'''),
    M("crf_log_partition", "multiplicative masking", False, crf_log_partition=LOGZ.replace(
        "        keep = mask[:, t].unsqueeze(1)\n        alpha = torch.where(keep, nxt, alpha)\n",
        "        m = mask[:, t].unsqueeze(1).to(alpha.dtype)\n        alpha = m * nxt + (1 - m) * alpha\n")),

    # ---------------------------------------------------------------- crf_score
    M("crf_score", "end score left out", True, crf_score=SCORE.replace("return s + end[last]", "return s")),
    M("crf_score", "end score at the padded last position", True, crf_score=SCORE.replace(
        "last = tags[torch.arange(N), lengths - 1]", "last = tags[:, -1]")),
    M("crf_score", "transitions transposed", True, crf_score=SCORE.replace(
        "transitions[tags[:, :-1], tags[:, 1:]]", "transitions[tags[:, 1:], tags[:, :-1]]")),
    M("crf_score", "padding counted", True, crf_score=SCORE.replace(
        "m = mask.to(emissions.dtype)", "m = torch.ones_like(mask, dtype=emissions.dtype)")),
    M("crf_score", "transitions masked with the earlier tag's mask", True, crf_score=SCORE.replace(
        "* m[:, 1:]).sum(1)", "* m[:, :-1]).sum(1)")),
    M("crf_score", "last real token's emission left out", True, crf_score='''
def crf_score(emissions, tags, mask, transitions, start, end):
    out = []
    for n in range(len(mask)):
        L = int(mask[n].sum())
        y = tags[n]
        s = start[y[0]] + end[y[L - 1]]
        for t in range(L - 1):
            s = s + emissions[n, t, y[t]]
        for t in range(1, L):
            s = s + transitions[y[t - 1], y[t]]
        out.append(s)
    return torch.stack(out)
'''),
    M("crf_score", "a loop over each sentence's positions", False, crf_score='''
def crf_score(emissions, tags, mask, transitions, start, end):
    out = []
    for n in range(len(mask)):
        L = int(mask[n].sum())
        y = tags[n]
        s = start[y[0]] + end[y[L - 1]]
        for t in range(L):
            s = s + emissions[n, t, y[t]]
        for t in range(1, L):
            s = s + transitions[y[t - 1], y[t]]
        out.append(s)
    return torch.stack(out)
'''),
    M("crf_score", "one-hot sums", False, crf_score='''
def crf_score(emissions, tags, mask, transitions, start, end):
    K = emissions.shape[2]
    onehot = F.one_hot(tags, K).to(emissions.dtype) * mask.unsqueeze(2).to(emissions.dtype)   # (N, T, K)
    s = (onehot * emissions).sum(dim=(1, 2)) + onehot[:, 0] @ start
    pairs = onehot[:, :-1].unsqueeze(3) * onehot[:, 1:].unsqueeze(2)                        # (N, T-1, K, K)
    s = s + (pairs * transitions).sum(dim=(1, 2, 3))
    is_last = mask & ~torch.cat([mask[:, 1:], torch.zeros_like(mask[:, :1])], dim=1)
    return s + (onehot * is_last.unsqueeze(2).to(emissions.dtype)).sum(1) @ end
'''),

    # ---------------------------------------------------------------- crf_nll
    M("crf_nll", "wrong sign", True, crf_nll=NLL.replace("(log_Z - gold).mean()", "(gold - log_Z).mean()")),
    M("crf_nll", "summed over the sentences", True, crf_nll=NLL.replace("(log_Z - gold).mean()", "(log_Z - gold).sum()")),
    M("crf_nll", "divided by each sentence's length", True, crf_nll=NLL.replace(
        "(log_Z - gold).mean()", "((log_Z - gold) / mask.sum(1)).mean()")),
    M("crf_nll", "log Z by max (Viterbi's score)", True, crf_nll='''
def crf_nll(emissions, tags, mask, transitions, start, end):
    alpha = start + emissions[:, 0]
    for t in range(1, emissions.shape[1]):
        nxt = (alpha.unsqueeze(2) + transitions).max(dim=1).values + emissions[:, t]
        alpha = torch.where(mask[:, t].unsqueeze(1), nxt, alpha)
    best = (alpha + end).max(dim=1).values
    return (best - crf_score(emissions, tags, mask, transitions, start, end)).mean()
'''),
    M("crf_nll", "everything inlined, torch.logaddexp", False, crf_nll=NLL_INLINE),

    # ---------------------------------------------------------------- crf_viterbi
    M("crf_viterbi", "path not reversed after the walk back", True, crf_viterbi=VITERBI.replace(
        "        path.reverse()\n", "")),
    M("crf_viterbi", "transitions ignored in the search", True, crf_viterbi=VITERBI.replace(
        "(delta.unsqueeze(2) + transitions).max(dim=1)", "(delta.unsqueeze(2) + 0 * transitions).max(dim=1)")),
    M("crf_viterbi", "end score left out", True, crf_viterbi=VITERBI.replace(
        "best_score, last = (delta + end).max(dim=1)", "best_score, last = delta.max(dim=1)")),
    M("crf_viterbi", "padded steps not masked", True, crf_viterbi=VITERBI.replace(
        "delta = torch.where(mask[:, t].unsqueeze(1), best + emissions[:, t], delta)",
        "delta = best + emissions[:, t]").replace(
        "        for t in range(lengths[n] - 1, 0, -1):", "        for t in range(T - 1, 0, -1):").replace(
        "        paths.append(path)", "        paths.append(path[:lengths[n]])")),
    M("crf_viterbi", "walk back stops one step early", True, crf_viterbi=VITERBI.replace(
        "for t in range(lengths[n] - 1, 0, -1):", "for t in range(lengths[n] - 1, 1, -1):")),
    M("crf_viterbi", "backpointers of the wrong step", True, crf_viterbi=VITERBI.replace(
        "tag = int(pointers[t - 1][n, tag])", "tag = int(pointers[min(t, len(pointers) - 1)][n, tag])")),
    M("crf_viterbi", "each sentence alone, in numpy", False, crf_viterbi='''
def crf_viterbi(emissions, mask, transitions, start, end):
    E = emissions.detach().cpu().numpy()
    A, S, W = (a.detach().cpu().numpy() for a in (transitions, start, end))
    scores, paths = [], []
    for n in range(E.shape[0]):
        L = int(mask[n].sum())
        delta = S + E[n, 0]
        back = []
        for t in range(1, L):
            cand = delta[:, None] + A
            back.append(cand.argmax(axis=0))
            delta = cand.max(axis=0) + E[n, t]
        final = delta + W
        tag = int(final.argmax())
        scores.append(final[tag])
        path = [tag]
        for b in reversed(back):
            tag = int(b[tag])
            path.insert(0, tag)
        paths.append(path)
    return torch.tensor(scores, dtype=emissions.dtype, device=emissions.device), paths
'''),
    M("crf_viterbi", "backtracking on a tensor, paths as tensors", False, crf_viterbi='''
def crf_viterbi(emissions, mask, transitions, start, end):
    N, T, K = emissions.shape
    delta = start + emissions[:, 0]
    pointers = torch.zeros(N, T, K, dtype=torch.long, device=emissions.device)
    for t in range(1, T):
        best, arg = (delta[:, :, None] + transitions[None]).max(dim=1)
        keep = mask[:, t, None]
        delta = torch.where(keep, best + emissions[:, t], delta)
        pointers[:, t] = arg
    best_score, tag = (delta + end).max(dim=1)
    lengths = mask.sum(1)
    out = torch.zeros(N, T, dtype=torch.long, device=emissions.device)
    rows = torch.arange(N, device=emissions.device)
    for t in range(T - 1, -1, -1):
        inside = t <= lengths - 1
        out[:, t] = torch.where(inside, tag, out[:, t])
        if t > 0:
            tag = torch.where(inside, pointers[rows, t, tag], tag)
    return best_score, [out[n, :int(lengths[n])] for n in range(N)]
'''),
]

# A correct later part keeps its points over a wrong earlier part: its visible test blames the earlier
# part, and its hidden tests, run with the tests' own earlier part, decide (see OWN_MERIT in mutants_01_rnn.py).
OWN_MERIT += [
    (M("crf_nll", "the reference loss, over a crf_log_partition without start and end", False,
       **wrong_part(MUTANTS, "crf_log_partition", "start and end scores left out")), "crf_log_partition"),
    (M("crf_nll", "the reference loss, over a crf_score without the end score", False,
       **wrong_part(MUTANTS, "crf_score", "end score left out")), "crf_score"),
    (M("crf_nll", "everything inlined, over a crf_score with transposed transitions", False,
       **wrong_part(MUTANTS, "crf_score", "transitions transposed"), crf_nll=NLL_INLINE), "crf_score"),
    (M("crf_viterbi", "best score by crf_score of the path, over a crf_score without the end score", False,
       **wrong_part(MUTANTS, "crf_score", "end score left out"),
       crf_viterbi=VITERBI.replace("    return best_score, paths", """    tags = torch.tensor([p + [0] * (T - len(p)) for p in paths], device=emissions.device)
    return crf_score(emissions, tags, mask, transitions, start, end), paths""")), "crf_score"),
]
