"""Lab 7's byte-pair encoder (`learn_bpe`, `bpe_encode` in solutions/07_language.ipynb) against Hugging
Face's ``tokenizers`` (``BpeTrainer`` and its BPE model), trained with the same settings on the same text.

Set up as in tests/test_language_bpe.py, where the two are shown to agree: tokenizers sees the UTF-8 bytes
of the text written as Latin-1 characters, with the 256 bytes as its initial alphabet (so byte b gets id
b), no special tokens, ``min_frequency=0``, and the lab's ``WORD_PATTERN`` as a ``Split`` pre-tokeniser.
Both start from the raw text: ours is timed for ``word_counts`` + ``learn_bpe``, tokenizers for
``train_from_iterator``. For each corpus and number of merges M the script checks that the merges are
the same, one for one, and that both encode a held-out play (*The Tempest*, in no training corpus) to
the same ids; then it prints the training and encoding times (medians of --repeats runs, after one
warm-up) and the ratios ours / tokenizers. The issue's aims: correctness equal, training within 50x.

What pure Python is expected to lose to Rust: the lab's learn_bpe is the textbook algorithm, which
recounts every pair of every distinct word and rewrites every word after each merge, so training costs
about M x (the symbols of all distinct words) dictionary operations in the interpreter, at tens of
nanoseconds each. tokenizers counts the pairs once, keeps a priority queue of pairs and an index from
each pair to the words holding it, and after a merge updates only those words, in compiled code: its
cost grows with the number of changes, not with M x the distinct words. So the training ratio is not a
constant factor: expect it in the hundreds, growing with M. Encoding is much closer: both merge within
each pre-token by rank (ours with a Python loop per pre-token, tokenizers with a cache of words already
seen), and tokenizers also pays for its Split regex, offsets and an Encoding object; expect a small
factor. tokenizers runs on one thread (TOKENIZERS_PARALLELISM=false), as ours does. Ours is timed
without a warm-up run (it has nothing to warm up; each run takes seconds), the rest after one.

    python benchmarks/bpe_vs_tokenizers.py [--repeats 3]
"""
from __future__ import annotations

import argparse
import contextlib
import heapq
import io
import json
import os
import statistics
import time

os.environ["TOKENIZERS_PARALLELISM"] = "false"   # one thread for tokenizers, as for ours; set before import

from common import solution_namespace  # noqa: E402

HELD_OUT = "the-tempest"
# (label, plays whose text is joined, characters kept (None: all), merges M)
CONFIGS = [("Hamlet, first 40k chars", ("hamlet",), 40_000, 200),
           ("Hamlet", ("hamlet",), None, 500),
           ("Hamlet", ("hamlet",), None, 1000),
           ("4 tragedies", ("hamlet", "macbeth", "othello", "king-lear"), None, 1000)]


def latin1(data: bytes) -> str:
    return bytes(data).decode("latin-1")


def hf_train(text: str, num_merges: int, pattern: str):
    """tokenizers' BPE trained on text: the trained Tokenizer (it keeps the pre-tokeniser for encoding)."""
    from tokenizers import Regex, Tokenizer, models, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.Split(Regex(pattern), behavior="isolated")
    trainer = trainers.BpeTrainer(vocab_size=256 + num_merges, initial_alphabet=[chr(b) for b in range(256)],
                                  min_frequency=0, show_progress=False, special_tokens=[])
    tokenizer.train_from_iterator([latin1(text.encode("utf-8"))], trainer)
    return tokenizer


def hf_merges(tokenizer) -> list:
    """The trained merges as pairs of ids (tokenizers >= 0.20 saves them as pairs of strings)."""
    model = json.loads(tokenizer.to_str())["model"]
    return [tuple(model["vocab"][s] for s in m) for m in model["merges"]]


def learn_bpe_incremental(corpus: dict, num_merges: int) -> list:
    """The lab's merges (highest count, then the smallest pair), learned as real trainers learn them.

    Pure Python like the lab's learn_bpe, but the pair counts are kept from one merge to the next:
    an index from each pair to the words holding it says which words a merge touches, only those
    words' pairs are recounted, and a heap of (-count, pair) with stale entries skipped on the way
    out gives the best pair without scanning every count. The learn_bpe_md cell allows this.
    """
    words = [tuple(w) for w in corpus]
    freq = list(corpus.values())
    counts, where = {}, {}
    for i, w in enumerate(words):
        for pair in zip(w, w[1:]):
            counts[pair] = counts.get(pair, 0) + freq[i]
            where.setdefault(pair, set()).add(i)
    heap = [(-c, pair) for pair, c in counts.items()]
    heapq.heapify(heap)
    merges = []
    while len(merges) < num_merges and heap:
        neg, best = heapq.heappop(heap)
        if counts.get(best, 0) != -neg or neg == 0:
            continue                                    # a stale entry: the count has changed since
        new_id = 256 + len(merges)
        merges.append(best)
        changed = set()
        for i in where.pop(best, ()):
            w, n = words[i], freq[i]
            for pair in zip(w, w[1:]):
                counts[pair] -= n
                changed.add(pair)
            out, j = [], 0
            while j < len(w):
                if j + 1 < len(w) and (w[j], w[j + 1]) == best:
                    out.append(new_id)
                    j += 2
                else:
                    out.append(w[j])
                    j += 1
            words[i] = w = tuple(out)
            for pair in zip(w, w[1:]):
                counts[pair] = counts.get(pair, 0) + n
                where.setdefault(pair, set()).add(i)
                changed.add(pair)
        for pair in changed:
            if counts.get(pair, 0) > 0:
                heapq.heappush(heap, (-counts[pair], pair))
    return merges


def timed(fn, repeats: int, warm_up: bool = True):
    """(median seconds over ``repeats`` calls, after one warm-up call if asked; the last call's result)."""
    out = fn() if warm_up else None
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    import tokenizers

    with contextlib.redirect_stdout(io.StringIO()):   # the lab's setup cell prints its own banner
        lab = solution_namespace("07_language")
    plays, pattern = lab["plays"], lab["WORD_PATTERN"]
    held_out = plays[HELD_OUT]
    print(f"tokenizers {tokenizers.__version__} (one thread) against the lab's learn_bpe / bpe_encode; "
          f"{os.cpu_count()} CPU cores, load average {os.getloadavg()[0]:.2f}; medians of {args.repeats} runs")
    print(f"encoding: {HELD_OUT} ({len(held_out):,} characters), held out from every training corpus")
    print(f"{'corpus':<24} {'chars':>9} {'M':>5} {'same':>5} | {'train ours':>10} {'tokenizers':>10} {'ratio':>6} "
          f"| {'incremental':>11} {'ratio':>6} | {'encode ours':>11} {'tokenizers':>10} {'ratio':>6}")
    worst = worst_incremental = 0.0
    for label, names, keep, M in CONFIGS:
        text = "".join(plays[n] for n in names)[:keep]
        t_ours, ours = timed(lambda: lab["learn_bpe"](lab["word_counts"](text), M), args.repeats, warm_up=False)
        t_hf, tok = timed(lambda: hf_train(text, M, pattern), args.repeats)
        theirs = hf_merges(tok)
        t_inc, incremental = timed(lambda: learn_bpe_incremental(lab["word_counts"](text), M), args.repeats,
                                   warm_up=False)
        e_ours, ids_ours = timed(lambda: lab["bpe_encode"](held_out, ours), args.repeats)
        data = latin1(held_out.encode("utf-8"))
        e_hf, enc = timed(lambda: tok.encode(data), args.repeats)
        same = ours == theirs == incremental and ids_ours == enc.ids
        if not same:
            k = next((k for k, (a, b) in enumerate(zip(ours, theirs)) if a != b), min(len(ours), len(theirs)))
            print(f"  DIFFERENT: {len(ours)} / {len(theirs)} merges, first difference at merge {k}; "
                  f"incremental equal: {incremental == ours}; ids equal: {ids_ours == enc.ids}")
        worst = max(worst, t_ours / t_hf)
        worst_incremental = max(worst_incremental, t_inc / t_hf)
        print(f"{label:<24} {len(text):>9,} {M:>5} {'yes' if same else 'NO':>5} | {t_ours:>9.2f}s {t_hf:>9.3f}s "
              f"{t_ours / t_hf:>6.0f} | {t_inc:>10.2f}s {t_inc / t_hf:>6.0f} "
              f"| {e_ours:>10.3f}s {e_hf:>9.4f}s {e_ours / e_hf:>6.1f}")
    for name, ratio in (("the lab's learn_bpe (recounts every pair after each merge)", worst),
                        ("incremental pure Python (pair index and heap)", worst_incremental)):
        print(f"training aim (within 50x of tokenizers), {name}: {'met' if ratio <= 50 else 'not met'}, "
              f"worst ratio {ratio:.0f}x")


if __name__ == "__main__":
    main()
