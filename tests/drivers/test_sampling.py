"""The reservoir sample that initialises out-of-core fits."""

import numpy as np

from gmmx.streaming import Reservoir


def test_reservoir_bounded_and_weighted():
    rng = np.random.default_rng(0)
    X = np.arange(10_000, dtype=np.float64).reshape(-1, 1)
    # fits: exactly all rows, weights kept
    r = Reservoir(20_000, seed=1)
    w = rng.uniform(0, 1, len(X))
    for s in range(0, len(X), 999):
        r.add(X[s:s + 999], w[s:s + 999], start=s)
    Xs, ws = r.result()
    np.testing.assert_array_equal(Xs, X)
    np.testing.assert_array_equal(ws, w)
    # overflow: capacity rows, in source order, zero-weight rows never drawn
    w = np.where(np.arange(len(X)) % 2 == 0, 0.0, 1.0)
    r = Reservoir(1000, seed=2)
    for s in range(0, len(X), 777):
        r.add(X[s:s + 777], w[s:s + 777], start=s)
    Xs, ws = r.result()
    assert Xs.shape == (1000, 1) and ws is None
    assert np.all(Xs[:, 0] % 2 == 1)
    assert np.all(np.diff(Xs[:, 0]) > 0)
    # uniform: the sample mean is close to the population mean
    r = Reservoir(2000, seed=3)
    for s in range(0, len(X), 500):
        r.add(X[s:s + 500], None, start=s)
    Xs, _ = r.result()
    assert abs(Xs.mean() - X.mean()) < 4 * X.std() / np.sqrt(2000)
    # merging two reservoirs equals a bounded sample of the union
    a, b = Reservoir(300, seed=4), Reservoir(300, seed=5)
    a.add(X[:200], None, 0)
    b.add(X[200:400], None, 200)
    Xm, _ = a.merge(b).result()
    assert Xm.shape == (300, 1) and len(np.unique(Xm)) == 300


def test_reservoir_key_slices_do_not_change_the_sample(monkeypatch):
    import gmmx.drivers.sampling as st

    X = np.random.default_rng(0).normal(size=(5000, 2))
    w = np.random.default_rng(1).uniform(0, 1, 5000)

    def sample():
        r = Reservoir(300, seed=9)
        for s in range(0, 5000, 2500):
            r.add(X[s:s + 2500], w[s:s + 2500], start=s)
        return r.result()[0]

    whole = sample()
    monkeypatch.setattr(st, "_KEY_BLOCK", 128)
    np.testing.assert_array_equal(sample(), whole)
