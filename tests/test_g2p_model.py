"""Tests of benchmarks/g2p_model.py, the faster attention model of the long CMUdict benchmark."""
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from g2p_model import G2PConfig, G2PModel, bucketed_batches, g2p_loss, lr_factor  # noqa: E402

from seqlab.seq2seq_data import BOS, Vocab, make_batch  # noqa: E402

WORDS = [("cat", ["K", "AE", "T"]), ("knight", ["N", "AY", "T"]), ("a", ["AH"]),
         ("photograph", ["F", "OW", "T", "AH", "G", "R", "AE", "F"])]


@pytest.fixture(scope="module")
def batch():
    src_v = Vocab.from_sequences([w for w, _ in WORDS])
    tgt_v = Vocab.from_sequences([p for _, p in WORDS])
    return make_batch([(list(w), p) for w, p in WORDS], src_v, tgt_v), len(src_v), len(tgt_v)


@pytest.mark.parametrize("layers", [1, 2])
def test_step_by_step_decoder_matches_teacher_forced_forward(batch, layers):
    """Does feeding make_step's step the true previous phonemes give the forward pass's log-probabilities?"""
    b, n_src, n_tgt = batch
    torch.manual_seed(0)
    model = G2PModel(G2PConfig(n_src, n_tgt, E=8, H=12, enc_layers=layers, dec_layers=layers)).eval()
    with torch.no_grad():
        expected = model(b.src, b.src_mask, b.tgt_in).log_softmax(dim=2)   # (N, T, V)
        step, state = model.make_step(b.src, b.src_mask)
        for t in range(b.tgt_in.shape[1]):
            logp, state = step(b.tgt_in[:, t], state)
            torch.testing.assert_close(logp[b.tgt_mask[:, t]], expected[:, t][b.tgt_mask[:, t]],
                                       atol=1e-5, rtol=1e-5)


def test_state_rows_can_be_reordered_like_a_beam(batch):
    """Does every state entry stay batch first, so that beam search may pick rows with s[idx]?"""
    b, n_src, n_tgt = batch
    model = G2PModel(G2PConfig(n_src, n_tgt, E=8, H=12, dec_layers=2)).eval()
    with torch.no_grad():
        step, state = model.make_step(b.src, b.src_mask)
        y = torch.full((len(b),), BOS)
        idx = torch.tensor([2, 2, 0, 1])
        logp_picked, _ = step(y[idx], tuple(s[idx] for s in state))
        logp, _ = step(y, state)
    torch.testing.assert_close(logp_picked, logp[idx])


def test_attention_is_zero_on_padding_and_sums_to_one(batch):
    """Do the attention weights put exactly 0 on padded letters and sum to 1 over real ones?"""
    b, n_src, n_tgt = batch
    model = G2PModel(G2PConfig(n_src, n_tgt, E=8, H=12)).eval()
    with torch.no_grad():
        enc, (h, c) = model.encode(b.src, b.src_mask)
        dec, _ = model.decoder(model.embed(b.tgt_in), (h, c))
        _, weights = model.attend_and_score(dec, enc, b.src_mask)
    assert torch.all(weights.masked_select(~b.src_mask[:, None, :].expand_as(weights)) == 0)
    torch.testing.assert_close(weights.sum(dim=2), torch.ones(weights.shape[:2]))


def test_loss_is_cross_entropy_over_real_tokens(batch):
    """Without smoothing, is the loss torch's cross-entropy on the unpadded target tokens?"""
    b, n_src, n_tgt = batch
    model = G2PModel(G2PConfig(n_src, n_tgt, E=8, H=12)).eval()
    logits = model(b.src, b.src_mask, b.tgt_in)
    expected = torch.nn.functional.cross_entropy(logits[b.tgt_mask], b.tgt_out[b.tgt_mask])
    torch.testing.assert_close(g2p_loss(model, b, smoothing=0.0), expected)
    assert g2p_loss(model, b, smoothing=0.1) > expected   # smoothing only adds to it


def test_bucketed_batches_are_one_epoch_of_similar_lengths():
    """Is every index used exactly once per epoch, in batches whose lengths sit close together?"""
    rng = np.random.default_rng(0)
    lengths = rng.integers(2, 20, size=1000)
    batches = bucketed_batches(lengths, 32, rng, pool=10)
    assert sorted(np.concatenate(batches).tolist()) == list(range(1000))
    spread = np.mean([np.ptp(lengths[b]) for b in batches])
    assert spread < 0.5 * np.mean([np.ptp(lengths[rng.permutation(1000)[:32]]) for _ in range(20)])


def test_learning_rate_warms_up_then_decays_to_the_floor():
    """Does the schedule start low, peak after the warm-up, and end at the floor?"""
    assert lr_factor(0.0) == pytest.approx(0.01)
    assert lr_factor(0.03) == pytest.approx(1.0)
    assert lr_factor(0.5) == pytest.approx(0.01 + 0.99 * 0.5 * (1 + np.cos(np.pi * 0.47 / 0.97)))
    assert lr_factor(1.0) == pytest.approx(0.01)
    factors = [lr_factor(f) for f in np.linspace(0.03, 1, 50)]
    assert all(a >= b for a, b in zip(factors, factors[1:]))
