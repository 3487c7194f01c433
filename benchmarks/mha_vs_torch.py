"""Lab 5's multi-head attention (the reference in solutions/05_transformer.ipynb) against torch.nn.MultiheadAttention.

Copies one set of weights into both (nn.MultiheadAttention's in_proj_weight holds the rows
[W_q; W_k; W_v]), checks that the outputs agree, then times forward + backward of causal
self-attention on the CPU, same shapes and dtype, and prints the medians and the ratio ours / torch
(aim: within 1.5x). torch may take its fused fast path (F.scaled_dot_product_attention kernels);
ours runs the explicit matmul-softmax-matmul of the lab.

    python benchmarks/mha_vs_torch.py [--N 32 --T 64 --E 128 --h 4 --repeats 30 --threads 1]
"""
from __future__ import annotations

import argparse

from common import median_seconds, set_torch_threads, solution_namespace  # first: sets thread counts
import torch



def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for name, default in (("N", 32), ("T", 64), ("E", 128), ("h", 4), ("repeats", 30)):
        parser.add_argument(f"--{name}", type=int, default=default)
    args = parser.parse_args()
    ours_cls = solution_namespace("05_transformer")["MultiHeadAttention"]
    N, T, E, h = args.N, args.T, args.E, args.h
    print(f"causal self-attention, N={N} T={T} E={E} h={h}; {set_torch_threads()}")
    print(f"{'dtype':<8} {'pass':<18} {'ours (ms)':>10} {'torch (ms)':>11} {'ours/torch':>11} {'max diff':>9}")
    for dtype in (torch.float32, torch.float64):
        torch.manual_seed(0)
        ours = ours_cls(E, h).to(dtype)
        ref = torch.nn.MultiheadAttention(E, h, batch_first=True, dtype=dtype)
        with torch.no_grad():
            ref.in_proj_weight.copy_(torch.cat([ours.W_q.weight, ours.W_k.weight, ours.W_v.weight]))
            ref.in_proj_bias.copy_(torch.cat([ours.W_q.bias, ours.W_k.bias, ours.W_v.bias]))
            ref.out_proj.weight.copy_(ours.W_o.weight)
            ref.out_proj.bias.copy_(ours.W_o.bias)
        x = torch.randn(N, T, E, dtype=dtype)
        causal = torch.triu(torch.ones(T, T, dtype=torch.bool), 1)  # torch: True = not allowed
        diff = (ours(x, x, x, causal=True)[0] - ref(x, x, x, attn_mask=causal, need_weights=False)[0]).abs().max().item()

        def ours_fwd():
            with torch.no_grad():
                ours(x, x, x, causal=True)

        def torch_fwd():
            with torch.no_grad():
                ref(x, x, x, attn_mask=causal, is_causal=True, need_weights=False)

        def ours_fb():
            ours.zero_grad(set_to_none=True)
            ours(x, x, x, causal=True)[0].sum().backward()

        def torch_fb():
            ref.zero_grad(set_to_none=True)
            ref(x, x, x, attn_mask=causal, is_causal=True, need_weights=False)[0].sum().backward()

        name = str(dtype).removeprefix("torch.")
        for label, a, b in (("forward", ours_fwd, torch_fwd), ("forward+backward", ours_fb, torch_fb)):
            t_ours, t_torch = median_seconds(a, args.repeats), median_seconds(b, args.repeats)
            print(f"{name:<8} {label:<18} {1e3 * t_ours:>10.2f} {1e3 * t_torch:>11.2f} {t_ours / t_torch:>11.2f} {diff:>9.1e}")
    print("(ours returns the (N, h, T, T) weights; torch is asked for need_weights=False, its fastest path)")


if __name__ == "__main__":
    main()
