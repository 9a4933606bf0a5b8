"""A two-component Gaussian mixture for S&P 500 daily log returns, 1999-2018
=========================================================================

The data are the daily S&P 500 prices bundled with the ``arch`` package
(``pip install gmmx-em[examples]``).  The script fits a GM(2) to the log
returns, prints the mixture's moments beside the sample's, the one-day value
at risk and expected shortfall of the mixture beside a normal fit, the
historical figures and a moment-matched GM(2), and saves the fitted density over the histogram and a
QQ plot.

Run it with::

    python examples/sp500_returns.py [--out DIR] [--show]
"""

import argparse
import os

import numpy as np
from scipy import stats

from gmmx import GaussianMixture
from gmmx.finance import UnivariateMixture, fit_gm2, log_returns
from gmmx.plotting import plot_density, plot_qq


def load_returns():
    from arch.data import sp500

    prices = sp500.load()["Adj Close"]
    return log_returns(prices)  # a pandas Series, dates kept


def main(argv=None):
    parser = argparse.ArgumentParser(description=(__doc__ or "").partition("\n")[0])
    parser.add_argument("--out", default=".", help="directory for the figures")
    parser.add_argument("--show", action="store_true", help="also show the figures")
    args = parser.parse_args(argv)

    r = load_returns()
    x = r.to_numpy()
    print(f"S&P 500 daily log returns: {x.size} days, "
          f"{r.index[0]:%Y-%m-%d} to {r.index[-1]:%Y-%m-%d}")

    # Daily variances are ~1e-4: scale reg_covar to the data and converge tightly.
    gm = GaussianMixture(n_components=2, n_init=3, tol=1e-7, max_iter=1000,
                         reg_covar=1e-9 * x.var(), random_state=0)
    gm.fit(x.reshape(-1, 1))
    mix = UnivariateMixture.from_model(gm)
    normal = UnivariateMixture([1.0], [x.mean()], stds=[x.std()])
    # Beside the EM fit: the structured GM(2) that matches the sample's
    # variance, kurtosis and sixth moment exactly.
    matched = fit_gm2(x, method="moments")

    print("\ncomponents (daily):")
    for k in np.argsort(mix.stds):
        print(f"  weight {mix.weights[k]:.4f}  mean {mix.means[k]: .6f}  "
              f"sd {mix.stds[k]:.6f}  (annualised vol {mix.stds[k] * np.sqrt(252):.1%})")

    m = mix.moments()
    mm = matched.moments()
    print(f"\nmoment-matched GM(2): p = {matched.weights[0]:.4f} at sd {matched.stds[0]:.6f}, "
          f"q = {matched.weights[1]:.4f} at sd {matched.stds[1]:.6f}")
    print("\nmoments           sample    mixture   matched")
    print(f"  mean        {x.mean(): .6f} {m.mean: .6f} {mm.mean: .6f}")
    print(f"  volatility  {x.std(): .6f} {m.std: .6f} {mm.std: .6f}")
    print(f"  skewness    {stats.skew(x): .6f} {m.skewness: .6f} {mm.skewness: .6f}")
    print(f"  kurtosis    {stats.kurtosis(x, fisher=False): .6f} {m.kurtosis: .6f} "
          f"{mm.kurtosis: .6f}")
    print(f"  excess kurt {stats.kurtosis(x): .6f} {m.excess_kurtosis: .6f} "
          f"{mm.excess_kurtosis: .6f}")

    print("\none-day risk of a long position (loss as a positive return)")
    print("  level   measure   mixture    normal  historical   matched")
    for alpha in (0.05, 0.01):
        q = np.quantile(x, alpha)
        hist_var, hist_es = -q, -x[x <= q].mean()
        print(f"  {alpha:>5.0%}   VaR      {mix.value_at_risk(alpha):.6f}  "
              f"{normal.value_at_risk(alpha):.6f}  {hist_var:.6f}    "
              f"{matched.value_at_risk(alpha):.6f}")
        print(f"  {alpha:>5.0%}   ES       {mix.expected_shortfall(alpha):.6f}  "
              f"{normal.expected_shortfall(alpha):.6f}  {hist_es:.6f}    "
              f"{matched.expected_shortfall(alpha):.6f}")
    position = 1_000_000
    print(f"  1% one-day VaR / ES of ${position:,}: "
          f"${mix.value_at_risk(0.01, position=position, log_returns=True):,.0f} / "
          f"${mix.expected_shortfall(0.01, position=position, log_returns=True):,.0f}")

    os.makedirs(args.out, exist_ok=True)
    ax = plot_density(x, mix, bins=150, xlim=(-0.06, 0.06))
    ax.set_title("S&P 500 daily log returns and the fitted GM(2)")
    density_png = os.path.join(args.out, "sp500_density.png")
    ax.figure.savefig(density_png, dpi=100)
    ax = plot_qq(x, mix)
    ax.set_title("S&P 500 daily log returns against the GM(2)")
    qq_png = os.path.join(args.out, "sp500_qq.png")
    ax.figure.savefig(qq_png, dpi=100)
    print(f"\nsaved {os.path.basename(density_png)} and {os.path.basename(qq_png)}")
    if args.show:
        import matplotlib.pyplot as plt

        plt.show()
    return mix


if __name__ == "__main__":
    main()
