"""GaussianHMM: filtering, weights, price-level data, validation, degenerate fits, save/load."""

import logging

import numpy as np
import pytest
from conftest import brute_force_hmm, random_hmm

import gmmx
from gmmx.hmm import ConvergenceMonitor, GaussianHMM

COVS = ["full", "tied", "diag", "spherical"]


def model_with(values, cov, **kwargs):
    startprob, transmat, means, covars = values
    m = GaussianHMM(len(startprob), covariance_type=cov, init_params="", **kwargs)
    m.startprob_, m.transmat_, m.means_, m.covars_ = startprob, transmat, means, covars
    return m


@pytest.fixture(scope="module")
def sticky():
    """A 3-state, 2-feature model and 1500 rows drawn from it."""
    rng = np.random.default_rng(11)
    params = random_hmm(rng, 3, 2, "full", stay=0.95)
    X, states = model_with(params, "full").sample(1500, random_state=3)
    return params, X, states


def brute_log_densities(X, means, full):
    out = np.empty((X.shape[0], len(means)))
    for k, (m, c) in enumerate(zip(means, full)):
        diff = X - m
        out[:, k] = (-0.5 * np.einsum("ij,jk,ik->i", diff, np.linalg.inv(c), diff)
                     - 0.5 * np.linalg.slogdet(2 * np.pi * c)[1])
    return out


def test_filter_proba_is_the_forward_recursion_and_causal(sticky):
    params, X, _ = sticky
    m = model_with(params, "full")
    m._check()
    lengths = [600, 900]
    filt = m.filter_proba(X, lengths)
    lp = brute_log_densities(X, m.means_, m.covars_)
    ref = np.vstack([brute_force_hmm(lp[a:b], m.startprob_, m.transmat_)[3]
                     for a, b in ((0, 600), (600, 1500))])
    np.testing.assert_allclose(filt, ref, atol=1e-10)
    # row t does not change when rows after t are appended (to the last bit for
    # d = 1; with BLAS the densities of a row may depend on its chunk's size)
    whole = m.filter_proba(X[600:])
    np.testing.assert_allclose(whole, filt[600:], rtol=0, atol=1e-14)
    for t in (0, 1, 57, 899):
        np.testing.assert_allclose(m.filter_proba(X[600:601 + t])[t], whole[t], rtol=0,
                                   atol=1e-14)
    uni = model_with((m.startprob_, m.transmat_, m.means_[:, :1], m.covars_[:, :1, :1]),
                     "full")
    x1 = np.ascontiguousarray(X[:, :1])
    full1 = uni.filter_proba(x1)
    for t in (0, 3, 1000):
        np.testing.assert_array_equal(uni.filter_proba(x1[:t + 1])[t], full1[t])
    # smoothing uses the future; filtering does not
    assert np.abs(m.predict_proba(X, lengths) - filt).max() > 0.05


def test_price_level_data_stay_exact():
    rng = np.random.default_rng(2)
    params = random_hmm(rng, 2, 2, "full", stay=0.9)
    X, _ = model_with(params, "full").sample(2000, random_state=1)
    X *= 1e-3                                       # tick-sized moves
    fits = []
    for offset in (0.0, 1e6):
        startprob, transmat, means, covars = params
        m = model_with((startprob, transmat, means * 1e-3 + offset, covars * 1e-6), "full",
                       n_iter=8, tol=-np.inf, covars_prior=1e-10)
        fits.append(m.fit(X + offset))
    a, b = fits
    np.testing.assert_allclose(b.means_ - 1e6, a.means_, atol=1e-9)
    np.testing.assert_allclose(b._covars_, a._covars_, rtol=1e-6)
    np.testing.assert_allclose(b.transmat_, a.transmat_, rtol=1e-6)
    np.testing.assert_array_equal(b.predict(X + 1e6), a.predict(X))


def test_unit_weights_equal_no_weights_and_zero_weights_drop_rows(sticky):
    params, X, _ = sticky
    plain = model_with(params, "full", n_iter=4, tol=-np.inf).fit(X)
    ones = model_with(params, "full", n_iter=4, tol=-np.inf).fit(X, sample_weight=np.ones(1500))
    np.testing.assert_array_equal(ones.means_, plain.means_)
    np.testing.assert_array_equal(ones.transmat_, plain.transmat_)
    # A weight-0 row is a missing observation: its value does not matter.
    w = np.ones(1500)
    w[[10, 700, 701]] = 0.0
    Y = X.copy()
    Y[[10, 700, 701]] = 1e3
    a = model_with(params, "full", n_iter=4, tol=-np.inf).fit(X, sample_weight=w)
    b = model_with(params, "full", n_iter=4, tol=-np.inf).fit(Y, sample_weight=w)
    np.testing.assert_allclose(b.means_, a.means_, rtol=1e-12)
    np.testing.assert_allclose(b.covars_, a.covars_, rtol=1e-12)
    assert a.score(X, sample_weight=w) == pytest.approx(b.score(Y, sample_weight=w), rel=1e-12)


def test_weighted_score_is_the_tempered_likelihood(sticky):
    params, X, _ = sticky
    m = model_with(params, "full")
    m._check()
    w = np.random.default_rng(0).uniform(0, 2, 300)
    lp = brute_log_densities(X[:300], m.means_, m.covars_)
    ll = brute_force_hmm(lp, m.startprob_, m.transmat_, w)[0]
    assert m.score(X[:300], sample_weight=w) == pytest.approx(ll, rel=1e-12)
    # EM on the tempered likelihood never decreases it
    fit = model_with(params, "full", n_iter=8, tol=-np.inf).fit(X[:300], sample_weight=w)
    assert np.all(np.diff(list(fit.monitor_.history)) > -1e-8)


@pytest.mark.parametrize("cov", COVS)
def test_covariances_without_means_use_the_occupancies(cov):
    # hmmlearn 0.3 computes covariances from empty mean statistics when 'c' is in
    # params but 'm' is not; gmmx uses the posterior occupancies about the fixed means.
    rng = np.random.default_rng(5)
    params = random_hmm(rng, 2, 2, cov, stay=0.9)
    X, _ = model_with(params, cov).sample(800, random_state=2)
    m = model_with(params, cov, n_iter=1, params="c", covars_prior=0.0)
    ref = model_with(params, cov)
    ref._check()
    gamma = ref.predict_proba(X)
    m.fit(X)
    full = np.einsum("tk,tki,tkj->kij", gamma, X[:, None] - ref.means_, X[:, None] - ref.means_)
    n = gamma.sum(0)
    expect = {"full": full / n[:, None, None],
              "tied": full.sum(0) / n.sum(),
              "diag": np.einsum("kii->ki", full) / n[:, None],
              "spherical": np.einsum("kii->ki", full).mean(1) / n}[cov]
    np.testing.assert_allclose(m._covars_, expect, rtol=1e-9)
    np.testing.assert_array_equal(m.means_, ref.means_)


def test_a_state_that_receives_no_weight_keeps_finite_parameters():
    rng = np.random.default_rng(8)
    X = rng.normal(size=(500, 1))
    m = GaussianHMM(3, covariance_type="full", init_params="", n_iter=3, tol=-np.inf)
    m.startprob_ = np.array([1.0, 0.0, 0.0])
    m.transmat_ = np.array([[1.0, 0.0, 0.0], [0.5, 0.5, 0.0], [0.0, 0.5, 0.5]])
    m.means_ = np.array([[0.0], [5.0], [-5.0]])
    m.covars_ = np.ones((3, 1, 1))
    with pytest.warns(UserWarning, match="no transition from state"):
        m.fit(X)
    assert np.all(np.isfinite(m.means_)) and np.all(np.isfinite(m.covars_))
    np.testing.assert_allclose(m.transmat_.sum(axis=1), 1.0)
    np.testing.assert_array_equal(m.means_[1:], [[5.0], [-5.0]])
    assert np.isfinite(m.score(X))


def test_hmmlearn_style_usage_and_attributes(sticky):
    params, X, _ = sticky
    m = GaussianHMM(3, covariance_type="full", n_iter=30, random_state=0).fit(X)
    assert m.startprob_.shape == (3,) and m.transmat_.shape == (3, 3)
    assert m.means_.shape == (3, 2) and m.covars_.shape == (3, 2, 2)
    assert m.n_features == 2
    assert isinstance(m.monitor_, ConvergenceMonitor) and m.monitor_.converged
    assert len(m.monitor_.history) == m.monitor_.iter
    Xs, Zs = m.sample(50, random_state=1)
    assert Xs.shape == (50, 2) and Zs.shape == (50,)
    X2, Z2 = m.sample(5, random_state=1, currstate=Zs[-1])
    assert Z2[0] == Zs[-1]
    for cov, shape in (("spherical", (3,)), ("diag", (3, 2)), ("tied", (2, 2))):
        fit = GaussianHMM(3, covariance_type=cov, random_state=0).fit(X)
        assert fit._covars_.shape == shape and fit.covars_.shape == (3, 2, 2)
    # set_params reaches the monitor (hmmlearn keeps the one built by __init__)
    m.set_params(n_iter=2, tol=-np.inf).fit(X)
    assert m.monitor_.iter == 2
    assert "n_components=3" in repr(m)
    with pytest.raises(ValueError, match="Invalid parameter"):
        m.set_params(bogus=1)


def test_float32_and_pandas_input(sticky):
    pd = pytest.importorskip("pandas")
    params, X, _ = sticky
    a = model_with(params, "full", n_iter=3, tol=-np.inf).fit(X)
    b = model_with(params, "full", n_iter=3, tol=-np.inf).fit(pd.DataFrame(X))
    np.testing.assert_array_equal(a.means_, b.means_)
    c = model_with(params, "full", n_iter=3, tol=-np.inf).fit(X.astype(np.float32))
    np.testing.assert_allclose(c.means_, a.means_, rtol=1e-5, atol=1e-6)


def test_zero_length_sequences_progress_and_verbose(sticky, monkeypatch, capsys):
    pytest.importorskip("tqdm")
    from gmmx import _progress

    params, X, _ = sticky
    a = model_with(params, "full", n_iter=3, tol=-np.inf).fit(X)
    monkeypatch.setattr(_progress, "progress_enabled", lambda flag, stream=None: bool(flag))
    b = model_with(params, "full", n_iter=3, tol=-np.inf, progress=True, verbose=True)
    b.fit(X, [0, 1500, 0])
    np.testing.assert_array_equal(a.means_, b.means_)
    err = capsys.readouterr().err
    assert "Baum-Welch" in err                                 # the progress bar
    assert f"{b.monitor_.history[-1]:.8f}" in err              # the verbose report


def test_results_do_not_depend_on_threads(sticky):
    params, X, _ = sticky
    lengths = [100] * 15
    fits = [model_with(params, "full", n_iter=3, tol=-np.inf, n_threads=t).fit(X, lengths)
            for t in (1, 2)]
    np.testing.assert_array_equal(fits[0].means_, fits[1].means_)
    np.testing.assert_array_equal(fits[0].transmat_, fits[1].transmat_)


@pytest.mark.parametrize("bad, match", [
    (dict(startprob_=[0.5, 0.4, 0.2]), "startprob_ must sum to 1"),
    (dict(transmat_=np.full((3, 3), 0.5)), "transmat_ rows must sum to 1"),
    (dict(transmat_=np.eye(2)), r"transmat_ must have shape \(3, 3\)"),
    (dict(means_=np.zeros((2, 2))), "means_ must have shape"),
    (dict(startprob_=[np.nan, 0.5, 0.5]), "NaN"),
])
def test_invalid_parameters_are_named(sticky, bad, match):
    params, X, _ = sticky
    m = model_with(params, "full")
    for name, value in bad.items():
        setattr(m, name, np.asarray(value))
    with pytest.raises(ValueError, match=match):
        m.fit(X)


def test_invalid_covariances_and_inputs_are_named(sticky):
    params, X, _ = sticky
    m = GaussianHMM(3, covariance_type="full")
    with pytest.raises(ValueError, match="must have shape"):
        m.covars_ = np.ones((3, 2))
    with pytest.raises(ValueError, match="symmetric, positive-definite"):
        m.covars_ = np.array([np.eye(2), -np.eye(2), np.eye(2)])
    with pytest.raises(ValueError, match="must be positive"):
        GaussianHMM(3, covariance_type="diag").covars_ = -np.ones((3, 2))
    fitted = model_with(params, "full")
    with pytest.raises(ValueError, match="lengths sum to 1499"):
        fitted.fit(X, [1000, 499])
    with pytest.raises(ValueError, match="non-negative"):
        fitted.score(X, [1600, -100])
    with pytest.raises(ValueError, match="expecting 2 features"):
        fitted.predict(X[:, :1])
    with pytest.raises(ValueError, match="NaN or infinity"):
        fitted.fit(np.where(np.arange(1500)[:, None] == 7, np.nan, X))
    with pytest.raises(ValueError, match="Unknown decoder"):
        fitted.decode(X, algorithm="greedy")
    with pytest.raises(ValueError, match="implementation"):
        GaussianHMM(2, implementation="fast").fit(X)
    with pytest.raises(ValueError, match="X has 1 features but means_ has 2"):
        model_with(params, "full").fit(X[:, :1])
    with pytest.raises(gmmx.NotFittedError):
        GaussianHMM(2).predict(X)


def test_degenerate_data_get_a_clear_error():
    # 30 copies of one value and no covariance prior: state 1 collapses onto them.
    rng = np.random.default_rng(0)
    X = np.r_[rng.normal(size=200), np.full(30, 5.0)].reshape(-1, 1)
    start = (np.array([0.5, 0.5]), np.full((2, 2), 0.5), np.array([[0.0], [5.0]]),
             np.array([[1.0], [1e-2]]))
    m = model_with(start, "diag", covars_prior=0.0, min_covar=0.0, n_iter=20, tol=-np.inf)
    with pytest.raises(ValueError, match="increase covars_prior or min_covar"):
        m.fit(X)
    # hmmlearn's default covars_prior keeps it finite
    m = model_with(start, "diag", n_iter=20, tol=-np.inf).fit(X)
    assert np.all(np.isfinite(m._covars_)) and np.all(m._covars_ > 0)


def test_degenerate_sample_size_is_logged(caplog):
    with caplog.at_level(logging.WARNING, logger="gmmx.hmm"):
        GaussianHMM(3, covariance_type="full", n_iter=1, random_state=0).fit(
            np.random.default_rng(0).normal(size=(4, 2)))
    assert "degenerate solution" in caplog.text


def test_save_load_roundtrip(tmp_path, sticky):
    params, X, _ = sticky
    m = model_with(params[:3] + (np.eye(2),), "tied", n_iter=3, tol=-np.inf, random_state=4,
                   transmat_prior=np.full((3, 3), 1.5))
    m.fit(X)
    path = tmp_path / "hmm.npz"
    m.save(path)
    back = gmmx.load(path)
    assert isinstance(back, GaussianHMM) and back.get_params().keys() == m.get_params().keys()
    np.testing.assert_array_equal(back.transmat_prior, m.transmat_prior)
    for name in ("startprob_", "transmat_", "means_", "covars_"):
        np.testing.assert_array_equal(getattr(back, name), getattr(m, name))
    assert list(back.monitor_.history) == list(m.monitor_.history)
    assert back.score(X) == m.score(X)
    GaussianHMM(2).save(tmp_path / "unfitted.npz")
    assert not hasattr(gmmx.load(tmp_path / "unfitted.npz"), "means_")


def test_load_rejects_inconsistent_archives(tmp_path, sticky):
    from gmmx import io

    params, X, _ = sticky
    m = model_with(params, "full")
    m.save(tmp_path / "ok.npz")
    meta, archive = io.read_archive(tmp_path / "ok.npz")
    with archive:  # a read-only, lazily read mapping: copy it to tamper with it
        arrays = dict(archive)
    arrays["fit_transmat_"] = np.full((3, 3), 0.9)
    io.write_archive(tmp_path / "bad.npz", "GaussianHMM", meta, arrays)
    with pytest.raises(ValueError, match="not a valid gmmx model file.*transmat_"):
        gmmx.load(tmp_path / "bad.npz")
