"""A lab's numpy recurrent layer (the reference in solutions/) against its torch.nn twin with autograd.

``--cell rnn``: Lab 1's rnn_forward/rnn_backward against torch.nn.RNN; ``--cell lstm``: Lab 2's
lstm_forward/lstm_backward against torch.nn.LSTM. Times forward + backward over a whole sequence
on the CPU, same shapes and dtype for both, and prints the medians and the ratio numpy / torch.
Also confirms the two agree on dWh, so the comparison is of equal work.

    python benchmarks/recurrent_vs_torch.py --cell lstm [--N 32 --T 50 --D 64 --H 128 --repeats 20]
"""
from __future__ import annotations

import argparse

from common import median_seconds, set_torch_threads, solution_namespace  # first: sets thread counts
import numpy as np
import torch


def lstm_to_torch_order(W: np.ndarray) -> np.ndarray:
    """Gate blocks (i, f, o, g) along the last axis -> torch's (i, f, g, o); its own inverse."""
    i, f, o, g = np.split(W, 4, axis=-1)
    return np.ascontiguousarray(np.concatenate([i, f, g, o], axis=-1))


# cell -> (lab, function prefix, gate blocks, torch module, weight reordering, initial torch state)
CELLS = {
    "rnn": ("01_rnn", "rnn", 1, torch.nn.RNN, lambda W: np.ascontiguousarray(W), lambda h0: h0),
    "lstm": ("02_lstm_gru", "lstm", 4, torch.nn.LSTM, lstm_to_torch_order, lambda h0: (h0, torch.zeros_like(h0))),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cell", choices=sorted(CELLS), default="rnn")
    for name, default in (("N", 32), ("T", 50), ("D", 64), ("H", 128), ("repeats", 20)):
        parser.add_argument(f"--{name}", type=int, default=default)
    args = parser.parse_args()
    N, T, D, H = args.N, args.T, args.D, args.H
    lab, prefix, gates, module, reorder, initial_state = CELLS[args.cell]
    ref = solution_namespace(lab)
    forward, backward = ref[f"{prefix}_forward"], ref[f"{prefix}_backward"]
    print(f"{args.cell}: shapes N={N} T={T} D={D} H={H}; {set_torch_threads()}")
    print(f"{'dtype':<8} {'numpy (ms)':>11} {'torch (ms)':>11} {'numpy/torch':>12} {'max dWh diff':>13}")
    for dtype, tdtype in ((np.float32, torch.float32), (np.float64, torch.float64)):
        rng = np.random.default_rng(0)
        x = rng.normal(size=(N, T, D)).astype(dtype)
        h0 = rng.normal(size=(N, H)).astype(dtype)
        Wx = (rng.normal(size=(D, gates * H)) / np.sqrt(D)).astype(dtype)
        Wh = (rng.normal(size=(H, gates * H)) / np.sqrt(H)).astype(dtype)
        b = np.zeros(gates * H, dtype=dtype)
        dh = rng.normal(size=(N, T, H)).astype(dtype)

        def numpy_step():
            _, cache = forward(x, h0, Wx, Wh, b)
            return backward(dh, cache)

        layer = module(D, H, batch_first=True).to(tdtype)
        with torch.no_grad():
            layer.weight_ih_l0.copy_(torch.from_numpy(reorder(Wx).T))
            layer.weight_hh_l0.copy_(torch.from_numpy(reorder(Wh).T))
            layer.bias_ih_l0.copy_(torch.from_numpy(reorder(b)))
            layer.bias_hh_l0.zero_()
        tx = torch.from_numpy(x).requires_grad_()
        th0 = torch.from_numpy(h0)[None].clone().requires_grad_()
        tdh = torch.from_numpy(dh)

        def torch_step():
            layer.zero_grad(set_to_none=True)
            tx.grad = th0.grad = None
            out, _ = layer(tx, initial_state(th0))
            out.backward(tdh)

        t_np = median_seconds(numpy_step, args.repeats)
        t_torch = median_seconds(torch_step, args.repeats)
        dWh = numpy_step()[3]
        torch_step()
        diff = float(np.abs(dWh - reorder(layer.weight_hh_l0.grad.numpy().T)).max())
        print(f"{np.dtype(dtype).name:<8} {t_np * 1e3:>11.2f} {t_torch * 1e3:>11.2f} {t_np / t_torch:>12.2f} {diff:>13.2e}")


if __name__ == "__main__":
    main()
