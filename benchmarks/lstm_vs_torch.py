"""Lab 2's numpy LSTM (the reference in solutions/02_lstm_gru.ipynb) against torch.nn.LSTM with autograd.

Times forward + backward over a whole sequence on the CPU, same shapes and dtype for both, and
prints the medians and the ratio numpy / torch. Also confirms the two agree on the gradients, so
the comparison is of equal work.

    python benchmarks/lstm_vs_torch.py [--N 32 --T 50 --D 64 --H 128 --repeats 20]
"""
from __future__ import annotations

import argparse

from common import median_seconds, set_torch_threads, solution_namespace  # first: sets thread counts
import numpy as np
import torch



def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for name, default in (("N", 32), ("T", 50), ("D", 64), ("H", 128), ("repeats", 20)):
        parser.add_argument(f"--{name}", type=int, default=default)
    args = parser.parse_args()
    N, T, D, H = args.N, args.T, args.D, args.H
    ref = solution_namespace("02_lstm_gru")
    lstm_forward, lstm_backward = ref["lstm_forward"], ref["lstm_backward"]
    print(f"shapes N={N} T={T} D={D} H={H}; {set_torch_threads()}")
    print(f"{'dtype':<8} {'numpy (ms)':>11} {'torch (ms)':>11} {'numpy/torch':>12} {'max grad diff':>14}")
    for dtype, tdtype in ((np.float32, torch.float32), (np.float64, torch.float64)):
        rng = np.random.default_rng(0)
        x = rng.normal(size=(N, T, D)).astype(dtype)
        h0 = rng.normal(size=(N, H)).astype(dtype)
        Wx = (rng.normal(size=(D, 4 * H)) / np.sqrt(D)).astype(dtype)  # gate blocks i, f, o, g
        Wh = (rng.normal(size=(H, 4 * H)) / np.sqrt(H)).astype(dtype)
        b = np.zeros(4 * H, dtype=dtype)
        dh = rng.normal(size=(N, T, H)).astype(dtype)

        def numpy_step():
            h, cache = lstm_forward(x, h0, Wx, Wh, b)
            return lstm_backward(dh, cache)

        def torch_order(W):  # gate blocks (i, f, o, g) -> torch's (i, f, g, o)
            i, f, o, g = np.split(W, 4, axis=-1)
            return np.ascontiguousarray(np.concatenate([i, f, g, o], axis=-1))

        rnn = torch.nn.LSTM(D, H, batch_first=True).to(tdtype)
        with torch.no_grad():
            rnn.weight_ih_l0.copy_(torch.from_numpy(torch_order(Wx).T))
            rnn.weight_hh_l0.copy_(torch.from_numpy(torch_order(Wh).T))
            rnn.bias_ih_l0.copy_(torch.from_numpy(torch_order(b)))
            rnn.bias_hh_l0.zero_()
        tx = torch.from_numpy(x).requires_grad_()
        th0 = torch.from_numpy(h0)[None].clone().requires_grad_()
        tdh = torch.from_numpy(dh)

        def torch_step():
            rnn.zero_grad(set_to_none=True)
            tx.grad = th0.grad = None
            out, _ = rnn(tx, (th0, torch.zeros_like(th0)))
            out.backward(tdh)

        t_np = median_seconds(numpy_step, args.repeats)
        t_torch = median_seconds(torch_step, args.repeats)
        dWh = numpy_step()[3]
        torch_step()
        diff = float(np.abs(dWh - torch_order(rnn.weight_hh_l0.grad.numpy().T)).max())
        print(f"{np.dtype(dtype).name:<8} {t_np * 1e3:>11.2f} {t_torch * 1e3:>11.2f} {t_np / t_torch:>12.2f} {diff:>14.2e}")


if __name__ == "__main__":
    main()
