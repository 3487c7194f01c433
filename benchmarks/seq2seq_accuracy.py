"""Lab 4's attention seq2seq (the reference in solutions/04_attention.ipynb) on its two tasks.

Runs the lab's own cells (setup, solutions, model and training helpers) outside a kernel, then
  dates: trains for --steps steps (or until --minutes run out) and prints exact-match accuracy on
         the 1,000 held-out dates (target: >= 99% after under 2 minutes of CPU training);
  g2p:   trains on CMUdict for --minutes and prints word and phoneme error rates on the 3,000
         held-out words, greedy and beam 5, with a learning curve (WER on 500 validation words)
         every --eval-every steps, and the gap to published LSTM results (21-26% WER).

    python benchmarks/seq2seq_accuracy.py dates [--steps 900]
    python benchmarks/seq2seq_accuracy.py g2p [--minutes 30]
"""
from __future__ import annotations

import argparse
import os
import time

from common import solution_namespace

CELLS = ("setup", "model", "train_helpers")  # plus every solution cell


def lab_namespace() -> dict:
    """The lab's setup, solution and named cells, executed headless."""
    return solution_namespace("04_attention", cells=CELLS)


def run_dates(ns: dict, args) -> None:
    from seqlab.dates import date_splits
    from seqlab.seq2seq_data import Vocab, make_batch

    torch = ns["torch"]
    train, _, test = date_splits(n_train=40000, n_val=500, n_test=1000, seed=0)
    src_v = Vocab.from_sequences([s for s, _ in train + test])
    tgt_v = Vocab.from_sequences([t for _, t in train])
    data = make_batch([(list(s), list(t)) for s, t in train], src_v, tgt_v)
    for kind in args.attention:
        torch.manual_seed(args.seed)
        model = ns["Seq2Seq"](ns["Seq2SeqConfig"](len(src_v), len(tgt_v), E=32, H=args.H, attention=kind))
        hist = ns["train_seq2seq"](model, data, args.steps, batch_size=args.batch, lr=args.lr, desc=f"dates {kind}")
        start = time.perf_counter()
        out = ns["decode"](model, [list(s) for s, _ in test], src_v, tgt_v, max_len=12)
        acc = ns["exact_match"](out, [list(t) for _, t in test])
        print(f"dates, {kind:<9} {args.steps} steps, training {hist.seconds:6.1f} s (target < 120 s): "
              f"exact match {acc:.2%} on {len(test)} held-out dates (target >= 99%); "
              f"greedy decoding {time.perf_counter() - start:.1f} s", flush=True)


def run_g2p(ns: dict, args) -> None:
    from seqlab.seq2seq_data import Vocab, g2p_error_rates, g2p_splits, make_batch

    torch, np = ns["torch"], ns["np"]
    train, val, test = g2p_splits(val_size=500, test_size=3000, seed=0)
    src_v = Vocab.from_sequences([w for w, _ in train + val + test])
    tgt_v = Vocab.from_sequences([p for _, prons in train for p in prons])
    data = make_batch([(list(w), prons[0]) for w, prons in train], src_v, tgt_v)
    torch.manual_seed(args.seed)
    model = ns["Seq2Seq"](ns["Seq2SeqConfig"](len(src_v), len(tgt_v), E=64, H=args.H, attention="luong"))
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    pick = np.random.default_rng(args.seed)
    deadline = time.perf_counter() + 60 * args.minutes
    step, trained = 0, 0.0
    print(f"g2p: {len(train)} training words, H = {args.H}, batch {args.batch}, up to {args.minutes} min")
    print(f"{'step':>7}{'train min':>10}{'loss':>8}{'val WER':>9}{'val PER':>9}", flush=True)
    losses = []
    while time.perf_counter() < deadline:
        t0 = time.perf_counter()
        # a constant rate for the first 60% of the time, then a linear decay to 5% of it
        frac = 1 - (deadline - t0) / (60 * args.minutes)
        for group in opt.param_groups:
            group["lr"] = args.lr * (1.0 if frac < 0.6 else max(0.05, (1 - frac) / 0.4))
        b = data.select(torch.as_tensor(pick.integers(0, len(data), args.batch)))
        loss = ns["seq2seq_loss"](model, b.src, b.src_mask, b.tgt_in, b.tgt_out, b.tgt_mask)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        trained += time.perf_counter() - t0
        losses.append(loss.item())
        step += 1
        if step % args.eval_every == 0:
            out = ns["decode"](model, [list(w) for w, _ in val], src_v, tgt_v, max_len=25)
            wer, per = g2p_error_rates(out, [p for _, p in val])
            print(f"{step:>7}{trained / 60:>10.1f}{np.mean(losses[-100:]):>8.3f}{wer:>9.1%}{per:>9.1%}", flush=True)
    words, refs = [list(w) for w, _ in test], [p for _, p in test]
    for name, beam in (("greedy", 1), ("beam 5", 5)):
        start = time.perf_counter()
        out = ns["decode"](model, words, src_v, tgt_v, max_len=25, beam_size=beam)
        wer, per = g2p_error_rates(out, refs)
        print(f"test, {name}: WER {wer:.1%}, PER {per:.1%} on {len(test)} words after {step} steps "
              f"({trained / 60:.1f} min of training); WER {wer - 0.26:+.1%} from the published 26% "
              f"(and {wer - 0.21:+.1%} from 21%); decoding {time.perf_counter() - start:.0f} s", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("task", choices=("dates", "g2p"))
    parser.add_argument("--steps", type=int, default=900, help="dates: training steps")
    parser.add_argument("--minutes", type=float, default=2.0, help="g2p: training time")
    parser.add_argument("--attention", nargs="+", default=["luong"], help="dates: attention kinds")
    parser.add_argument("--H", type=int, default=None)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--lr", type=float, default=None)
    parser.add_argument("--eval-every", type=int, default=500)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    args = parser.parse_args()
    ns = lab_namespace()
    if args.threads:
        ns["torch"].set_num_threads(args.threads)
    print(f"torch {ns['torch'].__version__}, {ns['torch'].get_num_threads()} threads, {os.cpu_count()} CPU cores")
    if args.task == "dates":
        args.H, args.lr = args.H or 128, args.lr or 5e-3
        run_dates(ns, args)
    else:
        args.H, args.lr = args.H or 256, args.lr or 3e-3
        run_g2p(ns, args)


if __name__ == "__main__":
    main()
