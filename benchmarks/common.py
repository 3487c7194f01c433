"""What the speed benchmarks share: one thread per library, medians of repeated runs, the reference.

Import this module before numpy or torch. On a 2-core machine shared with other work, numpy's
BLAS and torch's thread pools contend with each other and with the neighbours, and the ratios
swing several-fold from run to run; with one thread each (SEQLAB_BENCH_THREADS, default 1)
both sides do the same single-core work and the figures are steady.
"""
from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

THREADS = int(os.environ.get("SEQLAB_BENCH_THREADS", "1"))
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, str(THREADS))

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from labharness import solution_namespace  # noqa: E402,F401  (re-exported for the benchmarks)


def set_torch_threads() -> str:
    """Pin torch to THREADS (a lab's setup cell may have changed it); describe the setting."""
    import torch

    torch.set_num_threads(THREADS)
    return f"torch {torch.__version__}, {THREADS} thread(s) for torch and numpy, load average {os.getloadavg()[0]:.2f}"


def median_seconds(fn, repeats: int) -> float:
    """Median wall time of fn() over ``repeats`` calls, after one warm-up call."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)
