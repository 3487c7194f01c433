"""Lab 8's key/value cache (the reference in solutions/08_language_model.ipynb) against full recompute.

Builds the lab's TinyLM (its setup and solution cells, and the given `helpers`, `lm_model` and
`lm_data` cells) outside a kernel, untrained, in the lab's configuration, and times the lab's
generate() for n new tokens with greedy picks (argmax), once feeding only the newest token and the
stored keys and values (use_cache=True), once recomputing the whole sequence at every step. The
prompts are the lab's: 4 copies of "ROMEO:\\n". Medians of --repeats runs after a warm-up, one
thread (benchmarks/common.py). Both ways must give the same tokens. With the cache a step costs
nearly the same at any length; without, step t reprocesses all the positions so far, so the whole
run grows as n^2 and the speed-up grows with n (about linearly once that work outweighs the fixed
cost of a step).

    python benchmarks/kv_cache_speedup.py [--lengths 32 64 128 256 --prompts 4 --repeats 3]
"""
from __future__ import annotations

import argparse
import contextlib
import io

from common import median_seconds, set_torch_threads, solution_namespace  # first: sets thread counts
import torch  # noqa: E402

CELLS = ("helpers", "lm_model", "lm_data")  # plus the setup cell and every solution cell


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lengths", type=int, nargs="+", default=[32, 64, 128, 256])
    parser.add_argument("--prompts", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    with contextlib.redirect_stdout(io.StringIO()):      # the cells' own printing
        lab = solution_namespace("08_language_model", cells=CELLS)
    torch.manual_seed(0)
    model = lab["TinyLM"](lab["LMConfig"](vocab_size=len(lab["chars"])))
    generate = lab["generate"]
    prompts = [lab["encode"]("ROMEO:\n")] * args.prompts
    greedy = lambda logits, so_far: logits.argmax(dim=-1)  # noqa: E731
    print(f"untrained TinyLM, {model.cfg}; {args.prompts} prompts of {len(prompts[0])} characters, greedy; "
          f"medians of {args.repeats}; {set_torch_threads()}")
    print(f"{'tokens':>6} {'cache (s)':>10} {'recompute (s)':>14} {'speed-up':>9}  same tokens")
    speedups = {}
    for n in args.lengths:
        cached = generate(model, prompts, n, greedy, use_cache=True)
        full = generate(model, prompts, n, greedy, use_cache=False)
        t_cache = median_seconds(lambda: generate(model, prompts, n, greedy, use_cache=True), args.repeats)
        t_full = median_seconds(lambda: generate(model, prompts, n, greedy, use_cache=False), args.repeats)
        speedups[n] = t_full / t_cache
        print(f"{n:>6} {t_cache:>10.3f} {t_full:>14.3f} {speedups[n]:>8.1f}x  {'yes' if cached == full else 'NO'}",
              flush=True)
        if cached != full:
            raise SystemExit(f"the cache changed the tokens at n = {n}")
    n = max(speedups)
    print(f"speed-up of the KV cache at {n} tokens: {speedups[n]:.1f}x")


if __name__ == "__main__":
    main()
