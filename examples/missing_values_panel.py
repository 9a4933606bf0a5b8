"""A ragged panel: S&P 500, NASDAQ and WTI crude on calendar dates, holidays left missing
======================================================================================

The three daily price series that ship with the ``arch`` package (``pip install
gmmx-em[examples]``) do not cover the same days: the oil series starts in 1986,
the two indices in 1999, and crude oil's spot price is missing on its own
holidays.  Each asset's daily return is computed on its own trading days
(from one quote to its next), and the returns are aligned on calendar dates,
so a day a market was closed (or before its series starts) leaves that
asset's entry missing (NaN).

Two fits of the same three-component full-covariance mixture:

* **complete case** (``nan_policy="omit"``): only the days all three traded
  (1999 on);
* **marginalized** (``nan_policy="marginalize"``): every day, its missing
  entries integrated out by EM: thirteen more years of oil returns inform
  the oil marginal and, through the regression on oil, the whole fit.

For each, the annualised volatilities and correlations of the fitted mixture
and the one-day value at risk and expected shortfall of a $1,000,000 book held
50 / 30 / 20, with :mod:`gmmx.finance`, also drawn side by side.

Run it with::

    python examples/missing_values_panel.py [--out DIR] [--show]
"""

import argparse
import os
import warnings

import numpy as np

from gmmx import GaussianMixture
from gmmx.finance import MultivariateMixture, expected_shortfall, value_at_risk

WEIGHTS = {"S&P 500": 0.5, "NASDAQ": 0.3, "WTI crude": 0.2}
POSITION = 1_000_000


def load_panel():
    """Simple daily returns per asset on its own trading days, aligned on calendar dates."""
    import pandas as pd
    from arch.data import nasdaq, sp500, wti

    prices = {"S&P 500": sp500.load()["Adj Close"], "NASDAQ": nasdaq.load()["Adj Close"],
              "WTI crude": wti.load()["DCOILWTICO"]}
    returns = {name: p.dropna().pct_change().iloc[1:] for name, p in prices.items()}
    panel = pd.concat(returns, axis=1, join="outer", sort=True)
    panel = panel.loc[:min(r.index[-1] for r in returns.values())]
    return panel.dropna(how="all")  # a day nobody traded is no observation


def fit(returns, policy):
    # Daily variances are ~1e-4: scale reg_covar to the data and converge tightly.
    reg_covar = 1e-9 * float(returns.var().mean())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # omit's count, printed below
        return GaussianMixture(3, covariance_type="full", n_init=3, tol=1e-7, max_iter=1000,
                               reg_covar=reg_covar, random_state=0,
                               nan_policy=policy).fit(returns)


def describe(name, gm):
    mix = MultivariateMixture.from_model(gm)
    cov = mix.covariance()
    vol = np.sqrt(252 * np.diag(cov))
    corr = cov / np.sqrt(np.outer(np.diag(cov), np.diag(cov)))
    print(f"\n{name}: annualised volatility "
          + ", ".join(f"{c} {v:.1%}" for c, v in zip(gm.feature_names_in_, vol)))
    print(f"  correlations: S&P/NASDAQ {corr[0, 1]:.3f}, S&P/WTI {corr[0, 2]:.3f}, "
          f"NASDAQ/WTI {corr[1, 2]:.3f}")
    risk = {}
    for alpha in (0.05, 0.01):
        var = value_at_risk(gm, alpha, weights=WEIGHTS, position=POSITION)
        es = expected_shortfall(gm, alpha, weights=WEIGHTS, position=POSITION)
        print(f"  {1 - alpha:.0%} one-day VaR ${var:,.0f}  ES ${es:,.0f}")
        risk[f"{1 - alpha:.0%} VaR"], risk[f"{1 - alpha:.0%} ES"] = var, es
    return risk


def plot(risks, path, show):
    """One-day VaR and ES of the book under each fit, as grouped bars."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    labels = list(next(iter(risks.values())))
    x = np.arange(len(labels))
    for j, (name, risk) in enumerate(risks.items()):
        ax.bar(x + (j - 0.5) * 0.4, [risk[k] for k in labels], width=0.4, label=name)
    ax.set_xticks(x, labels)
    ax.set(ylabel="US$ on a $1,000,000 book", title="S&P 500 / NASDAQ / WTI, 50 / 30 / 20")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    print(f"saved {os.path.basename(path)}")
    if show:
        plt.show()


def main(argv=None):
    parser = argparse.ArgumentParser(description=(__doc__ or "").partition("\n")[0])
    parser.add_argument("--out", default=".", help="directory for the figure")
    parser.add_argument("--show", action="store_true", help="show the figure")
    args = parser.parse_args(argv)
    panel = load_panel()
    gaps = panel.isna()
    print(f"{len(panel)} calendar days {panel.index[0]:%Y-%m-%d} to {panel.index[-1]:%Y-%m-%d}; "
          f"{int(gaps.any(axis=1).sum())} with a missing return "
          f"({', '.join(f'{c} {int(n)}' for c, n in gaps.sum().items())})")
    complete = fit(panel, "omit")
    marginal = fit(panel, "marginalize")
    print(f"complete case fits {int((~gaps.any(axis=1)).sum())} days; marginalized fits "
          f"{len(panel)} days ({int(gaps.to_numpy().sum())} missing entries integrated out)")
    risks = {"complete case": describe("complete case", complete),
             "marginalized": describe("marginalized", marginal)}
    plot(risks, os.path.join(args.out, "missing_values_panel.png"), args.show)


if __name__ == "__main__":
    main()
