"""Volatility regimes of the S&P 500, 1999-2018: a Gaussian mixture beside a hidden Markov model
=============================================================================================

Fits two regimes to daily log returns (data bundled with ``arch``:
``pip install gmmx-em[examples]``) twice: with an i.i.d. Gaussian mixture,
which labels each day on its own (the turbulent regime flickers, lasting a
day or two), and with a Gaussian hidden Markov model, whose regimes persist
for weeks to months.  Prints both regime tables (weight, mean, annualised
volatility, mean duration in days; for the HMM also the expected duration
1 / (1 - p_kk) from its transition matrix), and saves the price series shaded
by each model's regimes with the HMM's filtered (causal) probabilities, and
the BIC/AIC curve over the number of mixture components.

Run it with::

    python examples/sp500_regimes.py [--out DIR] [--show]
"""

import argparse
import os

import numpy as np

from gmmx.finance import log_returns
from gmmx.plotting import plot_information_criteria, plot_regimes
from gmmx.regimes import detect_regimes


def main(argv=None):
    parser = argparse.ArgumentParser(description=(__doc__ or "").partition("\n")[0])
    parser.add_argument("--out", default=".", help="directory for the figures")
    parser.add_argument("--show", action="store_true")
    args = parser.parse_args(argv)

    from arch.data import sp500

    prices = sp500.load()["Adj Close"]
    r = log_returns(prices)
    regimes = detect_regimes(r, n_regimes=2, periods_per_year=252)
    print("S&P 500 regimes (regime 0 = calm):")
    print(regimes.table().to_string(float_format=lambda v: f"{v:.5f}"))
    share = regimes.labels.value_counts(normalize=True).sort_index()
    print("share of days:", ", ".join(f"regime {k}: {v:.1%}" for k, v in share.items()))
    print("most volatile month:", regimes.probabilities["regime_1"].resample("ME").mean().idxmax()
          .strftime("%Y-%m"))

    hmm = detect_regimes(r, n_regimes=2, periods_per_year=252, method="hmm")
    print("\nHidden Markov model regimes (persistent):")
    table = hmm.table().rename(index={0: "calm", 1: "volatile"})
    print(table.to_string(float_format=lambda v: f"{v:.5f}"))
    print("transition matrix:", np.array2string(hmm.transmat, precision=4))
    print("mean duration in days, mixture vs HMM:", ", ".join(
        f"regime {k}: {a:.1f} vs {b:.1f}"
        for k, (a, b) in enumerate(zip(regimes.mean_duration, hmm.mean_duration))))

    os.makedirs(args.out, exist_ok=True)
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(3, 1, figsize=(11, 10), sharex=True)
    names = ["calm", "volatile"]
    plot_regimes(prices, regimes, label_names=names, ax=axes[0])
    axes[0].set_title("Gaussian mixture (each day on its own): regimes flicker")
    plot_regimes(prices, hmm, label_names=names, ax=axes[1])
    axes[1].set_title("Gaussian hidden Markov model: regimes persist for weeks to months")
    plot_regimes(prices, hmm, label_names=names, ax=axes[2], probabilities="filtered")
    axes[2].set_title("HMM filtered probabilities (no look-ahead)")
    for ax in axes:
        ax.set_yscale("log")
    fig.tight_layout()
    shaded_png = os.path.join(args.out, "sp500_regimes.png")
    fig.savefig(shaded_png, dpi=100)

    x = r.to_numpy().reshape(-1, 1)
    ax = plot_information_criteria(x, range(1, 6), random_state=0, tol=1e-5, max_iter=500,
                                   reg_covar=1e-9 * float(np.var(x)))
    ax.set_title("Information criteria for the number of components")
    ic_png = os.path.join(args.out, "sp500_bic_aic.png")
    ax.figure.savefig(ic_png, dpi=100)
    print(f"saved {os.path.basename(shaded_png)} and {os.path.basename(ic_png)}")
    if args.show:
        plt.show()


if __name__ == "__main__":
    main()
