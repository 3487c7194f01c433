"""seqlab: helpers for the six sequence-model labs (data, gradient checks, self-checks, training).

Importing this package is cheap: numpy is loaded on first use of a helper, and torch, matplotlib
and tqdm only inside the helpers that need them. Nothing here solves a graded exercise.
"""
from __future__ import annotations

import importlib

__version__ = "0.1.0"

# public name -> module that defines it; loaded on first access (PEP 562)
_EXPORTS = {
    "rel_error": "seqlab.gradcheck",
    "numerical_gradient": "seqlab.gradcheck",
    "numerical_gradient_array": "seqlab.gradcheck",
    "check_gradients": "seqlab.gradcheck",
    "CheckFailed": "seqlab.checks",
    "check_shape": "seqlab.checks",
    "check_close": "seqlab.checks",
    "check_implemented": "seqlab.checks",
    "check_prerequisite": "seqlab.checks",
    "check_blaming": "seqlab.checks",
    "call_on_copies": "seqlab.checks",
    "stand_ins": "seqlab.checks",
    "check_choice": "seqlab.checks",
    "passed": "seqlab.checks",
    "check_rules": "seqlab.rules",
    "seed_everything": "seqlab.runtime",
    "get_device": "seqlab.runtime",
    "budget": "seqlab.runtime",
    "is_autograding": "seqlab.runtime",
    "load_names": "seqlab.data",
    "split": "seqlab.data",
    "CharVocab": "seqlab.data",
    "train_loop": "seqlab.train",
    "plot_losses": "seqlab.train",
    "Adam": "seqlab.train",
    "date_splits": "seqlab.dates",
    "Vocab": "seqlab.seq2seq_data",
    "make_batch": "seqlab.seq2seq_data",
    "load_cmudict": "seqlab.seq2seq_data",
    "g2p_splits": "seqlab.seq2seq_data",
    "g2p_error_rates": "seqlab.seq2seq_data",
    "plot_attention": "seqlab.seq2seq_data",
    "LiveLossPlot": "seqlab.liveplot",
    "load_corpus": "seqlab.embeddings",
    "load_word_pairs": "seqlab.embeddings",
    "load_analogies": "seqlab.embeddings",
    "load_glove": "seqlab.embeddings",
    "train_sgns": "seqlab.embeddings",
    "plot_pca": "seqlab.embeddings",
    "load_plays": "seqlab.shakespeare",
    "shakespeare_splits": "seqlab.shakespeare",
    "random_windows": "seqlab.shakespeare",
}

__all__ = sorted(_EXPORTS) + ["__version__"]


def __getattr__(name: str):
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'seqlab' has no attribute {name!r}")


def __dir__():
    return __all__
