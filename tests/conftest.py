import contextlib
import os
import warnings

import numpy as np
import pytest
from scipy.special import logsumexp

from gmmx import GaussianMixture as _GaussianMixture
from gmmx._kernels import _simd
from gmmx.core.stats import SufficientStats

FITTED_PARAMS = ("weights_", "means_", "covariances_", "precisions_cholesky_")

# Tests of the native kernels run once per SIMD target this machine can run
# (baseline, AVX2, AVX-512 on x86-64), so a developer on either kind of CPU
# tests every copy of the kernels it has. GMMX_TEST_SIMD_TARGETS=default runs
# them on the default target only. A module that switches targets itself sets
# SWITCHES_SIMD_TARGETS = True.
SIMD_TARGET_TESTS = ("tests/kernels/", "tests/core/test_kernel.py", "tests/hmm/test_hmm_kernel.py",
                     "tests/core/test_missing_kernel.py", "tests/core/test_student_estep.py")


def simd_targets_to_test():
    """The SIMD targets the kernel tests run on (see SIMD_TARGET_TESTS)."""
    if os.environ.get("GMMX_TEST_SIMD_TARGETS", "all") == "default":
        return [_simd.default_target()]
    return _simd.runnable_targets()


def pytest_generate_tests(metafunc):
    path = metafunc.definition.path.as_posix()
    if (any(part in path for part in SIMD_TARGET_TESTS)
            and not getattr(metafunc.module, "SWITCHES_SIMD_TARGETS", False)):
        metafunc.parametrize("simd_target", simd_targets_to_test(), indirect=True)


@pytest.fixture(autouse=True)
def simd_target(request):
    """Run the test on SIMD target ``request.param`` (kernel tests), else as is."""
    name = getattr(request, "param", None)
    if name is None:
        yield _simd.current_target()
        return
    previous = _simd._set_target(name)
    try:
        yield name
    finally:
        _simd._set_target(previous)


def GaussianMixture(*args, **kwargs):
    """One kernel thread by default: tests stay fast on a loaded 2-core box."""
    kwargs.setdefault("n_threads", 1)
    return _GaussianMixture(*args, **kwargs)


def blobs(n, d, k, seed=0, scale=4.0, dtype=np.float64):
    """Well-separated Gaussian blobs: (X, labels, centres)."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(scale=scale, size=(k, d))
    labels = rng.integers(0, k, n)
    X = centers[labels] + rng.normal(size=(n, d))
    return X.astype(dtype), labels, centers


def blobs_at(centers, n, seed=0):
    """Unit-variance blobs around the given centres: (X, labels, centers)."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, len(centers), n)
    return centers[labels] + rng.normal(size=(n, centers.shape[1])), labels, centers


def two_clusters(n=3000, d=3, seed=0, locs=(-2.0, 2.0), scales=(1.0, 0.5), stretch=False):
    """Two shuffled Gaussian clusters of ``n // 2`` and ``n - n // 2`` rows.

    Row ``i`` of cluster ``j`` is ``normal(locs[j], scales[j], d)``; with
    ``stretch`` the second cluster's columns are scaled by ``linspace(1, 2, d)``.
    """
    rng = np.random.default_rng(seed)
    a = rng.normal(locs[0], scales[0], (n // 2, d))
    b = rng.normal(locs[1], scales[1], (n - n // 2, d))
    if stretch:
        b = b * np.linspace(1, 2, d)
    X = np.concatenate([a, b])
    rng.shuffle(X)
    return X


def ticks(n, seed=0, regime_rows=20_000, wide_share=(0.04, 0.36), sds=(1e-4, 4e-4)):
    """Time-ordered tick returns: two zero-mean components (sd 1e-4 and 4e-4) whose
    mix changes between volatility regimes of ``regime_rows`` rows (~15 % wide
    overall), shape (n, 1)."""
    rng = np.random.default_rng(seed)
    share = np.repeat(rng.choice(wide_share, -(-n // regime_rows), p=[0.65, 0.35]),
                      regime_rows)[:n]
    wide = rng.random(n) < share
    return np.where(wide, rng.normal(0, sds[1], n), rng.normal(0, sds[0], n)).reshape(-1, 1)


def perturbed_init(X, K=3, cov="full", seed=0, max_iter=3, shift=0.1):
    """``*_init`` parameters of a short fit, means moved by ``shift``: a start
    that still needs the iterations the test runs."""
    m = GaussianMixture(K, covariance_type=cov, random_state=seed, max_iter=max_iter).fit(X)
    return dict(weights_init=m.weights_, means_init=m.means_ + shift, precisions_init=m.precisions_)


def assert_same_fit(a, b, rtol=1e-10, same_run=True):
    """Fitted parameters equal to ``rtol`` of each array's largest entry; with
    ``same_run`` also the same ``n_iter_`` and ``lower_bound_`` (to ``rtol``)."""
    for name in FITTED_PARAMS:
        x, y = getattr(a, name), getattr(b, name)
        scale = np.max(np.abs(y))
        np.testing.assert_allclose(x, y, rtol=0, atol=rtol * scale, err_msg=name)
    if same_run:
        assert a.n_iter_ == b.n_iter_
        assert abs(a.lower_bound_ - b.lower_bound_) <= rtol * abs(b.lower_bound_)


def init_params(X, k, covariance_type, seed=0):
    """Deterministic initial weights, means and precisions for a model."""
    rng = np.random.default_rng(seed)
    n, d = X.shape
    weights = rng.dirichlet(np.ones(k) * 5)
    means = X[rng.choice(n, k, replace=False)].astype(np.float64)
    if covariance_type == "full":
        precisions = np.array([np.eye(d) * rng.uniform(0.5, 2.0) for _ in range(k)])
    elif covariance_type == "tied":
        precisions = np.eye(d) * 0.8
    elif covariance_type == "diag":
        precisions = rng.uniform(0.5, 2.0, (k, d))
    else:
        precisions = rng.uniform(0.5, 2.0, k)
    return dict(weights_init=weights, means_init=means, precisions_init=precisions)


def random_model(rng, k, d, covariance_type):
    """Random (weights, means, covariances, full covariances (k, d, d))."""
    means = rng.normal(size=(k, d))
    weights = rng.dirichlet(np.ones(k))
    if covariance_type == "full":
        A = rng.normal(size=(k, d, d))
        cov = A @ A.transpose(0, 2, 1) / d + np.eye(d)
        full = cov
    elif covariance_type == "tied":
        A = rng.normal(size=(d, d))
        cov = A @ A.T / d + np.eye(d)
        full = np.broadcast_to(cov, (k, d, d))
    elif covariance_type == "diag":
        cov = rng.uniform(0.5, 2.0, (k, d))
        full = np.array([np.diag(c) for c in cov])
    else:
        cov = rng.uniform(0.5, 2.0, k)
        full = np.array([np.eye(d) * c for c in cov])
    return weights, means, cov, full


def stats_about(X, r, centers, covariance_type):
    """SufficientStats of responsibilities ``r`` about ``centers``, by explicit sums."""
    K, d = centers.shape
    st = SufficientStats.zeros(covariance_type, centers)
    for k in range(K):
        D = X - centers[k]
        st.nk[k] = r[:, k].sum()
        st.sk[k] = r[:, k] @ D
        M = (D * r[:, k, None]).T @ D
        st.Mk[k] = M if st.Mk.ndim == 3 else np.diag(M)
    st.weight_sum = float(X.shape[0])
    st.n_samples = X.shape[0]
    return st


def brute_force_log_densities(X, weights, means, full):
    """``log w_k + log N(x_i | mu_k, full_k)``, shape (n, k), by explicit inverses."""
    n, d = X.shape
    k = len(weights)
    lp = np.empty((n, k))
    for j in range(k):
        diff = X - means[j]
        P = np.linalg.inv(full[j])
        lp[:, j] = (np.log(weights[j]) - 0.5 * np.einsum("ij,jk,ik->i", diff, P, diff)
                    - 0.5 * np.linalg.slogdet(2 * np.pi * full[j])[1])
    return lp


def brute_force_stats(X, r, centers):
    """``(nk, sk, Mk)`` of weighted responsibilities ``r`` (n, k) about ``centers``."""
    k = r.shape[1]
    nk = r.sum(0)
    sk = np.array([r[:, j] @ (X - centers[j]) for j in range(k)])
    Mk = np.array([(r[:, j, None] * (X - centers[j])).T @ (X - centers[j]) for j in range(k)])
    return nk, sk, Mk


def scatter_in_use(Mk, covariance_type):
    """What a model uses of ``SufficientStats.Mk``: all of it, except tied, whose
    statistics define only the pooled sum over components (shape (1, d, d))."""
    Mk = np.asarray(Mk)
    return Mk.sum(axis=0, keepdims=True) if covariance_type == "tied" else Mk


def brute_force_estep(X, w, weights, means, full):
    """``(log p(x_i), resp, nk, sk, Mk, log-likelihood)`` with sample weights ``w``."""
    lp = brute_force_log_densities(X, weights, means, full)
    norm = logsumexp(lp, axis=1)
    resp = np.exp(lp - norm[:, None])
    nk, sk, Mk = brute_force_stats(X, resp * w[:, None], means)
    return norm, resp, nk, sk, Mk, float(w @ norm)


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


def fit_warnings():
    """The warnings a fit is expected to give in tests that push it (few iterations,
    degenerate data): non-convergence (gmmx's and scikit-learn's, for reference fits)
    and a reg_covar large against the data."""
    from gmmx.exceptions import ConvergenceWarning, RegCovarWarning

    categories = [ConvergenceWarning, RegCovarWarning]
    try:
        from sklearn.exceptions import ConvergenceWarning as SKConvergenceWarning
    except ImportError:
        pass
    else:
        categories.append(SKConvergenceWarning)
    return tuple(categories)


@contextlib.contextmanager
def expected_warnings(*categories):
    """Ignore only ``categories`` (default :func:`fit_warnings`) in the block: any other
    warning -- a RuntimeWarning from gmmx above all, which pytest turns into an
    error -- still surfaces (a blanket ``simplefilter("ignore")`` would hide it)."""
    with warnings.catch_warnings():
        for category in categories or fit_warnings():
            warnings.simplefilter("ignore", category)
        yield


# ---------------------------------------------------------------- reference data
# faithful.csv, iris.csv: R's datasets; mclust_reference.json: numbers from R
# mclust 6.0.0, produced by tests/data/mclust_reference.R (see its comments).
import functools  # noqa: E402
import json  # noqa: E402
from pathlib import Path  # noqa: E402

DATA_DIR = Path(__file__).parent / "data"

#: mclust model name -> gmmx covariance_type
MCLUST_MODELS = {"VVV": "full", "EEE": "tied", "VVI": "diag", "VII": "spherical"}


@functools.lru_cache(maxsize=None)
def _reference_csv(name):
    return np.loadtxt(DATA_DIR / f"{name}.csv", delimiter=",", skiprows=1)


def reference_data(name):
    """Old Faithful (``"faithful"``, 272 x 2) or Fisher's iris (``"iris"``, 150 x 4)."""
    return _reference_csv(name).copy()


@functools.lru_cache(maxsize=None)
def mclust_reference():
    """The numbers of tests/data/mclust_reference.json (R mclust), as a dict."""
    with open(DATA_DIR / "mclust_reference.json") as f:
        return json.load(f)


class CountingSource:
    """An iterable chunk source that counts full passes and rows read."""

    def __init__(self, X, chunk_rows, sample_weight=None):
        self.X, self.w, self.chunk_rows = X, sample_weight, chunk_rows
        self.passes = 0
        self.rows_read = 0

    def __iter__(self):
        for i in range(0, self.X.shape[0], self.chunk_rows):
            block = self.X[i:i + self.chunk_rows]
            self.rows_read += block.shape[0]
            if self.w is None:
                yield block
            else:
                yield block, self.w[i:i + self.chunk_rows]
        self.passes += 1


def random_hmm(rng, k, d, covariance_type, stay=0.8):
    """Random sticky HMM parameters ``(startprob, transmat, means, covars)``
    (``covars`` in the covariance type's own shape)."""
    startprob = rng.dirichlet(np.ones(k) * 3)
    transmat = rng.dirichlet(np.ones(k), size=k) * (1 - stay) + stay * np.eye(k)
    _, means, covars, _ = random_model(rng, k, d, covariance_type)
    return startprob, transmat, means * 2.0, covars


def brute_force_hmm(lp, startprob, transmat, w=None):
    """Log-space forward-backward of one sequence with emissions ``w_t * lp_t``:
    ``(log p, gamma (n, k), xi sum (k, k), filtered (n, k))``."""
    lw = lp if w is None else lp * np.asarray(w)[:, None]
    n, k = lw.shape
    with np.errstate(divide="ignore"):
        logA, logpi = np.log(transmat), np.log(startprob)
    fwd, bwd = np.empty((n, k)), np.zeros((n, k))
    fwd[0] = logpi + lw[0]
    for t in range(1, n):
        fwd[t] = logsumexp(fwd[t - 1][:, None] + logA, axis=0) + lw[t]
    ll = logsumexp(fwd[-1])
    for t in range(n - 2, -1, -1):
        bwd[t] = logsumexp(logA + lw[t + 1] + bwd[t + 1], axis=1)
    gamma = np.exp(fwd + bwd - ll)
    xi = np.zeros((k, k))
    for t in range(n - 1):
        xi += np.exp(fwd[t][:, None] + logA + lw[t + 1] + bwd[t + 1] - ll)
    filtered = np.exp(fwd - logsumexp(fwd, axis=1, keepdims=True))
    return ll, gamma, xi, filtered


def bgm_attributes(model):
    """A fitted BayesianGaussianMixture's variational parameters, as float64 arrays."""
    names = ("weight_concentration_", "mean_precision_", "means_", "degrees_of_freedom_",
             "covariances_", "precisions_", "precisions_cholesky_", "weights_")
    out = {}
    for name in names:
        value = getattr(model, name)
        out[name] = np.asarray(np.vstack(value) if isinstance(value, tuple) else value,
                               dtype=np.float64)
    return out


def assert_same_bgm(a, b, rtol):
    """Two BayesianGaussianMixture fits (gmmx or scikit-learn) agree to ``rtol``."""
    pa, pb = bgm_attributes(a), bgm_attributes(b)
    for name in pa:
        scale = np.abs(pb[name]).max()
        np.testing.assert_allclose(pa[name], pb[name], rtol=rtol, atol=rtol * scale,
                                   err_msg=name)


def with_missing(X, frac=0.2, seed=0, single_rows=10):
    """``X`` with a ``frac`` of its entries NaN at random, and ``single_rows`` rows
    that keep a single observed feature; no row loses every entry."""
    rng = np.random.default_rng(seed)
    X = np.array(X, dtype=np.float64)
    n, d = X.shape
    mask = rng.random((n, d)) < frac
    rows = rng.choice(n, single_rows, replace=False)
    mask[rows] = True
    mask[rows, rng.integers(0, d, single_rows)] = False
    empty = mask.all(axis=1)
    mask[empty, rng.integers(0, d, int(empty.sum()))] = False
    X[mask] = np.nan
    return X


def brute_force_marginal_log_densities(X, weights, means, full):
    """``log w_k + log N(x_o | mu_ko, full_k,oo)`` row by row over the observed entries."""
    from scipy.stats import multivariate_normal

    n, _ = X.shape
    lp = np.empty((n, len(weights)))
    for i in range(n):
        o = ~np.isnan(X[i])
        for k in range(len(weights)):
            lp[i, k] = np.log(weights[k]) + multivariate_normal.logpdf(
                X[i, o], means[k][o], full[k][np.ix_(o, o)])
    return lp


def t_row_posterior(x, mean, S, nu):
    """One row's t posterior over its observed entries, brute force: ``log t(x_o)``,
    ``u = (nu + d_o) / (nu + delta_o)``, ``E[log tau] - log u``, the row with its gaps
    filled by the conditional mean and the gaps' conditional covariance."""
    from scipy import stats
    from scipy.special import digamma

    o, m = ~np.isnan(x), np.isnan(x)
    d_o = int(o.sum())
    Soo = S[np.ix_(o, o)]
    dev = x[o] - mean[o]
    delta = dev @ np.linalg.solve(Soo, dev)
    log_t = stats.multivariate_t(mean[o], Soo, df=nu).logpdf(x[o])
    u = (nu + d_o) / (nu + delta)
    log_tau_shift = digamma(0.5 * (nu + d_o)) - np.log(0.5 * (nu + d_o))
    xhat, C = x.copy(), np.zeros((x.size, x.size))
    if m.any():
        B = S[np.ix_(m, o)] @ np.linalg.inv(Soo)
        xhat[m] = mean[m] + B @ dev
        C[np.ix_(m, m)] = S[np.ix_(m, m)] - B @ S[np.ix_(o, m)]
    return log_t, u, log_tau_shift, xhat, C


def t_dof_root(a):
    """The ν solving ``-psi(nu/2) + log(nu/2) + 1 + a = 0`` (the t M-step's equation)."""
    from scipy.optimize import brentq
    from scipy.special import digamma

    def f(v):
        return -digamma(0.5 * v) + np.log(0.5 * v) + 1.0 + a
    return brentq(f, 1e-3, 1e3, xtol=1e-13, rtol=1e-15)


def covariance_from_scatter(E, nk, reg, covariance_type):
    """The covariance parameter (in ``covariance_type``'s layout) and its (K, d, d)
    full form from per-component scatter matrices ``E`` (K, d, d) already divided by
    the weights ``nk``, with ``reg`` added to the diagonal."""
    K, d = E.shape[0], E.shape[1]
    if covariance_type == "full":
        cov = E + reg * np.eye(d)
        full = cov
    elif covariance_type == "tied":
        cov = np.einsum("k,kij->ij", nk, E) / nk.sum() + reg * np.eye(d)
        full = np.broadcast_to(cov, (K, d, d))
    elif covariance_type == "diag":
        cov = np.diagonal(E, axis1=1, axis2=2) + reg
        full = np.array([np.diag(c) for c in cov])
    else:
        cov = np.diagonal(E, axis1=1, axis2=2).mean(axis=1) + reg
        full = np.array([np.eye(d) * c for c in cov])
    return cov, np.array(full)


def check_estimator_statuses(est):
    """scikit-learn's check_estimator on ``est`` (warnings silenced) with the
    declared expected failures: ``({check name: status}, expected failures)``."""
    from sklearn.utils.estimator_checks import check_estimator

    from gmmx.mixture import expected_failed_checks
    expected = expected_failed_checks(est)
    results = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check_estimator(est, expected_failed_checks=expected, on_fail=None,
                        callback=lambda **kw: results.append(kw))
    return {r["check_name"]: r["status"] for r in results}, expected


def submodule_names_after_import(package, modules):
    """``getattr(package, m).__name__`` for ``modules``, right after a fresh process
    imports ``package`` (a package whose names load on first use)."""
    import subprocess
    import sys

    code = (f"import json, {package} as p\n"
            f"print(json.dumps([getattr(p, m).__name__ for m in {modules!r}]))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    return json.loads(out.stdout)
