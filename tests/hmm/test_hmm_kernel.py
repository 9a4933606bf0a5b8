"""The forward-backward / filtering / Viterbi kernel (gmmx._kernels._hmm) against
brute-force log-space recursions."""

import numpy as np
import pytest
from conftest import brute_force_hmm

from gmmx._kernels import _hmm

EMPTY = np.empty(0)


def chain(rng, k, sticky=0.9):
    startprob = rng.dirichlet(np.ones(k))
    transmat = rng.dirichlet(np.ones(k), size=k) * (1 - sticky) + sticky * np.eye(k)
    return startprob, transmat


def run_fb(lp, bounds, startprob, transmat, w=EMPTY, n_threads=2, force_log=False):
    gamma = np.empty_like(lp)
    logprob = np.empty(bounds.size - 1)
    xi, status, bad = _hmm.forward_backward(lp, w, bounds, startprob, transmat, gamma, logprob,
                                            n_threads, True, force_log)
    assert status == _hmm.STATUS_OK and bad == -1
    return gamma, logprob, xi


def brute_sequences(lp, bounds, startprob, transmat, w=None):
    out = [brute_force_hmm(lp[a:b], startprob, transmat, None if w is None else w[a:b])
           for a, b in zip(bounds[:-1], bounds[1:]) if b > a]
    return (np.array([o[0] for o in out]), np.vstack([o[1] for o in out]),
            sum(o[2] for o in out), np.vstack([o[3] for o in out]))


@pytest.mark.parametrize("k", [1, 2, 3, 9])
@pytest.mark.parametrize("force_log", [False, True])
def test_forward_backward_matches_brute_force(rng, k, force_log):
    lp = rng.normal(scale=3.0, size=(700, k))
    w = rng.uniform(0.0, 2.0, 700)
    bounds = np.array([0, 1, 300, 300, 700], dtype=np.intp)   # a 1-row and an empty sequence
    startprob, transmat = chain(rng, k)
    gamma, logprob, xi = run_fb(lp, bounds, startprob, transmat, w, force_log=force_log)
    ll, g, x, _ = brute_sequences(lp, bounds, startprob, transmat, w)
    np.testing.assert_allclose(logprob[[0, 1, 3]], ll, rtol=1e-12)
    assert logprob[2] == 0.0
    np.testing.assert_allclose(gamma, g, atol=1e-10)
    np.testing.assert_allclose(xi, x, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(gamma.sum(axis=1), 1.0, rtol=1e-12)


def test_forward_filters_like_brute_force(rng):
    lp = rng.normal(scale=3.0, size=(500, 3))
    bounds = np.array([0, 200, 500], dtype=np.intp)
    startprob, transmat = chain(rng, 3)
    for force_log in (False, True):
        alpha = np.empty_like(lp)
        logprob = np.empty(2)
        assert _hmm.forward(lp, EMPTY, bounds, startprob, transmat, alpha, logprob, 2,
                            force_log) == (0, -1)
        ll, _, _, filt = brute_sequences(lp, bounds, startprob, transmat)
        np.testing.assert_allclose(alpha, filt, atol=1e-12)
        np.testing.assert_allclose(logprob, ll, rtol=1e-12)


def test_results_do_not_depend_on_the_thread_count(rng):
    lp = rng.normal(scale=2.0, size=(3000, 4))
    bounds = np.r_[0, np.sort(rng.choice(np.arange(1, 3000), 40, replace=False)), 3000]
    bounds = bounds.astype(np.intp)
    startprob, transmat = chain(rng, 4)
    ref = run_fb(lp, bounds, startprob, transmat, n_threads=1)
    for n_threads in (2, 3, 8):
        out = run_fb(lp, bounds, startprob, transmat, n_threads=n_threads)
        for a, b in zip(ref, out):
            np.testing.assert_array_equal(a, b)


def test_a_million_row_sequence_does_not_underflow(rng):
    n = 1_000_000
    lp = -0.5 * rng.normal(size=(n, 2)) ** 2 - 20.0   # every row's density is tiny
    startprob, transmat = chain(rng, 2)
    bounds = np.array([0, n], dtype=np.intp)
    gamma, logprob, xi = run_fb(lp, bounds, startprob, transmat, n_threads=1)
    assert np.isfinite(logprob[0]) and logprob[0] < -2e7
    np.testing.assert_allclose(gamma.sum(axis=1), 1.0, rtol=1e-12)
    np.testing.assert_allclose(xi.sum(), n - 1, rtol=1e-9)
    # against the log-space recursion on a slice of the same chain
    part = np.array([0, 2000], dtype=np.intp)
    ll, g, x, _ = brute_force_hmm(lp[:2000], startprob, transmat)
    g2, l2, x2 = run_fb(np.ascontiguousarray(lp[:2000]), part, startprob, transmat)
    np.testing.assert_allclose(l2[0], ll, rtol=1e-13)
    np.testing.assert_allclose(g2, g, atol=1e-10)


def test_forbidden_transitions_fall_back_to_log_space():
    # State 1 can never be reached, yet rows 20..39 favour it by e^1000: the scaled
    # recursion's normaliser would underflow there, so the sequence is redone in log
    # space (bit-identical to force_log) and agrees with the brute force.
    n = 60
    lp = np.zeros((n, 2))
    lp[20:40, 0] = -1000.0
    startprob = np.array([1.0, 0.0])
    transmat = np.array([[1.0, 0.0], [0.5, 0.5]])
    bounds = np.array([0, n], dtype=np.intp)
    fallback = run_fb(lp, bounds, startprob, transmat)
    forced = run_fb(lp, bounds, startprob, transmat, force_log=True)
    for a, b in zip(fallback, forced):
        np.testing.assert_array_equal(a, b)
    ll, g, x, _ = brute_force_hmm(lp, startprob, transmat)
    np.testing.assert_allclose(fallback[1][0], ll, rtol=1e-12)
    np.testing.assert_allclose(fallback[0], g, atol=1e-12)
    np.testing.assert_allclose(fallback[2], x, atol=1e-9)
    # the other sequences of the call keep the scaled recursion
    lp2 = np.vstack([lp, np.zeros((5, 2))])
    both = run_fb(lp2, np.array([0, n, n + 5], dtype=np.intp), startprob, transmat)
    np.testing.assert_array_equal(both[0][:n], fallback[0])


def test_non_finite_log_densities_are_reported_by_row(rng):
    lp = rng.normal(size=(50, 2))
    lp[37, 1] = np.nan
    gamma, logprob = np.empty_like(lp), np.empty(2)
    _, status, bad = _hmm.forward_backward(lp, EMPTY, np.array([0, 20, 50], dtype=np.intp),
                                           np.array([0.5, 0.5]), np.eye(2), gamma, logprob, 2)
    assert status == _hmm.STATUS_NONFINITE and bad == 37


def test_bad_shapes_raise_instead_of_crashing(rng):
    lp = rng.normal(size=(10, 2))
    out, lpr = np.empty_like(lp), np.empty(1)
    sp, A = np.array([0.5, 0.5]), np.full((2, 2), 0.5)
    with pytest.raises(ValueError, match="bounds"):
        _hmm.forward_backward(lp, EMPTY, np.array([0, 9], dtype=np.intp), sp, A, out, lpr, 1)
    with pytest.raises(ValueError, match="non-decreasing"):
        _hmm.forward_backward(lp, EMPTY, np.array([0, 7, 3, 10], dtype=np.intp), sp, A, out,
                              np.empty(3), 1)
    with pytest.raises(ValueError, match="transmat"):
        _hmm.forward(lp, EMPTY, np.array([0, 10], dtype=np.intp), sp, np.eye(3), out, lpr, 1)
    with pytest.raises(ValueError, match="shape of lp"):
        _hmm.forward(lp, EMPTY, np.array([0, 10], dtype=np.intp), sp, A, out[:5], lpr, 1)


def test_viterbi_matches_hmmlearn_including_ties(rng):
    hmmc = pytest.importorskip("hmmlearn._hmmc")
    startprob, transmat = chain(rng, 3)
    lp = rng.normal(scale=2.0, size=(400, 3))
    lp[100:120] = 0.0                                   # ties in the lattice
    tie_trans = np.full((3, 3), 1 / 3)
    for A in (transmat, tie_trans):
        bounds = np.array([0, 150, 400], dtype=np.intp)
        states, logprob = np.empty(400, dtype=np.intp), np.empty(2)
        assert _hmm.viterbi(lp, bounds, startprob, A, states, logprob, 2) == (0, -1)
        for s, (a, b) in enumerate(zip(bounds[:-1], bounds[1:])):
            ref_lp, ref_states = hmmc.viterbi(startprob, A, lp[a:b])
            np.testing.assert_array_equal(states[a:b], ref_states)
            assert logprob[s] == pytest.approx(ref_lp, rel=1e-14)


def test_sample_states_draws_by_inverse_cdf(rng):
    startprob = np.array([0.2, 0.5, 0.3])
    transmat = np.array([[0.9, 0.1, 0.0], [0.0, 0.5, 0.5], [0.3, 0.0, 0.7]])
    u = rng.random(20000)
    states = _hmm.sample_states(startprob, transmat, u)
    expect = [int((np.cumsum(startprob) > u[0]).argmax())]
    for t in range(1, 200):
        expect.append(int((np.cumsum(transmat[expect[-1]]) > u[t]).argmax()))
    np.testing.assert_array_equal(states[:200], expect)
    counts = np.zeros((3, 3))
    np.add.at(counts, (states[:-1], states[1:]), 1)
    np.testing.assert_allclose(counts / counts.sum(1, keepdims=True), transmat, atol=0.03)
    assert _hmm.sample_states(startprob, transmat, u[:5], 2)[0] == 2
