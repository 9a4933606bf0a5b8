"""Value at risk of a three-asset portfolio: S&P 500, NASDAQ and crude oil, 1999-2018
===================================================================================

The daily prices of the S&P 500 and NASDAQ indices and of WTI crude oil ship
with the ``arch`` package (``pip install gmmx-em[examples]``).  The script
fits a three-component, full-covariance Gaussian mixture to the assets' joint
daily simple returns; a portfolio ``w'x`` of a Gaussian mixture is itself a
univariate mixture, so its value at risk and expected shortfall are exact.  It
prints them for a $1,000,000 book held 50 / 30 / 20 beside a normal
(one-component) fit and the historical figures, then conditions the mixture
on a scenario (crude oil falling 5 % in a day) and draws both loss
distributions with :func:`gmmx.plotting.plot_portfolio_risk`.

Run it with::

    python examples/portfolio_risk.py [--out DIR] [--show]
"""

import argparse
import os

import numpy as np

from gmmx import GaussianMixture
from gmmx.finance import (MultivariateMixture, UnivariateMixture, expected_shortfall,
                          log_returns, value_at_risk)
from gmmx.plotting import plot_portfolio_risk

WEIGHTS = {"S&P 500": 0.5, "NASDAQ": 0.3, "WTI crude": 0.2}
POSITION = 1_000_000
OIL_SHOCK = -0.05


def load_returns():
    """Daily simple returns of the three assets on their common trading days."""
    import pandas as pd
    from arch.data import nasdaq, sp500, wti

    prices = pd.concat({"S&P 500": sp500.load()["Adj Close"],
                        "NASDAQ": nasdaq.load()["Adj Close"],
                        "WTI crude": wti.load()["DCOILWTICO"]}, axis=1, join="inner")
    # The oil series has gaps (exchange holidays): keep the days all three traded.
    prices = prices.dropna()
    # Portfolio returns are weighted sums of simple returns, not of log returns.
    return np.expm1(log_returns(prices))


def fit(returns, n_components):
    # Daily variances are ~1e-4: scale reg_covar to the data and converge tightly.
    reg_covar = 1e-9 * float(returns.var().mean())
    return GaussianMixture(n_components=n_components, covariance_type="full", n_init=3,
                           tol=1e-7, max_iter=1000, reg_covar=reg_covar,
                           random_state=0).fit(returns)


def main(argv=None):
    parser = argparse.ArgumentParser(description=(__doc__ or "").partition("\n")[0])
    parser.add_argument("--out", default=".", help="directory for the figure")
    parser.add_argument("--show", action="store_true", help="also show the figure")
    args = parser.parse_args(argv)

    r = load_returns()
    print(f"daily returns of {', '.join(r.columns)}: {len(r)} days, "
          f"{r.index[0]:%Y-%m-%d} to {r.index[-1]:%Y-%m-%d}")
    gm = fit(r, 3)        # a DataFrame: the model keeps the column names
    normal = fit(r, 1)
    book = r.to_numpy() @ np.array([WEIGHTS[c] for c in r.columns])

    print("\nmixture components (annualised volatility per asset):")
    vols = np.sqrt(252 * np.diagonal(gm.covariances_, axis1=1, axis2=2))
    for k in np.argsort(vols.sum(axis=1)):
        print(f"  weight {gm.weights_[k]:.3f}  "
              + "  ".join(f"{c} {v:6.1%}" for c, v in zip(gm.feature_names_in_, vols[k])))

    weights = ", ".join(f"{w:.0%} {c}" for c, w in WEIGHTS.items())
    print(f"\none-day risk of ${POSITION:,} held {weights} (loss as a positive number)")
    print("  level  measure      mixture       normal   historical")
    for alpha in (0.05, 0.01):
        q = np.quantile(book, alpha)
        historical = {"VaR": -q, "ES": -book[book <= q].mean()}
        for measure, func in (("VaR", value_at_risk), ("ES", expected_shortfall)):
            mix, nor = (func(m, alpha, weights=WEIGHTS, position=POSITION) for m in (gm, normal))
            print(f"  {alpha:>5.0%}  {measure:<7} {mix:>12,.0f} {nor:>12,.0f} "
                  f"{POSITION * historical[measure]:>12,.0f}")

    # Scenario: condition every component on the oil return, re-weighting the
    # components by how likely each makes the shock, then add the oil leg.
    equities = {c: w for c, w in WEIGHTS.items() if c != "WTI crude"}
    given = MultivariateMixture.from_model(gm).conditional("WTI crude", OIL_SHOCK)
    rest = given.portfolio(equities)
    stressed = UnivariateMixture(rest.weights, rest.means + WEIGHTS["WTI crude"] * OIL_SHOCK,
                                 stds=rest.stds)
    print(f"\ngiven crude oil at {OIL_SHOCK:.0%} on the day: 1% VaR "
          f"${value_at_risk(stressed, 0.01, position=POSITION):,.0f}, 1% ES "
          f"${expected_shortfall(stressed, 0.01, position=POSITION):,.0f}")

    os.makedirs(args.out, exist_ok=True)
    import matplotlib.pyplot as plt

    # In return units (a loss of 0.03 is 3 % of the book); the lower row is the
    # same on a log density scale, where the tails beyond the VaR are visible.
    fig, axes = plt.subplots(2, 2, figsize=(13, 9), sharex=True)
    xlim = (-0.06, 0.08)
    for row, log in enumerate((False, True)):
        left, right = axes[row]
        left.hist(-book, bins=np.linspace(*xlim, 141), density=True, color="0.82",
                  label="historical daily losses")
        plot_portfolio_risk(gm, WEIGHTS, alpha=0.01, ax=left, xlim=xlim)
        plot_portfolio_risk(stressed, alpha=0.01, ax=right, xlim=xlim)
        if log:
            for ax in (left, right):
                ax.set_yscale("log")
                ax.set_ylim(1e-3, 100)
                ax.set_ylabel("density (log scale)")
    axes[0, 0].set_title("Three-component mixture of the joint returns")
    axes[0, 1].set_title(f"The same book on a day crude oil falls {-OIL_SHOCK:.0%}")
    fig.suptitle(f"One-day loss of a book held {weights}, 99 % VaR and ES")
    fig.tight_layout()
    png = os.path.join(args.out, "portfolio_risk.png")
    fig.savefig(png, dpi=100)
    print(f"\nsaved {os.path.basename(png)}")
    if args.show:
        plt.show()
    return gm


if __name__ == "__main__":
    main()
