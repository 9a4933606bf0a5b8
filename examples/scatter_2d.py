"""A 2-D two-component fit drawn as a coloured scatter with covariance ellipses
============================================================================

Two correlated Gaussian clouds are simulated, gmmx.GaussianMixture fits a
full-covariance mixture, and plot_clusters draws each point in the colour of
its most probable component with the 1- and 2-sd ellipses of each component.

Run it with::

    python examples/scatter_2d.py [--out DIR] [--show]
"""

import argparse
import os

import numpy as np

from gmmx import GaussianMixture
from gmmx.finance import mixture_mean_covariance
from gmmx.plotting import plot_clusters

TRUE_WEIGHTS = np.array([0.6, 0.4])
TRUE_MEANS = np.array([[0.0, 0.0], [4.0, 3.0]])
TRUE_COVS = np.array([[[1.0, 0.6], [0.6, 1.0]], [[1.5, -0.7], [-0.7, 0.8]]])


def simulate(n, seed):
    rng = np.random.default_rng(seed)
    k = rng.choice(2, size=n, p=TRUE_WEIGHTS)
    chol = np.linalg.cholesky(TRUE_COVS)
    z = rng.standard_normal((n, 2))
    return TRUE_MEANS[k] + np.einsum("nij,nj->ni", chol[k], z), k


def main(argv=None):
    parser = argparse.ArgumentParser(description=(__doc__ or "").partition("\n")[0])
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=".", help="directory for the figure")
    parser.add_argument("--show", action="store_true")
    args = parser.parse_args(argv)

    X, truth = simulate(args.n, args.seed)
    gm = GaussianMixture(n_components=2, covariance_type="full", random_state=args.seed).fit(X)
    order = np.argsort(gm.means_[:, 0])
    for j, k in enumerate(order):
        print(f"component {j}: weight {gm.weights_[k]:.3f} (true {TRUE_WEIGHTS[j]:.3f})  "
              f"mean {np.round(gm.means_[k], 3).tolist()} (true {TRUE_MEANS[j].tolist()})")
        print(f"  covariance {np.round(gm.covariances_[k], 3).tolist()} "
              f"(true {TRUE_COVS[j].tolist()})")
    agree = np.mean(order.argsort()[gm.predict(X)] == truth)
    print(f"points assigned to their true component: {agree:.1%}")
    mean, cov = mixture_mean_covariance(gm)
    print(f"mixture mean {np.round(mean, 3).tolist()}  covariance {np.round(cov, 3).tolist()}")

    ax = plot_clusters(X, gm)
    ax.set_title("Two-component fit with 1- and 2-sd ellipses")
    os.makedirs(args.out, exist_ok=True)
    png = os.path.join(args.out, "scatter_2d.png")
    ax.figure.savefig(png, dpi=100)
    print(f"saved {os.path.basename(png)}")
    if args.show:
        import matplotlib.pyplot as plt

        plt.show()


if __name__ == "__main__":
    main()
