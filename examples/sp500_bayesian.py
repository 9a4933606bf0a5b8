"""How many volatility regimes does the S&P 500 need? A Dirichlet process decides
================================================================================

Fits a variational Bayesian Gaussian mixture with a Dirichlet-process prior
(:class:`gmmx.BayesianGaussianMixture`) to daily log returns of the S&P 500,
1999-2018 (data bundled with ``arch``: ``pip install gmmx-em[examples]``),
allowing up to eight components.  Components the data do not need get a
negligible weight; the script prints the components it keeps (weight, mean,
annualised volatility), how the count moves with the concentration prior, and
the number of components BIC picks over a grid of maximum-likelihood fits,
for comparison.  Returns are in percent, so the default ``reg_covar`` is
negligible against their variance.  It saves the weights of the components
beside the returns' histogram and the fitted density.

Run it with::

    python examples/sp500_bayesian.py [--out DIR] [--show]
"""

import argparse
import os
import warnings

import numpy as np

import gmmx
from gmmx.finance import log_returns

KEEP = 0.01  # components above this weight count as regimes


def fit(r, concentration, n_init=3):
    model = gmmx.BayesianGaussianMixture(
        n_components=8, weight_concentration_prior=concentration, max_iter=2000,
        n_init=n_init, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", gmmx.ConvergenceWarning)
        return model.fit(r)


def main(argv=None):
    parser = argparse.ArgumentParser(description=(__doc__ or "").partition("\n")[0])
    parser.add_argument("--out", default=".", help="directory for the figure")
    parser.add_argument("--show", action="store_true", help="show the figure")
    args = parser.parse_args(argv)

    from arch.data import sp500

    r = 100 * log_returns(sp500.load()["Adj Close"]).to_numpy()[:, None]
    model = fit(r, None)
    order = np.argsort(model.weights_)[::-1]
    kept = [k for k in order if model.weights_[k] > KEEP]
    print(f"{len(r):,} daily returns; Dirichlet process over {model.n_components} components "
          f"(weight_concentration_prior = {model.weight_concentration_prior_:.3f})")
    print("component  weight   mean %  annualised vol %")
    for k in order:
        vol = np.sqrt(model.covariances_[k].item() * 252)
        flag = "" if model.weights_[k] > KEEP else "   (switched off)"
        print(f"{k:9d}  {model.weights_[k]:6.3f}  {model.means_[k, 0]:+6.3f}  {vol:15.1f}{flag}")
    print(f"regimes kept (weight > {KEEP:.0%}): {len(kept)}")

    # With thousands of rows the counts outweigh the prior: the count moves little
    for concentration in (1e-3, 1e3):
        m = fit(r, concentration, n_init=1)
        print(f"weight_concentration_prior = {concentration:g}: "
              f"{int(np.sum(m.weights_ > KEEP))} components above {KEEP:.0%}")

    bic = {}
    for k in range(1, 7):
        gm = gmmx.GaussianMixture(k, n_init=2, random_state=0).fit(r)
        bic[k] = gm.bic(r)
    print("BIC over K = 1..6:", ", ".join(f"{k}: {v:,.0f}" for k, v in bic.items()))
    print(f"BIC picks K = {min(bic, key=bic.get)}")
    plot(r, model, order, os.path.join(args.out, "sp500_bayesian.png"), args.show)


def plot(r, model, order, path, show):
    """Component weights (bars) and the fitted density over the histogram (log scale)."""
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    w = model.weights_[order]
    left.bar(np.arange(len(w)), w, color=["C0" if x > KEEP else "0.7" for x in w])
    left.axhline(KEEP, color="k", lw=0.8, ls="--")
    left.set(xlabel="component (by weight)", ylabel="weight",
             title="Dirichlet process: weights kept")
    grid = np.linspace(np.percentile(r, 0.05), np.percentile(r, 99.95), 600)[:, None]
    right.hist(r[:, 0], bins=150, density=True, color="0.8")
    right.plot(grid[:, 0], np.exp(model.score_samples(grid)), color="C3")
    right.set(yscale="log", xlabel="S&P 500 daily log return, %", ylabel="density",
              title="fitted variational mixture")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    print(f"saved {os.path.basename(path)}")
    if show:
        plt.show()


if __name__ == "__main__":
    main()
