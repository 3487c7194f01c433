"""Lab 3's skip-gram (the reference functions in solutions/03_word_embeddings.ipynb, trained by
``seqlab.embeddings.train_sgns``) against ``gensim.models.Word2Vec`` on the lab corpus.

Both train on the same tokens with the same dimension, window, negatives, epochs, min count and
subsampling threshold, on one thread each. Prints each model's Google-analogy accuracy (questions
with all four words in the vocabulary), WordSim353 and SimLex999 Spearman, training seconds, and
the ratios ours / gensim (targets: quality >= 0.9x, time within 3x).

    python benchmarks/word2vec_vs_gensim.py [--corpus shakespeare --epochs 5 --seed 0]
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from labharness import solution_namespace  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", default="shakespeare")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--dim", type=int, default=50)
    parser.add_argument("--window", type=int, default=5)
    parser.add_argument("--negatives", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch", type=int, default=256, help="pairs per SGD step (the lab uses 256)")
    parser.add_argument("--lr", type=float, default=0.05,
                        help="initial learning rate of ours (the lab uses 0.05; gensim keeps word2vec's 0.025)")
    args = parser.parse_args()
    os.environ.setdefault("TQDM_DISABLE", "1")
    import torch
    torch.set_num_threads(1)
    from gensim.models import Word2Vec

    from seqlab.embeddings import load_analogies, load_corpus, load_word_pairs, train_sgns

    ref = solution_namespace("03_word_embeddings")
    tokens = load_corpus(args.corpus)
    itos, counts, keep = ref["build_vocab"](tokens, 5, 1e-3)
    stoi = {w: i for i, w in enumerate(itos)}
    ids = np.array([stoi[w] for w in tokens if w in stoi])
    rng = np.random.default_rng(args.seed + 1)

    def make_pairs(epoch):
        kept = ids[rng.random(len(ids)) < keep[ids]]
        return ref["skipgram_pairs"](kept, args.window, rng)

    start = time.perf_counter()
    W_in, _, _ = train_sgns(make_pairs, ref["negative_sampling_distribution"](counts), ref["sgns_loss_and_grads"],
                            E=args.dim, negatives=args.negatives, epochs=args.epochs, batch_size=args.batch, lr=args.lr,
                            seed=args.seed)
    ours_s = time.perf_counter() - start
    in_vocab = [w for w in tokens if w in stoi]
    start = time.perf_counter()
    w2v = Word2Vec([in_vocab[i:i + 1000] for i in range(0, len(in_vocab), 1000)], vector_size=args.dim,
                   window=args.window, negative=args.negatives, sg=1, min_count=5, sample=1e-3,
                   epochs=args.epochs, workers=1, seed=args.seed)
    gensim_s = time.perf_counter() - start
    W_g = np.array([w2v.wv[w] for w in itos], dtype=np.float64)

    questions = [q for q in load_analogies() if all(w in stoi for w in q[1:])]
    q = np.array([[stoi[w] for w in row[1:]] for row in questions])
    sims = {name: load_word_pairs(name) for name in ("wordsim353", "simlex999")}

    def scores(W):
        acc = float(np.mean(ref["analogy"](W, q[:, 0], q[:, 1], q[:, 2]) == q[:, 3])) if len(q) else float("nan")
        unit = W / np.linalg.norm(W, axis=1, keepdims=True)
        out = {"analogy": acc}
        for name, (pairs, human) in sims.items():
            k = [i for i, (a, b) in enumerate(pairs) if a in stoi and b in stoi]
            cos = np.array([unit[stoi[pairs[i][0]]] @ unit[stoi[pairs[i][1]]] for i in k])
            out[name] = ref["spearman"](cos, human[k])
        return out

    ours, theirs = scores(W_in), scores(W_g)
    print(f"corpus {args.corpus}: {len(tokens):,} tokens, V = {len(itos):,}, {len(q)} analogy questions in vocabulary; "
          f"E={args.dim}, window={args.window}, K={args.negatives}, epochs={args.epochs}, batch={args.batch}, lr={args.lr}, {os.cpu_count()} CPU cores; "
          f"load average {os.getloadavg()[0]:.2f}")
    print(f"{'':<12}{'ours':>10}{'gensim':>10}{'ratio':>8}")
    for key in ("analogy", "wordsim353", "simlex999"):
        print(f"{key:<12}{ours[key]:>10.3f}{theirs[key]:>10.3f}{ours[key] / theirs[key]:>8.2f}")
    print(f"{'train s':<12}{ours_s:>10.1f}{gensim_s:>10.1f}{ours_s / gensim_s:>8.2f}")


if __name__ == "__main__":
    main()
