"""Volatility regimes of the S&P 500, 1999-2018, from a Gaussian mixture of daily returns
======================================================================================

Fits two regimes to daily log returns (data bundled with ``arch``:
``pip install gmmx-em[examples]``), prints the regime table (weight, mean,
annualised volatility, mean duration in days), and saves the price series
shaded by regime and the BIC/AIC curve over the number of components.

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

    os.makedirs(args.out, exist_ok=True)
    ax = plot_regimes(prices, regimes, label_names=["calm", "volatile"])
    ax.set_yscale("log")
    ax.set_title("S&P 500 shaded by GM(2) regime")
    shaded_png = os.path.join(args.out, "sp500_regimes.png")
    ax.figure.savefig(shaded_png, dpi=100)

    x = r.to_numpy().reshape(-1, 1)
    ax = plot_information_criteria(x, range(1, 6), random_state=0, tol=1e-5, max_iter=500,
                                   reg_covar=1e-9 * float(np.var(x)))
    ax.set_title("Information criteria for the number of components")
    ic_png = os.path.join(args.out, "sp500_bic_aic.png")
    ax.figure.savefig(ic_png, dpi=100)
    print(f"saved {shaded_png} and {ic_png}")
    if args.show:
        import matplotlib.pyplot as plt

        plt.show()


if __name__ == "__main__":
    main()
