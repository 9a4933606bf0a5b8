"""Dask collections on dask's local scheduler (no distributed cluster needed)."""

from functools import partial

import numpy as np
import pytest

from conftest import GaussianMixture, assert_same_fit, perturbed_init
from conftest import two_clusters as _data

dask = pytest.importorskip("dask")
da = pytest.importorskip("dask.array")

pytestmark = pytest.mark.filterwarnings("ignore::gmmx.ConvergenceWarning")

_init = partial(perturbed_init, max_iter=2, shift=0.2)


@pytest.mark.parametrize("cov", ["full", "spherical"])
def test_dask_array_with_numpy_sample_weight_equals_in_memory(cov):
    """A dask array X with a plain numpy sample_weight (cut to X's row blocks) fits as the
    same rows and weights in memory."""
    X = _data(d=2)
    w = np.random.default_rng(2).uniform(0, 2, len(X))
    init = _init(X, 3, cov)
    kw = dict(covariance_type=cov, max_iter=6, tol=0, **init)
    ref = GaussianMixture(3, **kw).fit(X, sample_weight=w)
    dX = da.from_array(X, chunks=(700, 2))
    with dask.config.set(scheduler="synchronous"):
        m = GaussianMixture(3, **kw).fit(dX, sample_weight=w)
        unweighted = GaussianMixture(3, **kw).fit(dX)
    assert_same_fit(m, ref)
    # the weights matter: without them the fit is another one
    assert not np.allclose(unweighted.means_, m.means_, rtol=1e-6)
    with dask.config.set(scheduler="synchronous"), \
            pytest.raises(ValueError, match=rf"sample_weight must have shape \({len(X)},\)"):
        GaussianMixture(3, **kw).fit(dX, sample_weight=w[:-1])
