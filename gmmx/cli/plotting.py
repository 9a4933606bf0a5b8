"""The figure of ``--plot``."""

from __future__ import annotations

import numpy as np

from ._common import _need


def _plot(path, model, sample, title, xlabel=None):
    mpl = _need("matplotlib", "plot", "plotting")
    mpl.use("Agg")  # files only: never needs a display
    import matplotlib.pyplot as plt

    from ..plotting import plot_clusters, plot_density

    d = model.means_.shape[1]
    if d == 1:
        ax = plot_density(sample, model, bins=200)
        if xlabel:
            ax.set_xlabel(xlabel)
    else:
        if sample.shape[0] > 20_000:  # a readable scatter, and fast
            rng = np.random.default_rng(0)
            sample = sample[rng.choice(sample.shape[0], 20_000, replace=False)]
        ax = plot_clusters(sample, model)
    ax.set_title(title, fontsize="medium")
    fig = ax.figure
    fig.tight_layout()
    try:
        fig.savefig(path, dpi=120)
    finally:
        plt.close(fig)

