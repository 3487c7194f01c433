"""A training loop with a progress bar and a loss plot, and Adam for numpy parameter dicts.

``train_loop`` owns the bookkeeping every lab repeats (progress bar, running loss, periodic
evaluation, history) and leaves the step itself to the lab. Adam follows Kingma & Ba (2015),
Algorithm 1, with bias correction.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Mapping

import numpy as np

__all__ = ["History", "train_loop", "plot_losses", "Adam"]


@dataclass
class History:
    """What a training run recorded."""

    steps: list[int] = field(default_factory=list)          # step index of each training loss
    losses: list[float] = field(default_factory=list)       # training loss at each step
    eval_steps: list[int] = field(default_factory=list)     # step index of each evaluation
    eval_losses: list[float] = field(default_factory=list)  # evaluation loss at those steps
    seconds: float = 0.0                                    # wall time of the whole run

    @property
    def final_eval(self) -> float:
        return self.eval_losses[-1] if self.eval_losses else math.nan


def _progress_bar(total: int, desc: str):
    try:
        import ipywidgets  # noqa: F401  (tqdm.auto needs it for the notebook widget)
        from tqdm.auto import tqdm
    except ImportError:
        from tqdm import tqdm
    return tqdm(total=total, desc=desc, leave=True)


def train_loop(step: Callable[[int], float], n_steps: int, *,
               evaluate: Callable[[], float] | None = None, eval_every: int = 100,
               desc: str = "training", plot: bool = False, title: str = "loss",
               callback: Callable[[int, History], None] | None = None) -> History:
    """Run ``step(i)`` for i in range(n_steps) with a progress bar; return the History.

    Inputs:
    - step: does one update and returns the training loss (a float).
    - evaluate: optional, returns a held-out loss; called every eval_every steps and at the end.
    - plot: draw the loss curves when done, titled ``title``.
    - callback: optional, called as ``callback(i, history)`` after step i (and its evaluation, if any),
      e.g. a ``seqlab.liveplot.LiveLossPlot`` that redraws the curves while training runs.
    A NaN or infinite loss stops the run with a message, keeping the history so far.
    """
    import time

    history = History()
    start = time.perf_counter()
    bar = _progress_bar(n_steps, desc)
    try:
        for i in range(n_steps):
            loss = float(step(i))
            history.steps.append(i)
            history.losses.append(loss)
            if not math.isfinite(loss):
                raise FloatingPointError(
                    f"the loss became {loss} at step {i}: lower the learning rate or clip gradients")
            if evaluate is not None and ((i + 1) % eval_every == 0 or i + 1 == n_steps):
                history.eval_steps.append(i + 1)
                history.eval_losses.append(float(evaluate()))
            if callback is not None:
                callback(i, history)
            if i % 10 == 0 or i + 1 == n_steps:
                recent = history.losses[-50:]
                postfix = {"loss": f"{sum(recent) / len(recent):.3f}"}
                if history.eval_losses:
                    postfix["val"] = f"{history.eval_losses[-1]:.3f}"
                bar.set_postfix(postfix, refresh=False)
            bar.update(1)
    finally:
        bar.close()
        history.seconds = time.perf_counter() - start
    if plot:
        plot_losses(history, title=title)
    return history


def plot_losses(history: History, ax=None, smooth: int = 25, title: str = "loss"):
    """Plot the training loss (raw and smoothed) and any evaluation loss; return the axes."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.5))
    steps, losses = np.asarray(history.steps), np.asarray(history.losses)
    ax.plot(steps, losses, color="tab:blue", alpha=0.25, lw=0.8)
    if len(losses) >= smooth > 1:
        kernel = np.ones(smooth) / smooth
        ax.plot(steps[smooth - 1:], np.convolve(losses, kernel, mode="valid"), color="tab:blue",
                label=f"train (mean of {smooth})")
    if history.eval_losses:
        ax.plot(history.eval_steps, history.eval_losses, "o-", color="tab:orange", label="held-out")
    ax.set_xlabel("step")
    ax.set_ylabel("loss (nats per token)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    return ax


class Adam:
    """Adam for a dict of numpy arrays, updated in place.

    params: name -> float array; step(grads) takes name -> gradient of the same shape.
    """

    def __init__(self, params: Mapping[str, np.ndarray], lr: float = 1e-2,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8):
        self.params, self.lr, self.betas, self.eps = params, lr, betas, eps
        self.m = {k: np.zeros_like(v) for k, v in params.items()}
        self.v = {k: np.zeros_like(v) for k, v in params.items()}
        self.t = 0

    def step(self, grads: Mapping[str, np.ndarray]) -> None:
        missing = set(self.params) - set(grads)
        if missing:
            raise KeyError(f"no gradient for {sorted(missing)}")
        self.t += 1
        b1, b2 = self.betas
        for k, p in self.params.items():
            g = grads[k]
            self.m[k] = b1 * self.m[k] + (1 - b1) * g
            self.v[k] = b2 * self.v[k] + (1 - b2) * g * g
            m_hat = self.m[k] / (1 - b1 ** self.t)
            v_hat = self.v[k] / (1 - b2 ** self.t)
            p -= self.lr * m_hat / (np.sqrt(v_hat) + self.eps)
