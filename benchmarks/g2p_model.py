"""A second attention encoder-decoder for the long CMUdict benchmark (benchmark-only, never graded).

Lab 4's model feeds each step's attention context into its GRU cell (input feeding, as in Bahdanau
et al., 2015), so its decoder runs one step at a time in Python: many small operations that
bfloat16 barely speeds up on a CPU. This model follows Luong, Pham & Manning (2015), "global
attention" without input feeding: the decoder LSTM reads the whole teacher-forced target in one
call, then every decoder state attends to the encoder states at once (one batched matmul), and the
attentional state h~_t = tanh(W_c [c_t ; h_t]) gives the scores. Training is a handful of large
kernels per batch, which bfloat16 autocast does speed up on CPUs with AVX512-BF16 or AMX.

Like the LSTM G2P models it is compared with (Yao & Zweig 2015; Rao et al. 2015) the encoder is a
bidirectional LSTM; it adds dropout and label smoothing (Szegedy et al. 2016). The benchmark trains
it, like the lab's model, on length-bucketed batches with gradient clipping and a time-based warm-up
+ cosine learning rate, and decodes with the lab's own greedy and beam search through ``make_step``
(the lab's ``step(y_prev, state)`` contract). Measured on the course's 2-core CPU, one torch
thread, batches of 256: float32 5.6 steps/s, as fast as the lab's model (5.6); bfloat16 autocast
10.2 steps/s (1.8x), where the lab's model gains 6% (two threads: 9.0 against 8.5 steps/s).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

PAD = 0


@dataclass
class G2PConfig:
    src_vocab: int        # V_src: letters + specials
    tgt_vocab: int        # V: phonemes + specials
    E: int = 64           # embedding size (letters and phonemes)
    H: int = 256          # decoder state size; the encoder has H // 2 per direction, so D = H
    enc_layers: int = 1   # bidirectional LSTM layers in the encoder
    dec_layers: int = 1   # LSTM layers in the decoder
    dropout: float = 0.15  # on embeddings, the attentional state and between layers


class G2PModel(nn.Module):
    """BiLSTM encoder, LSTM decoder, Luong "general" attention without input feeding."""

    def __init__(self, cfg: G2PConfig):
        super().__init__()
        self.cfg = cfg
        E, H, p = cfg.E, cfg.H, cfg.dropout
        self.src_embed = nn.Embedding(cfg.src_vocab, E, padding_idx=PAD)
        self.encoder = nn.LSTM(E, H // 2, num_layers=cfg.enc_layers, batch_first=True, bidirectional=True,
                               dropout=p if cfg.enc_layers > 1 else 0.0)
        # the top encoder layer's last states (both directions) -> h0 and c0 of every decoder layer
        self.bridge = nn.Linear(H, 2 * H * cfg.dec_layers)
        self.embed = nn.Embedding(cfg.tgt_vocab, E, padding_idx=PAD)
        self.decoder = nn.LSTM(E, H, num_layers=cfg.dec_layers, batch_first=True,
                               dropout=p if cfg.dec_layers > 1 else 0.0)
        self.W_a = nn.Linear(H, H, bias=False)  # score(h_t, s) = h_t^T W_a s
        self.W_c = nn.Linear(2 * H, H)          # attentional state from [context ; h_t]
        self.out = nn.Linear(H, cfg.tgt_vocab)
        self.drop = nn.Dropout(p)

    def encode(self, src, src_mask):
        """src, src_mask (N, S) -> keys (N, S, H) zero on padding, and the decoder's (h0, c0), each (L, N, H)."""
        N, L = src.shape[0], self.cfg.dec_layers
        lengths = src_mask.sum(dim=1).cpu()
        packed = nn.utils.rnn.pack_padded_sequence(self.drop(self.src_embed(src)), lengths,
                                                   batch_first=True, enforce_sorted=False)
        out, (h_n, _) = self.encoder(packed)    # h_n: (enc_layers * 2, N, H // 2)
        enc, _ = nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=src.shape[1])
        last = torch.cat([h_n[-2], h_n[-1]], dim=1)                      # (N, H): [forward ; backward]
        init = torch.tanh(self.bridge(last)).view(N, 2 * L, -1).transpose(0, 1)  # (N, 2LH) -> (2L, N, H)
        return enc, (init[:L].contiguous(), init[L:].contiguous())

    def attend_and_score(self, dec, enc, src_mask):
        """dec (N, T, H), enc (N, S, H) -> logits (N, T, V) and attention weights (N, T, S)."""
        scores = dec @ self.W_a(enc).transpose(1, 2)                   # (N, T, H) @ (N, H, S) -> (N, T, S)
        weights = scores.masked_fill(~src_mask[:, None, :], float("-inf")).softmax(dim=2)
        context = weights @ enc                                        # (N, T, S) @ (N, S, H) -> (N, T, H)
        h_att = torch.tanh(self.W_c(torch.cat([context, dec], dim=2)))  # (N, T, 2H) -> (N, T, H)
        return self.out(self.drop(h_att)), weights

    def forward(self, src, src_mask, tgt_in):
        """Teacher-forced logits (N, T_tgt, V): the decoder reads <bos> y_1 ... y_L in one call."""
        enc, state = self.encode(src, src_mask)
        dec, _ = self.decoder(self.drop(self.embed(tgt_in)), state)    # (N, T_tgt, H)
        return self.attend_and_score(dec, enc, src_mask)[0]

    def make_step(self, src, src_mask):
        """(step, state) for the lab's greedy_decode / beam_search; every state entry is batch first."""
        enc, (h, c) = self.encode(src, src_mask)

        def step(y_prev, state):
            h, c, enc, mask = state                                    # h, c: (N, L, H)
            dec, (h, c) = self.decoder(self.embed(y_prev)[:, None, :],
                                       (h.transpose(0, 1).contiguous(), c.transpose(0, 1).contiguous()))
            logits, _ = self.attend_and_score(dec, enc, mask)          # (N, 1, V)
            return logits[:, 0].log_softmax(dim=1), (h.transpose(0, 1), c.transpose(0, 1), enc, mask)

        return step, (h.transpose(0, 1), c.transpose(0, 1), enc, src_mask)


def g2p_loss(model, batch, smoothing: float = 0.1):
    """Label-smoothed cross-entropy per real target token (Szegedy et al., 2016)."""
    logits = model(batch.src, batch.src_mask, batch.tgt_in)
    return F.cross_entropy(logits[batch.tgt_mask], batch.tgt_out[batch.tgt_mask], label_smoothing=smoothing)


def bucketed_batches(lengths, batch_size: int, rng: np.random.Generator, pool: int = 50):
    """One epoch of index batches: shuffle, sort pools of ``pool`` batches by length, shuffle the batches.

    Words of similar length share a batch, so little of each batch is padding.
    """
    order = rng.permutation(len(lengths))
    lengths = np.asarray(lengths)
    batches = []
    for start in range(0, len(order), pool * batch_size):
        chunk = order[start:start + pool * batch_size]
        chunk = chunk[np.argsort(lengths[chunk], kind="stable")]
        batches += [chunk[i:i + batch_size] for i in range(0, len(chunk), batch_size)]
    return [batches[i] for i in rng.permutation(len(batches))]


def lr_factor(frac: float, warmup: float = 0.03, floor: float = 0.01) -> float:
    """Share of the peak learning rate at fraction ``frac`` of the time budget: linear warm-up, cosine decay."""
    if frac < warmup:
        return max(frac / warmup, floor)
    progress = min((frac - warmup) / (1 - warmup), 1.0)
    return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress))
