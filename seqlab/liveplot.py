"""A loss plot that redraws itself while ``train_loop`` runs, in place, every ``every`` steps.

``LiveLossPlot`` is a ``train_loop`` callback: the loop calls it after every step with the
History so far, and it redraws the curves every ``every`` steps::

    live = LiveLossPlot(every=250, title="my model")
    history = train_loop(step, n_steps, evaluate=evaluate, callback=live)
    ax = live.finish(history)  # the final plot, drawn once more with everything

The figure is shown once through ``IPython.display.display(..., display_id=True)`` and then
*updated* in place, so the notebook keeps one picture, not one per redraw. Outside a Jupyter kernel
(a script, a test, a headless run) or with ``every=0`` nothing is drawn during training, and
``finish`` draws the final plot the usual way.
"""
from __future__ import annotations

import itertools

from seqlab.train import History, plot_losses

__all__ = ["LiveLossPlot", "in_notebook"]


def in_notebook() -> bool:
    """True inside a Jupyter kernel (JupyterLab, Colab, nbclient), where displays can be updated."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and hasattr(shell, "kernel")


class LiveLossPlot:
    """Redraw the training and held-out loss every ``every`` steps while training runs."""

    def __init__(self, every: int = 50, title: str = "loss", smooth: int = 25, figsize=(6, 3.5),
                 references: dict[str, float] | None = None):
        """``references``: label -> loss, drawn as dashed horizontal lines (a baseline to beat)."""
        self.every, self.title, self.smooth, self.figsize = every, title, smooth, figsize
        self.references = dict(references or {})
        self.history = History()
        self.redraws = 0
        self._fig = self._handle = None
        self._live = every > 0 and in_notebook()

    def __call__(self, i: int, history: History) -> None:
        """The ``train_loop`` callback: remember the history and redraw after every ``every`` steps."""
        self.history = history
        if self._live and (i + 1) % self.every == 0:
            self.redraw()

    def redraw(self) -> None:
        """Draw the curves so far into the figure and update it in the notebook."""
        import matplotlib.pyplot as plt
        from IPython.display import display

        if self._fig is None:
            self._fig, self._ax = plt.subplots(figsize=self.figsize)
        self._ax.clear()
        self._plot(self._ax, f"{self.title} (step {len(self.history.steps)})")
        if self._handle is None:
            self._handle = display(self._fig, display_id=True)
        else:
            self._handle.update(self._fig)
        self.redraws += 1

    def finish(self, history: History | None = None):
        """Draw the final plot (from ``history`` if given) and return its axes."""
        import matplotlib.pyplot as plt

        if history is not None:
            self.history = history
        if self._handle is not None:
            self.redraw()
            ax = self._ax
            plt.close(self._fig)  # shown through the display handle; keep the inline backend from showing it twice
            return ax
        return self._plot(None, self.title)

    def _plot(self, ax, title: str):
        ax = plot_losses(self.history, ax=ax, smooth=self.smooth, title=title)
        for (label, value), style in zip(self.references.items(), itertools.cycle(("--", ":", "-."))):
            ax.axhline(value, color="gray", ls=style, label=label)
        if self.references:
            ax.legend()
        return ax
