"""Gaussian versus Student-t mixtures for S&P 500 daily log returns
==================================================================

The daily S&P 500 prices bundled with the ``arch`` package
(``pip install gmmx-em[examples]``), 1999-2018.  For K = 1..4 the script fits
a Gaussian mixture and a Student-t mixture (ν estimated per component) and
prints, for each, the BIC and the one-day 1 % value at risk and expected
shortfall of a long position beside the historical (empirical) figures.
It saves the fitted densities on a log scale, where the tails differ.

Run it with::

    python examples/sp500_student_t.py [--out DIR] [--show]
"""

import argparse
import os

import numpy as np

from gmmx import GaussianMixture, StudentTMixture
from gmmx.finance import expected_shortfall, log_returns, value_at_risk
from gmmx.plotting import plot_tail_comparison


def load_returns():
    from arch.data import sp500

    prices = sp500.load()["Adj Close"]
    return log_returns(prices)


def fit(family, k, x):
    """The best of two starts, converged tightly; reg_covar scaled to the data."""
    cls = StudentTMixture if family == "t" else GaussianMixture
    model = cls(n_components=k, n_init=2, tol=1e-7, max_iter=3000,
                reg_covar=1e-9 * x.var(), random_state=0)
    return model.fit(x.reshape(-1, 1))


def main(argv=None):
    parser = argparse.ArgumentParser(description=(__doc__ or "").partition("\n")[0])
    parser.add_argument("--out", default=".", help="directory for the figure")
    parser.add_argument("--show", action="store_true", help="also show the figure")
    args = parser.parse_args(argv)

    r = load_returns()
    x = r.to_numpy()
    X = x.reshape(-1, 1)
    print(f"S&P 500 daily log returns: {x.size} days, "
          f"{r.index[0]:%Y-%m-%d} to {r.index[-1]:%Y-%m-%d}")
    alpha = 0.01
    q = np.quantile(x, alpha)
    hist_var, hist_es = -q, -x[x <= q].mean()

    print(f"\n1-day 1% risk of a long position (empirical: VaR {hist_var:.5f}, "
          f"ES {hist_es:.5f})")
    print("model      K     BIC         VaR 1%    ES 1%     nu")
    models = {}
    for family in ("gaussian", "t"):
        for k in range(1, 5):
            m = fit(family, k, x)
            models[(family, k)] = m
            nu = ("  " + " ".join(f"{v:.2f}" for v in np.sort(m.degrees_of_freedom_))
                  if family == "t" else "")
            print(f"{family:<10} {k}  {m.bic(X):11.1f}   {value_at_risk(m, alpha):.5f}   "
                  f"{expected_shortfall(m, alpha):.5f}{nu}")
    best = {f: min(range(1, 5), key=lambda k: models[(f, k)].bic(X)) for f in ("gaussian", "t")}
    print(f"\nlowest BIC: gaussian K={best['gaussian']}, t K={best['t']}")

    import matplotlib.pyplot as plt

    ax = plot_tail_comparison(r, {
        f"Gaussian mixture K={best['gaussian']}": models[("gaussian", best["gaussian"])],
        f"t mixture K={best['t']}": models[("t", best["t"])]}, bins=150,
        xlim=(-0.15, 0.15), xlabel="S&P 500 daily log return",
        title="S&P 500: Gaussian vs Student-t mixture, log scale")
    path = os.path.join(args.out, "sp500_student_t.png")
    ax.figure.savefig(path, dpi=110, bbox_inches="tight")
    print(f"saved {os.path.basename(path)}")
    if args.show:
        plt.show()


if __name__ == "__main__":
    main()
