"""Linear baselines from scikit-learn for Lab 7's two real tasks, trained in this run on the lab's own splits.

A named peer for the figures of solutions/07_language.ipynb (its reading cells, full-budget run: naive
Bayes 58.7% / 49.6% accuracy on the validation / test plays, the LSTM over fine-tuned GloVe 55.4% /
45.6%; the BiLSTM + CRF tagger 0.673 span F1 on the test documents). scikit-learn is not a dependency of
seqlab: it comes into the venv with seqeval (the dev extra), which scores the tagging spans here.

- Which kind of play (``seqlab.language.shakespeare_speeches(min_words=8)``, seed 0, split by play, the
  lab's GloVe tokens): the majority class; multinomial naive Bayes over word counts (add-one smoothing,
  the lab's own baseline, refitted here as a check); over word and word-pair counts; logistic regression
  over TF-IDF of words and word pairs, and of character 2-5-grams. Logistic regression's C is picked on
  the validation plays from a small grid; accuracy and macro-F1 on the validation and test plays.
- Proper names in Turkish (``turkish_names(seed=0)``, split by document): a rule (a capitalised word
  that does not open its sentence is a name word), and per-token logistic regression over simple word
  features (the word, lower-cased, capitalisation, digits, apostrophe, first/last 1-3 characters, the
  words either side and whether the word opens the sentence; no part-of-speech tags, which the lab's
  taggers do not see either). Each word gets B-NAME, I-NAME or O on its own, with no transition model;
  scored as span precision, recall and F1 by seqeval (conlleval's rules, micro average), with the
  number of illegal I-NAMEs (after O or first in a sentence) that a tagger without a CRF can emit.

    python benchmarks/language_baselines.py
"""
from __future__ import annotations

import argparse
import os
import time

import common  # noqa: F401  (first: one BLAS thread, as in the other benchmarks)
import numpy as np


def classification(rows: list) -> None:
    from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import accuracy_score, f1_score
    from sklearn.naive_bayes import MultinomialNB

    from seqlab.language import shakespeare_speeches

    data = shakespeare_speeches(min_words=8)
    X = {s: [tokens for tokens, _ in getattr(data, s)] for s in ("train", "val", "test")}
    y = {s: np.array([label for _, label in getattr(data, s)]) for s in ("train", "val", "test")}
    print(f"speeches: {len(y['train']):,} train / {len(y['val']):,} val / {len(y['test']):,} test; "
          f"val plays {', '.join(data.plays['val'])}; test plays {', '.join(data.plays['test'])}")

    def score(pred, s):
        return accuracy_score(y[s], pred), f1_score(y[s], pred, average="macro", zero_division=0)

    def words(ngrams):
        return dict(analyzer=lambda t: list(t) if ngrams == 1 else list(t) + [f"{a} {b}" for a, b in zip(t, t[1:])])

    majority = np.bincount(y["train"]).argmax()
    rows.append(("majority class", "", *(x for s in ("val", "test") for x in score(np.full(len(y[s]), majority), s)), 0.0))
    models = [("naive Bayes, word counts", lambda: CountVectorizer(**words(1)), lambda C: MultinomialNB(alpha=1.0), [None]),
              ("naive Bayes, word + pair counts", lambda: CountVectorizer(**words(2)), lambda C: MultinomialNB(alpha=1.0), [None]),
              ("logistic reg., TF-IDF words + pairs", lambda: TfidfVectorizer(sublinear_tf=True, **words(2)),
               lambda C: LogisticRegression(C=C, max_iter=2000), [1.0, 3.0, 10.0, 30.0]),
              ("logistic reg., TF-IDF char 2-5-grams",
               lambda: TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, min_df=2,
                                       preprocessor=" ".join),
               lambda C: LogisticRegression(C=C, max_iter=2000), [1.0, 3.0, 10.0, 30.0])]
    for name, make_features, make_model, grid in models:
        start = time.perf_counter()
        features = make_features()
        train = features.fit_transform(X["train"])
        held = {s: features.transform(X[s]) for s in ("val", "test")}
        fitted = [(C, make_model(C).fit(train, y["train"])) for C in grid]
        C, model = max(fitted, key=lambda cm: score(cm[1].predict(held["val"]), "val")[0])   # best val accuracy
        seconds = time.perf_counter() - start
        rows.append((name, "" if C is None else f"C={C:g}",
                     *(x for s in ("val", "test") for x in score(model.predict(held[s]), s)), seconds))


def word_features(words: tuple, i: int) -> dict:
    w = words[i]
    f = {"bias": 1.0, "w=" + w: 1.0, "lower=" + w.lower(): 1.0, "first": float(i == 0),
         "title": float(w[:1].isupper()), "upper": float(w.isupper() and len(w) > 1),
         "digit": float(any(c.isdigit() for c in w)), "apostrophe": float("'" in w or "\u2019" in w),
         "alpha": float(w.isalpha())}
    for k in (1, 2, 3):
        f[f"pre{k}=" + w[:k]] = 1.0
        f[f"suf{k}=" + w.lower()[-k:]] = 1.0
    for d in (-1, 1):
        j = i + d
        n = words[j] if 0 <= j < len(words) else "<s>" if j < 0 else "</s>"
        f[f"w{d:+d}=" + n.lower()] = 1.0
        f[f"title{d:+d}"] = float(n[:1].isupper() and n not in ("<s>", "</s>"))
    return f


def illegal(paths) -> int:
    return sum(t == "I-NAME" and (i == 0 or p[i - 1] == "O") for p in paths for i, t in enumerate(p))


def tagging(rows: list) -> None:
    from seqeval.metrics import f1_score, precision_score, recall_score
    from sklearn.feature_extraction import DictVectorizer
    from sklearn.linear_model import LogisticRegression

    from seqlab.language import turkish_names

    data = turkish_names(seed=0)
    print(f"Turkish sentences: {len(data.train):,} train / {len(data.val):,} val / {len(data.test):,} test; "
          f"{sum(len(w) for w, _, _ in data.train):,} training words")
    gold = {s: [list(bio) for _, bio, _ in getattr(data, s)] for s in ("val", "test")}

    def prf(paths, s):
        return tuple(f(gold[s], paths, zero_division=0) for f in (precision_score, recall_score, f1_score))

    def rule(words):
        proper = [i > 0 and w[:1].isupper() for i, w in enumerate(words)]
        return ["O" if not p else "I-NAME" if i and proper[i - 1] else "B-NAME" for i, p in enumerate(proper)]

    paths = {s: [rule(w) for w, _, _ in getattr(data, s)] for s in ("val", "test")}
    rows.append(("rule: capitalised, not sentence-first", "", prf(paths["val"], "val")[2], *prf(paths["test"], "test"),
                 illegal(paths["test"]), 0.0))

    start = time.perf_counter()
    vec = DictVectorizer()
    X_train = vec.fit_transform([word_features(w, i) for w, _, _ in data.train for i in range(len(w))])
    y_train = [t for _, bio, _ in data.train for t in bio]

    def tag(model, s):
        sentences = [w for w, _, _ in getattr(data, s)]
        flat = model.predict(vec.transform([word_features(w, i) for w in sentences for i in range(len(w))]))
        out, k = [], 0
        for w in sentences:
            out.append(list(flat[k:k + len(w)]))
            k += len(w)
        return out

    fitted = [(C, LogisticRegression(C=C, max_iter=3000).fit(X_train, y_train)) for C in (0.3, 1.0, 3.0, 10.0)]
    C, model = max(fitted, key=lambda cm: prf(tag(cm[1], "val"), "val")[2])   # best val span F1
    seconds = time.perf_counter() - start
    test_paths = tag(model, "test")
    rows.append(("logistic reg. per token, word feats", f"C={C:g}", prf(tag(model, "val"), "val")[2],
                 *prf(test_paths, "test"), illegal(test_paths), seconds))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.parse_args()
    import sklearn

    print(f"scikit-learn {sklearn.__version__}; {os.cpu_count()} CPU cores, load average {os.getloadavg()[0]:.2f}")
    clf: list = []
    classification(clf)
    print(f"\n{'classifier':<38} {'chosen':>7} {'val acc':>8} {'val F1':>7} {'test acc':>9} {'test F1':>8} {'fit s':>6}")
    for name, chosen, va, vf, ta, tf, s in clf:
        print(f"{name:<38} {chosen:>7} {va:>8.1%} {vf:>7.3f} {ta:>9.1%} {tf:>8.3f} {s:>6.1f}")
    tags: list = []
    print()
    tagging(tags)
    print(f"\n{'tagger':<38} {'chosen':>7} {'val F1':>7} {'test P':>7} {'test R':>7} {'test F1':>8} "
          f"{'illegal I (test)':>17} {'fit s':>6}")
    for name, chosen, vf, p, r, f, bad, s in tags:
        print(f"{name:<38} {chosen:>7} {vf:>7.3f} {p:>7.3f} {r:>7.3f} {f:>8.3f} {bad:>17} {s:>6.1f}")
    print("(fit s: features, every fit of the grid and the choice on validation; C picked by validation "
          "accuracy / span F1)")


if __name__ == "__main__":
    main()
